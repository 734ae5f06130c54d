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
        Env::with(TestDb::new().await, scale, seed, demo_qtest()).await
    }

    /// An environment on `db` whose qTest mock has `qtest`'s settings (the commands get its
    /// token).
    pub async fn with(db: TestDb, scale: u64, seed: u64, qtest: QtestMockConfig) -> Env {
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
            qtest,
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
            .env("ZTOQ_QTEST_TOKEN", &self.qtest_state.config().token)
            .env("ZTOQ_LOG", "warn")
            .stdin(Stdio::null());
        c
    }

    /// Runs `ztoq-enqueue`; returns the run id it printed.
    pub fn enqueue(&self) -> i64 {
        parse_run_id(&self.enqueue_with(&[]))
    }

    /// Runs `ztoq-enqueue` with the environment overridden by `envs` (see [`Env::worker`]);
    /// returns its output, whatever its exit status.
    pub fn enqueue_with(&self, envs: &[(&str, &str)]) -> std::process::Output {
        let mut c = self.command(env!("CARGO_BIN_EXE_ztoq-enqueue"));
        c.args([
            "--zephyr-url",
            &format!("{}/v2", self.zephyr.url()),
            "--project-key",
            &self.project_key,
        ])
        .args(["--qtest-url", &self.qtest.url(), "--qtest-project-id", "1"]);
        override_env(&mut c, envs);
        c.output().expect("run ztoq-enqueue")
    }

    /// Runs `ztoq <args>` with the environment overridden by `envs`; returns its output.
    pub fn ztoq(&self, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
        let mut c = self.command(env!("CARGO_BIN_EXE_ztoq"));
        c.args(args);
        override_env(&mut c, envs);
        c.output().expect("run ztoq")
    }

    /// Starts `n` worker processes.
    pub fn workers(&self, n: usize, extra: &[&str]) -> Workers {
        let children = (0..n)
            .map(|i| self.worker(&format!("e2e-{i}"), extra, &[], Stdio::inherit()))
            .collect();
        Workers(children)
    }

    /// Starts one worker process named `name` with the tests' usual flags plus `extra`, the
    /// environment overridden by `envs` (an empty value removes a variable), and its log
    /// (stderr) sent to `log`.
    pub fn worker(
        &self,
        name: &str,
        extra: &[&str],
        envs: &[(&str, &str)],
        log: Stdio,
    ) -> std::process::Child {
        let mut c = self.command(env!("CARGO_BIN_EXE_ztoq-worker"));
        c.args([
            "--concurrency",
            "8",
            "--poll-ms",
            "50",
            "--backoff-ms",
            "50",
            "--backoff-max-secs",
            "1",
            "--name",
            name,
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(log);
        override_env(&mut c, envs);
        c.spawn().expect("start ztoq-worker")
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

    /// A qTest client of the mock's project (1), with the mock's token: for tests that look
    /// at, or tamper with, what qTest holds.
    pub async fn qtest_client(&self) -> ztoq_qtest::QtestClient {
        ztoq_qtest::QtestClient::connect(
            &self.qtest.url(),
            1,
            ztoq_qtest::QtestAuth::Token(ztoq_qtest::Secret::new(&self.qtest_state.config().token)),
            &ztoq_qtest::ClientOptions::default(),
        )
        .await
        .expect("connect to the qTest mock")
    }

    pub fn verify(&self, run: i64) -> (bool, serde_json::Value) {
        self.ztoq_json(&["verify", "--run", &run.to_string()])
    }
}

/// The run id a successful `ztoq-enqueue` printed.
pub fn parse_run_id(out: &std::process::Output) -> i64 {
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

/// Sets each `(name, value)` of `envs` on `c`; an empty value removes the variable.
fn override_env(c: &mut std::process::Command, envs: &[(&str, &str)]) {
    for (k, v) in envs {
        if v.is_empty() {
            c.env_remove(k);
        } else {
            c.env(k, v);
        }
    }
}

/// Mock faults that only slow every request down by `ms`.
pub fn latency(ms: u64) -> FaultConfig {
    FaultConfig {
        latency_ms: ms,
        ..FaultConfig::default()
    }
}

/// Records of `run` in `state`.
pub async fn records_in_state(pool: &sqlx::PgPool, run: i64, state: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM records WHERE run_id = $1 AND state = $2")
        .bind(run)
        .bind(state)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The qTest mock settings of [`Env::new`]: the demo token.
pub fn demo_qtest() -> QtestMockConfig {
    QtestMockConfig {
        token: DEMO_QTEST_TOKEN.into(),
        ..QtestMockConfig::default()
    }
}

/// A fresh directory under the system temp dir, for logs a test reads back.
pub fn tempdir(what: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("ztoq-e2e-{what}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Sends SIGTERM to a child process.
pub fn sigterm(child: &std::process::Child) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM {}", child.id());
}

/// Waits for a child to exit, at most `timeout`; returns its status and how long it took.
pub async fn wait_exit(
    child: &mut std::process::Child,
    timeout: Duration,
) -> (std::process::ExitStatus, Duration) {
    let id = child.id();
    try_wait_exit(child, timeout)
        .await
        .unwrap_or_else(|| panic!("process {id} still running after {timeout:?}"))
}

/// Waits for a child to exit, at most `timeout`: its status and how long it took, or `None`
/// when it is still running (so the caller can show what it logged).
pub async fn try_wait_exit(
    child: &mut std::process::Child,
    timeout: Duration,
) -> Option<(std::process::ExitStatus, Duration)> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for a child") {
            return Some((status, started.elapsed()));
        }
        if started.elapsed() >= timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Worker processes, stopped with SIGTERM when dropped.
pub struct Workers(pub Vec<std::process::Child>);

impl Workers {
    /// SIGTERM, then wait; asserts they exit 0.
    pub fn stop(mut self) {
        for c in &self.0 {
            sigterm(c);
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

/// Asserts the end state every reliable run must reach: every record of `run` done, the
/// verification OK with each copy equal to the transform of its source and exactly one copy
/// each in qTest (verify's reading back), and the qTest mock's own counts equal to the source.
pub async fn assert_migrated_exactly_once(env: &Env, run: i64) {
    let (ok, report) = env.verify(run);
    assert!(ok, "verification failed: {report}");
    for k in KINDS {
        let migrated = kind(&report, k, "migrated");
        assert_eq!(
            migrated,
            kind(&report, k, "source"),
            "{k}: every record migrated"
        );
        assert_eq!(
            kind(&report, k, "verified"),
            migrated,
            "{k}: every copy equal to the transform of its source"
        );
        assert_eq!(
            kind(&report, k, "in_qtest"),
            migrated,
            "{k}: exactly one copy each"
        );
    }
    assert_eq!(report["mismatches"].as_array().map(|m| m.len()), Some(0));

    // What the qTest mock holds, counted by the mock itself.
    let source = env.zephyr_state.summary();
    let held = env.qtest_state.summary();
    assert_eq!(held.test_cases, source.test_cases, "test cases in qTest");
    assert_eq!(
        held.test_logs + unexecuted(env, run).await,
        source.executions,
        "test logs in qTest"
    );
    assert_eq!(
        held.attachments,
        source.test_case_attachments + source.execution_attachments,
        "attachments in qTest"
    );
    assert_eq!(
        held.test_step_logs,
        logged_step_results(env, run).await,
        "step logs in qTest"
    );
}

/// Executions that never ran (no actualEndDate): they get a test run and no log.
async fn unexecuted(env: &Env, run: i64) -> u64 {
    let pool = env.db.pool().await;
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM src_test_executions WHERE run_id = $1 AND actual_end_date IS NULL",
    )
    .bind(run)
    .fetch_one(&pool)
    .await
    .unwrap();
    n as u64
}

/// Step results that must appear as step logs: those of executed executions whose step is
/// kept in qTest (non-empty steps).
async fn logged_step_results(env: &Env, run: i64) -> u64 {
    let pool = env.db.pool().await;
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM records e
         JOIN src_test_executions x ON x.run_id = e.run_id AND x.id = e.source_id
         JOIN src_execution_steps s ON s.run_id = e.run_id AND s.execution_id = e.source_id
         JOIN src_test_cases c ON c.run_id = e.run_id AND c.key = x.test_case_key
         JOIN records cr ON cr.run_id = e.run_id AND cr.kind = 'test_case' AND cr.source_id = c.id
         WHERE e.run_id = $1 AND e.kind = 'execution' AND x.actual_end_date IS NOT NULL
           AND (cr.qtest_data->'step_ids'->>s.idx) IS NOT NULL",
    )
    .bind(run)
    .fetch_one(&pool)
    .await
    .unwrap();
    n as u64
}

/// A free port on loopback for a worker's metrics endpoint.
pub fn metrics_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// The text of a worker's `/metrics` page.
pub async fn scrape(addr: &str) -> String {
    let client =
        ztoq_http::build_client(ztoq_http::Api::Qtest, &ztoq_http::ClientOptions::default())
            .unwrap();
    client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}
