//! `ztoq demo`: a whole migration on this machine with nothing set up. A throwaway Postgres
//! (unless `DATABASE_URL` is given), both mock APIs in this process, an enqueue, W worker
//! processes, a live progress bar, a verification report, and clean-up. Exits 0 only when
//! every record was migrated and verified.
//!
//! The set-up pieces ([`database`], [`Mocks`], [`spawn_workers`], [`progress`]) are shared
//! with `ztoq bench`.

use crate::args::DbArgs;
use crate::mock::{DEMO_QTEST_TOKEN, DEMO_ZEPHYR_TOKEN, RunningMock, start_qtest, start_zephyr};
use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use ztoq_crawl::EnqueueConfig;
use ztoq_http::{ClientOptions, Secret};
use ztoq_mock::faults::FaultConfig;
use ztoq_mock::qtest::QtestMockConfig;
use ztoq_mock::zephyr::{ZephyrMockConfig, ZephyrState};
use ztoq_qtest::QtestAuth;

/// `ztoq demo` flags.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// About how many records the generated project holds.
    #[arg(long, default_value_t = 2000)]
    pub records: u64,
    /// Worker processes.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Concurrency of each worker.
    #[arg(long, default_value_t = crate::commands::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Seed of the generated project.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Added latency of each mock request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of mock requests answered with an injected error (retried by ztoq).
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 900)]
    pub timeout_secs: u64,
    /// An existing database to use instead of a throwaway one.
    #[command(flatten)]
    pub db: DbArgs,
    /// Print the verification report as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Worker processes; [`Workers::stop`] stops them with SIGTERM (graceful) and waits, `Drop`
/// kills what is left.
pub struct Workers(pub Vec<tokio::process::Child>);

impl Workers {
    /// SIGTERM to each, then waits up to 40 s each (killing those that do not exit).
    pub async fn stop(&mut self) {
        for child in &self.0 {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
        }
        for child in &mut self.0 {
            if tokio::time::timeout(Duration::from_secs(40), child.wait())
                .await
                .is_err()
            {
                let _ = child.start_kill();
            }
        }
    }

    /// Process ids of the workers still running.
    pub fn pids(&self) -> Vec<u32> {
        self.0.iter().filter_map(|c| c.id()).collect()
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.start_kill();
        }
    }
}

/// The database of a demo or benchmark: `--database-url` (or the environment), else a
/// throwaway cluster sized for a whole run on this machine, which lives as long as the returned
/// handle.
pub async fn database(db: &DbArgs) -> Result<(String, Option<ztoq_pgtemp::TempPostgres>)> {
    match db.url() {
        Ok(url) => Ok((url, None)),
        Err(_) => {
            eprintln!("starting a throwaway Postgres …");
            let temp_pg = ztoq_pgtemp::TempPostgres::start_sized(ztoq_pgtemp::Size::Run)
                .await
                .context("starting a throwaway Postgres")?;
            Ok((temp_pg.url(), Some(temp_pg)))
        }
    }
}

/// Both mock APIs, running in this process, serving a generated project.
pub struct Mocks {
    /// The Zephyr mock.
    pub zephyr: RunningMock,
    /// Its state (the generated project).
    pub zephyr_state: Arc<ZephyrState>,
    /// The qTest mock.
    pub qtest: RunningMock,
    /// Zephyr project key.
    pub project_key: String,
    /// qTest project id.
    pub project_id: i64,
}

impl Mocks {
    /// Starts both mocks on free loopback ports: a Zephyr project of about `records` records
    /// (`seed`), an empty qTest project; prints where they listen.
    pub async fn start(
        records: u64,
        seed: u64,
        zephyr_faults: FaultConfig,
        qtest_faults: FaultConfig,
    ) -> Result<Mocks> {
        let project_key = "DEMO".to_string();
        let (zephyr, zephyr_state) = start_zephyr(
            "127.0.0.1:0".parse()?,
            ZephyrMockConfig {
                seed,
                scale: records,
                project_key: project_key.clone(),
                token: DEMO_ZEPHYR_TOKEN.into(),
                base_url: None,
            },
            zephyr_faults,
        )
        .await?;
        let qtest_config = QtestMockConfig {
            token: DEMO_QTEST_TOKEN.into(),
            ..QtestMockConfig::default()
        };
        let project_id = qtest_config.project_id;
        let (qtest, _qtest_state) =
            start_qtest("127.0.0.1:0".parse()?, qtest_config, qtest_faults).await?;
        eprintln!(
            "mock Zephyr at {}/v2 ({:?})",
            zephyr.url(),
            zephyr_state.summary()
        );
        eprintln!("mock qTest at {}", qtest.url());
        Ok(Mocks {
            zephyr,
            zephyr_state,
            qtest,
            project_key,
            project_id,
        })
    }

    /// The enqueue settings for the mocks' project.
    pub fn enqueue_config(&self) -> EnqueueConfig {
        EnqueueConfig {
            zephyr_url: format!("{}/v2", self.zephyr.url()),
            zephyr_token: Secret::new(DEMO_ZEPHYR_TOKEN),
            project_key: self.project_key.clone(),
            qtest_url: self.qtest.url(),
            qtest_auth: QtestAuth::Token(Secret::new(DEMO_QTEST_TOKEN)),
            qtest_project_id: self.project_id,
            page_size: 1000,
            http: ClientOptions::default(),
        }
    }
}

/// A program installed next to the running one (`ztoq-worker`, `ztoq-enqueue`).
pub fn sibling_exe(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe.with_file_name(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        bail!(
            "{} not found: build all binaries (cargo build --release)",
            path.display()
        );
    }
    Ok(path)
}

