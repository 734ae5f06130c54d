//! The test environment: a fresh database, both mocks in this process, and helpers that run
//! the real binaries.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use ztoq_cli::mock::{DEMO_QTEST_TOKEN, DEMO_ZEPHYR_TOKEN, RunningMock, start_qtest, start_zephyr};
use ztoq_mock::faults::FaultConfig;
use ztoq_mock::qtest::{QtestMockConfig, QtestState};
use ztoq_mock::zephyr::{ZephyrMockConfig, ZephyrState};
use ztoq_pgtemp::testdb::TestDb;

/// Database, mocks, and the commands a user would run.
pub struct Env {
    pub db: TestDb,
    pub zephyr: RunningMock,
    pub zephyr_state: Arc<ZephyrState>,
    pub qtest: RunningMock,
    pub qtest_state: Arc<QtestState>,
    pub project_key: String,
}

impl Env {
    pub async fn new(scale: u64, seed: u64) -> Env {
        let db = TestDb::new().await;
        let project_key = "E2E".to_string();
        let (zephyr, zephyr_state) = start_zephyr(
            "127.0.0.1:0".parse().unwrap(),
            ZephyrMockConfig {
                seed,
                scale,
                project_key: project_key.clone(),
                token: DEMO_ZEPHYR_TOKEN.into(),
                base_url: None,
            },
            FaultConfig::default(),
        )
        .await
        .unwrap();
        let (qtest, qtest_state) = start_qtest(
            "127.0.0.1:0".parse().unwrap(),
            QtestMockConfig {
                token: DEMO_QTEST_TOKEN.into(),
                ..QtestMockConfig::default()
            },
            FaultConfig::default(),
        )
        .await
        .unwrap();
        Env {
            db,
            zephyr,
            zephyr_state,
            qtest,
            qtest_state,
            project_key,
        }
    }

    fn command(&self, bin: &str) -> std::process::Command {
        let mut c = std::process::Command::new(bin);
        c.env("ZTOQ_DATABASE_URL", &self.db.url)
            .env("ZTOQ_ZEPHYR_TOKEN", DEMO_ZEPHYR_TOKEN)
            .env("ZTOQ_QTEST_TOKEN", DEMO_QTEST_TOKEN)
            .env("ZTOQ_LOG", "warn")
            .stdin(Stdio::null());
        c
    }

    /// Runs `ztoq-enqueue`; returns the run id it printed.
    pub fn enqueue(&self) -> i64 {
        let out = self
            .command(env!("CARGO_BIN_EXE_ztoq-enqueue"))
            .args([
                "--zephyr-url",
                &format!("{}/v2", self.zephyr.url()),
                "--project-key",
                &self.project_key,
            ])
            .args(["--qtest-url", &self.qtest.url(), "--qtest-project-id", "1"])
            .output()
            .expect("run ztoq-enqueue");
        assert!(
            out.status.success(),
            "ztoq-enqueue failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a run id on stdout")
    }

    /// Starts `n` worker processes.
    pub fn workers(&self, n: usize, extra: &[&str]) -> Workers {
        let children = (0..n)
            .map(|i| {
                self.command(env!("CARGO_BIN_EXE_ztoq-worker"))
                    .args([
                        "--concurrency",
                        "8",
                        "--poll-ms",
                        "50",
                        "--backoff-ms",
                        "50",
                        "--backoff-max-secs",
                        "1",
                        "--name",
                        &format!("e2e-{i}"),
                    ])
                    .args(extra)
                    .stdout(Stdio::null())
                    .spawn()
                    .expect("start ztoq-worker")
            })
            .collect();
        Workers(children)
    }

    /// Runs `ztoq <args> --json` and parses its output.
    pub fn ztoq_json(&self, args: &[&str]) -> (bool, serde_json::Value) {
        let out = self
            .command(env!("CARGO_BIN_EXE_ztoq"))
            .args(args)
            .arg("--json")
            .output()
            .expect("run ztoq");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "ztoq {args:?} printed no JSON ({e}): {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.success(), value)
    }

    /// Waits until no record of the run is waiting or ready.
    pub fn wait_settled(&self, run: i64, timeout: Duration) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let (_, status) = self.ztoq_json(&["status", "--run", &run.to_string()]);
            if status["finished"] == serde_json::json!(true) {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "run {run} did not settle: {status}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    pub fn verify(&self, run: i64) -> (bool, serde_json::Value) {
        self.ztoq_json(&["verify", "--run", &run.to_string()])
    }
}

/// Worker processes, stopped with SIGTERM when dropped.
pub struct Workers(pub Vec<std::process::Child>);

impl Workers {
    /// SIGTERM, then wait; asserts they exit 0.
    pub fn stop(mut self) {
        for c in &self.0 {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
        }
        for c in &mut self.0 {
            let status = c.wait().expect("wait for worker");
            assert!(status.success(), "a worker exited with {status}");
        }
        self.0.clear();
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Every record kind, as the JSON reports name them.
pub const KINDS: [&str; 6] = [
    "folder",
    "cycle_folder",
    "test_case",
    "test_cycle",
    "execution",
    "attachment",
];

/// Counts of a kind from a status or verify JSON.
pub fn kind(v: &serde_json::Value, kind: &str, field: &str) -> u64 {
    v["kinds"][kind][field]
        .as_u64()
        .unwrap_or_else(|| panic!("no {kind}.{field} in {v}"))
}
