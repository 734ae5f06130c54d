//! `ztoq demo`: a whole migration on this machine with nothing set up. A throwaway Postgres
//! (unless `DATABASE_URL` is given), both mock APIs in this process, an enqueue, W worker
//! processes, a live progress bar, a verification report, and clean-up. Exits 0 only when
//! every record was migrated and verified.

use crate::args::DbArgs;
use crate::mock::{DEMO_QTEST_TOKEN, DEMO_ZEPHYR_TOKEN, start_qtest, start_zephyr};
use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::process::Stdio;
use std::time::{Duration, Instant};
use ztoq_crawl::EnqueueConfig;
use ztoq_http::{ClientOptions, Secret};
use ztoq_mock::faults::FaultConfig;
use ztoq_mock::qtest::QtestMockConfig;
use ztoq_mock::zephyr::ZephyrMockConfig;
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
    #[arg(long, default_value_t = 16)]
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

/// Stops worker processes with SIGTERM (graceful), then waits for them.
struct Workers(Vec<tokio::process::Child>);

impl Workers {
    async fn stop(&mut self) {
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
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.start_kill();
        }
    }
}

/// Runs the demo; returns whether everything was migrated and verified.
pub async fn run(args: DemoArgs) -> Result<bool> {
    let started = Instant::now();
    let temp_pg;
    let database_url = match args.db.url() {
        Ok(url) => url,
        Err(_) => {
            eprintln!("starting a throwaway Postgres …");
            temp_pg = ztoq_pgtemp::TempPostgres::start()
                .await
                .context("starting a throwaway Postgres")?;
            temp_pg.url()
        }
    };
    let faults = FaultConfig {
        latency_ms: args.latency_ms,
        fault_rate: args.fault_rate,
        ..FaultConfig::default()
    };
    let project_key = "DEMO".to_string();
    let (zephyr, zephyr_state) = start_zephyr(
        "127.0.0.1:0".parse()?,
        ZephyrMockConfig {
            seed: args.seed,
            scale: args.records,
            project_key: project_key.clone(),
            token: DEMO_ZEPHYR_TOKEN.into(),
            base_url: None,
        },
        faults.clone(),
    )
    .await?;
    let qtest_config = QtestMockConfig {
        token: DEMO_QTEST_TOKEN.into(),
        ..QtestMockConfig::default()
    };
    let project_id = qtest_config.project_id;
    let (qtest, _qtest_state) = start_qtest("127.0.0.1:0".parse()?, qtest_config, faults).await?;
    eprintln!(
        "mock Zephyr at {}/v2 ({:?})",
        zephyr.url(),
        zephyr_state.summary()
    );
    eprintln!("mock qTest at {}", qtest.url());

    let pool = ztoq_store::connect(&database_url, 8)
        .await
        .context("connecting to Postgres")?;
    ztoq_store::migrate(&pool)
        .await
        .context("migrating the database")?;
    let enqueue = EnqueueConfig {
        zephyr_url: format!("{}/v2", zephyr.url()),
        zephyr_token: Secret::new(DEMO_ZEPHYR_TOKEN),
        project_key,
        qtest_url: qtest.url(),
        qtest_auth: QtestAuth::Token(Secret::new(DEMO_QTEST_TOKEN)),
        qtest_project_id: project_id,
        page_size: 1000,
        http: ClientOptions::default(),
    };
    let report = ztoq_crawl::enqueue(&enqueue, &pool).await?;
    let run_id = report.run_id;
    eprintln!(
        "enqueued run {run_id}: {} records in {:.1}s",
        report.inserted.values().sum::<u64>(),
        report.elapsed_secs
    );

    let exe = std::env::current_exe()?;
    let worker_exe = exe.with_file_name(format!("ztoq-worker{}", std::env::consts::EXE_SUFFIX));
    if !worker_exe.exists() {
        bail!(
            "{} not found: build all binaries (cargo build --release)",
            worker_exe.display()
        );
    }
    let log_dir = std::env::temp_dir().join(format!("ztoq-demo-{}", std::process::id()));
    std::fs::create_dir_all(&log_dir)?;
    let mut workers = Workers(Vec::new());
    for i in 0..args.workers {
        let log = std::fs::File::create(log_dir.join(format!("worker-{i}.log")))?;
        let child = tokio::process::Command::new(&worker_exe)
            .arg("--concurrency")
            .arg(args.concurrency.to_string())
            .arg("--name")
            .arg(format!("demo-{i}"))
            .env("ZTOQ_DATABASE_URL", &database_url)
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
    eprintln!(
        "{} workers started (logs in {})",
        args.workers,
        log_dir.display()
    );

    let finished = progress(
        &pool,
        run_id,
        Duration::from_secs(args.timeout_secs),
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
    drop(zephyr);
    drop(qtest);
    if report.ok {
        let _ = std::fs::remove_dir_all(&log_dir);
    } else {
        eprintln!("worker logs kept in {}", log_dir.display());
    }
    Ok(report.ok && finished)
}

/// Shows progress until every record is settled; false on time-out or when all workers died.
async fn progress(
    pool: &sqlx::PgPool,
    run_id: i64,
    timeout: Duration,
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
    loop {
        let mut conn = pool.acquire().await?;
        let counts = ztoq_store::report::counts(&mut conn, run_id).await?;
        drop(conn);
        let t = ztoq_store::report::total(&counts);
        bar.set_length(t.source);
        bar.set_position(t.settled());
        bar.set_message(format!("failed {} blocked {}", t.failed, t.blocked));
        if t.waiting == 0 && t.ready == 0 {
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
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