/// Starts `count` `ztoq-worker` processes on `database_url` with the mocks' tokens, named
/// `{name}-{i}`, each logging to `log_dir/worker-{i}.log`; `extra(i)` adds flags.
pub fn spawn_workers(
    worker_exe: &Path,
    count: usize,
    concurrency: usize,
    name: &str,
    database_url: &str,
    log_dir: &Path,
    extra: impl Fn(usize) -> Vec<String>,
) -> Result<Workers> {
    let mut workers = Workers(Vec::new());
    for i in 0..count {
        let log = std::fs::File::create(log_dir.join(format!("worker-{i}.log")))?;
        let child = tokio::process::Command::new(worker_exe)
            .arg("--concurrency")
            .arg(concurrency.to_string())
            .arg("--name")
            .arg(format!("{name}-{i}"))
            .args(extra(i))
            .env("ZTOQ_DATABASE_URL", database_url)
            .env("ZTOQ_ZEPHYR_TOKEN", DEMO_ZEPHYR_TOKEN)
            .env("ZTOQ_QTEST_TOKEN", DEMO_QTEST_TOKEN)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", worker_exe.display()))?;
        workers.0.push(child);
    }
    Ok(workers)
}

/// Runs the demo; returns whether everything was migrated and verified.
pub async fn run(args: DemoArgs) -> Result<bool> {
    let started = Instant::now();
    let (database_url, _temp_pg) = database(&args.db).await?;
    let faults = FaultConfig {
        latency_ms: args.latency_ms,
        fault_rate: args.fault_rate,
        ..FaultConfig::default()
    };
    let mocks = Mocks::start(args.records, args.seed, faults.clone(), faults).await?;

    let pool = ztoq_store::connect(&database_url, 8)
        .await
        .context("connecting to Postgres")?;
    ztoq_store::migrate(&pool)
        .await
        .context("migrating the database")?;
    let enqueue = mocks.enqueue_config();
    let report = ztoq_crawl::enqueue(&enqueue, &pool).await?;
    let run_id = report.run_id;
    eprintln!(
        "enqueued run {run_id}: {} records in {:.1}s",
        report.inserted.values().sum::<u64>(),
        report.elapsed_secs
    );

    let worker_exe = sibling_exe("ztoq-worker")?;
    let log_dir = std::env::temp_dir().join(format!("ztoq-demo-{}", std::process::id()));
    std::fs::create_dir_all(&log_dir)?;
    let mut workers = spawn_workers(
        &worker_exe,
        args.workers,
        args.concurrency,
        "demo",
        &database_url,
        &log_dir,
        |_| Vec::new(),
    )?;
    eprintln!(
        "{} workers started (logs in {})",
        args.workers,
        log_dir.display()
    );

    let finished = progress(
        &pool,
        run_id,
        Duration::from_secs(args.timeout_secs),
        Duration::from_millis(250),
        &mut workers,
    )
    .await?;
    workers.stop().await;
    let elapsed = started.elapsed().as_secs_f64();
    let report = ztoq_verify::verify(
        &pool,
        QtestAuth::Token(Secret::new(DEMO_QTEST_TOKEN)),
        &ClientOptions::default(),
        run_id,
        None,
    )
    .await?;
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert("elapsed_secs".into(), serde_json::json!(elapsed));
            obj.insert("finished".into(), serde_json::json!(finished));
        }
        println!("{value}");
    } else {
        report.print();
        println!("elapsed {elapsed:.1}s");
    }
    pool.close().await;
    drop(mocks);
    if report.ok {
        let _ = std::fs::remove_dir_all(&log_dir);
    } else {
        eprintln!("worker logs kept in {}", log_dir.display());
    }
    Ok(report.ok && finished)
}

/// Shows progress (on stderr) until every record is settled, polling every `poll`; false on
/// time-out or when all workers died.
///
/// Counting reads every record of the run (a quarter of a second at 500k records, more than
/// the workers' own per-record cost when done every second), so the counts for the display
/// are refreshed only once 20 times the last count's duration has passed (at most 5 % of a
/// core); every poll in between asks only whether anything is left (an index probe).
pub async fn progress(
    pool: &sqlx::PgPool,
    run_id: i64,
    timeout: Duration,
    poll: Duration,
    workers: &mut Workers,
) -> Result<bool> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} records ({per_sec}) {msg}",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let deadline = Instant::now() + timeout;
    let mut counted = Instant::now();
    // Zero: the first poll counts.
    let mut count_cost = Duration::ZERO;
    loop {
        let mut conn = pool.acquire().await?;
        let mut left = ztoq_store::report::unsettled(&mut conn, run_id).await?;
        if !left || counted.elapsed() >= count_cost * 20 {
            let started = Instant::now();
            let counts = ztoq_store::report::counts(&mut conn, run_id).await?;
            count_cost = started.elapsed();
            let t = ztoq_store::report::total(&counts);
            bar.set_length(t.source);
            bar.set_position(t.settled());
            bar.set_message(format!("failed {} blocked {}", t.failed, t.blocked));
            left = t.waiting + t.ready > 0;
            counted = Instant::now();
        }
        drop(conn);
        if !left {
            bar.finish();
            return Ok(true);
        }
        let alive = workers
            .0
            .iter_mut()
            .map(|c| c.try_wait())
            .filter(|w| matches!(w, Ok(None)))
            .count();
        if alive == 0 {
            bar.abandon_with_message("every worker exited");
            return Ok(false);
        }
        if Instant::now() > deadline {
            bar.abandon_with_message("timed out");
            return Ok(false);
        }
        tokio::time::sleep(poll).await;
    }
}
