//! The operator commands: enqueue, worker, status, failures, retry and verify. Each takes its
//! parsed flags and prints for people, or one JSON object with `--json`.

use crate::args::{DbArgs, HttpArgs, QtestAuthArgs, QtestRateArgs, ZephyrAuthArgs};
use anyhow::{Context, Result, bail};
use clap::Args;
use std::net::SocketAddr;
use std::time::Duration;
use ztoq_crawl::EnqueueConfig;
use ztoq_store::report::{self, KindCounts};
use ztoq_worker::WorkerConfig;
use ztoq_worker::retry::RetryPolicy;

/// Resolves when the process is asked to stop (SIGTERM or Ctrl-C).
pub async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Opens the database and brings its schema up to date.
pub async fn open_db(db: &DbArgs, max_connections: u32) -> Result<sqlx::PgPool> {
    let url = db.url()?;
    let pool = ztoq_store::connect(&url, max_connections)
        .await
        .context("connecting to Postgres")?;
    ztoq_store::migrate(&pool)
        .await
        .context("migrating the database")?;
    Ok(pool)
}

/// `ztoq-enqueue` flags.
#[derive(Debug, Args)]
pub struct EnqueueArgs {
    /// Database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Zephyr API base URL, e.g. https://api.zephyrscale.smartbear.com/v2.
    #[arg(long, env = "ZTOQ_ZEPHYR_URL")]
    pub zephyr_url: String,
    /// Zephyr project key.
    #[arg(long, env = "ZTOQ_PROJECT_KEY")]
    pub project_key: String,
    /// Zephyr credentials.
    #[command(flatten)]
    pub zephyr: ZephyrAuthArgs,
    /// qTest base URL, e.g. https://acme.qtestnet.com.
    #[arg(long, env = "ZTOQ_QTEST_URL")]
    pub qtest_url: String,
    /// qTest project id.
    #[arg(long, env = "ZTOQ_QTEST_PROJECT_ID")]
    pub qtest_project_id: i64,
    /// qTest credentials.
    #[command(flatten)]
    pub qtest: QtestAuthArgs,
    /// Items per Zephyr page (≤ 1000).
    #[arg(long, env = "ZTOQ_PAGE_SIZE", default_value_t = 1000)]
    pub page_size: u32,
    /// HTTP settings.
    #[command(flatten)]
    pub http: HttpArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

impl EnqueueArgs {
    /// The enqueue settings.
    pub fn config(&self) -> Result<EnqueueConfig> {
        Ok(EnqueueConfig {
            zephyr_url: self.zephyr_url.trim_end_matches('/').to_string(),
            zephyr_token: self.zephyr.token()?,
            project_key: self.project_key.clone(),
            qtest_url: self.qtest_url.trim_end_matches('/').to_string(),
            qtest_auth: self.qtest.auth()?,
            qtest_project_id: self.qtest_project_id,
            page_size: self.page_size,
            http: self.http.options(),
        })
    }
}

/// `ztoq-enqueue`: prints the run id on stdout (or the JSON report).
pub async fn enqueue(args: EnqueueArgs) -> Result<()> {
    let config = args.config()?;
    let pool = open_db(&args.db, 4).await?;
    let report = ztoq_crawl::enqueue(&config, &pool)
        .await
        .map_err(|e| match &e {
            ztoq_crawl::EnqueueError::Auth { source, .. } => anyhow::anyhow!(
                "{e}. Fix {} and run ztoq-enqueue again.",
                ztoq_http::credential_variables(source.api())
            ),
            _ => e.into(),
        })?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        eprintln!(
            "enqueued run {}: {} new records ({} ready, {} failed at enqueue) in {:.1}s",
            report.run_id,
            report.inserted.values().sum::<u64>(),
            report.ready,
            report.failed,
            report.elapsed_secs
        );
        println!("{}", report.run_id);
    }
    Ok(())
}

/// Records a worker processes at once, by default. The worker's Postgres work is batched over
/// the records in flight (`ztoq_worker` `batch`), so more in flight means larger batches and
/// less Postgres time per record: measured with `ztoq bench --records 50000 --workers 2`,
/// 16 -> 32 in flight took the run from 1,692 to 2,031 records/s; 64 gained nothing more.
pub const DEFAULT_CONCURRENCY: usize = 32;

/// Jobs a worker claims per fetch, by default: twice its concurrency, so that a fetch is not
/// needed each time a record finishes.
pub const DEFAULT_BATCH_SIZE: usize = 64;

/// `ztoq-worker` flags.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Database.
    #[command(flatten)]
    pub db: DbArgs,
    /// Zephyr credentials (the URL comes from each run).
    #[command(flatten)]
    pub zephyr: ZephyrAuthArgs,
    /// qTest credentials (the URL and project come from each run).
    #[command(flatten)]
    pub qtest: QtestAuthArgs,
    /// Records processed at once by this process.
    #[arg(long, env = "ZTOQ_CONCURRENCY", default_value_t = DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Jobs claimed per fetch.
    #[arg(long, env = "ZTOQ_BATCH_SIZE", default_value_t = DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// How often an idle worker looks for jobs, in milliseconds.
    #[arg(long, env = "ZTOQ_POLL_MS", default_value_t = 200)]
    pub poll_ms: u64,
    /// Seconds without a heartbeat after which a worker's jobs go to another worker.
    #[arg(long, env = "ZTOQ_LEASE_SECS", default_value_t = 30)]
    pub lease_secs: u64,
    /// Seconds a stopping worker waits for its in-flight records.
    #[arg(long, env = "ZTOQ_SHUTDOWN_SECS", default_value_t = 30)]
    pub shutdown_secs: u64,
    /// Attempts per record (the first included) before it fails for good.
    #[arg(long, env = "ZTOQ_MAX_ATTEMPTS", default_value_t = 6)]
    pub max_attempts: u32,
    /// First backoff step, in milliseconds (doubles per failure, full jitter).
    #[arg(long, env = "ZTOQ_BACKOFF_MS", default_value_t = 500)]
    pub backoff_ms: u64,
    /// Backoff cap, in seconds.
    #[arg(long, env = "ZTOQ_BACKOFF_MAX_SECS", default_value_t = 60)]
    pub backoff_max_secs: u64,
    /// Seconds before a record whose credentials were refused may run again (on a worker
    /// started with fixed credentials).
    #[arg(long, env = "ZTOQ_AUTH_PAUSE_SECS", default_value_t = 5)]
    pub auth_pause_secs: u64,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9464).
    #[arg(long, env = "ZTOQ_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Worker name prefix.
    #[arg(long, env = "ZTOQ_WORKER_NAME", default_value = "ztoq-worker")]
    pub name: String,
    /// qTest rate limit shared by all workers.
    #[command(flatten)]
    pub rate: QtestRateArgs,
    /// HTTP settings.
    #[command(flatten)]
    pub http: HttpArgs,
}

/// `ztoq-worker`: runs until SIGTERM.
pub async fn worker(args: WorkerArgs) -> Result<()> {
    if args.concurrency == 0 || args.batch_size == 0 {
        bail!("--concurrency and --batch-size must be at least 1");
    }
    let config = WorkerConfig {
        database_url: args.db.url()?,
        zephyr_token: args.zephyr.token()?,
        qtest_auth: args.qtest.auth()?,
        concurrency: args.concurrency,
        batch_size: args.batch_size,
        poll_interval: Duration::from_millis(args.poll_ms.max(10)),
        lease: Duration::from_secs(args.lease_secs.max(3)),
        shutdown_timeout: Duration::from_secs(args.shutdown_secs),
        retry: RetryPolicy {
            max_attempts: args.max_attempts.max(1),
            base: Duration::from_millis(args.backoff_ms),
            max: Duration::from_secs(args.backoff_max_secs),
        },
        auth_pause: Duration::from_secs(args.auth_pause_secs),
        metrics_addr: args.metrics_addr,
        name: args.name,
        http: args.http.options(),
        qtest_rate_limit: args.rate.qtest_rate_limit,
    };
    match ztoq_worker::run(config, stop_signal()).await {
        Ok(()) => Ok(()),
        // Already logged once, with what to fix; a distinct exit code for supervisors.
        Err(ztoq_worker::RunError::Credentials(_)) => std::process::exit(EXIT_CREDENTIALS),
        Err(e) => Err(e.into()),
    }
}

/// `ztoq-worker`'s exit status when an API refused its credentials.
pub const EXIT_CREDENTIALS: i32 = 3;

/// Flags of the commands that look at one run.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Database.
    #[command(flatten)]
    pub db: DbArgs,
    /// The run id (printed by ztoq-enqueue).
    #[arg(long = "run")]
    pub run_id: i64,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Prints a counts table.
pub fn print_counts(counts: &std::collections::BTreeMap<ztoq_model::RecordKind, KindCounts>) {
    println!(
        "{:<14} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8}",
        "kind", "source", "migrated", "failed", "blocked", "waiting", "ready"
    );
    for (kind, c) in counts {
        println!(
            "{:<14} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8}",
            kind.as_str(),
            c.source,
            c.migrated,
            c.failed,
            c.blocked,
            c.waiting,
            c.ready
        );
    }
    let t = report::total(counts);
    println!(
        "{:<14} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8}",
        "total", t.source, t.migrated, t.failed, t.blocked, t.waiting, t.ready
    );
}

/// `ztoq status`.
pub async fn status(args: RunArgs) -> Result<()> {
    let pool = open_db(&args.db, 2).await?;
    let mut conn = pool.acquire().await?;
    let run = ztoq_store::runs::get(&mut conn, args.run_id)
        .await?
        .with_context(|| format!("run {} does not exist", args.run_id))?;
    let counts = report::counts(&mut conn, args.run_id).await?;
    let queue = report::queue_depth(&mut conn).await?;
    let total = report::total(&counts);
    let rollback = ztoq_store::rollback::state(&mut conn, args.run_id).await?;
    if args.json {
        let kinds: serde_json::Map<String, serde_json::Value> = counts
            .iter()
            .map(|(k, c)| {
                (
                    k.as_str().to_string(),
                    serde_json::to_value(c).unwrap_or_default(),
                )
            })
            .collect();
        let out = serde_json::json!({
            "run_id": run.id,
            "project_key": run.project_key,
            "paused_reason": run.paused_reason,
            "rollback": rollback,
            "finished": total.waiting == 0 && total.ready == 0,
            "kinds": kinds,
            "total": total,
            "queue": queue,
        });
        println!("{out}");
    } else {
        println!(
            "run {} — {} → qTest project {}",
            run.id, run.project_key, run.qtest_project_id
        );
        if let Some(reason) = &run.paused_reason {
            println!("PAUSED: {reason}");
        }
        match rollback.as_ref().map(|r| (r.started_at, r.finished_at)) {
            Some((_, Some(at))) => println!("ROLLED BACK at {at}"),
            Some((Some(at), None)) => println!("ROLLING BACK since {at} (unfinished)"),
            _ => {}
        }
        print_counts(&counts);
        println!("queue: {queue:?}");
    }
    Ok(())
}

/// `ztoq failures` flags.
#[derive(Debug, Args)]
pub struct FailuresArgs {
    /// The run.
    #[command(flatten)]
    pub run: RunArgs,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
}

/// `ztoq failures`.
pub async fn failures(args: FailuresArgs) -> Result<()> {
    let pool = open_db(&args.run.db, 2).await?;
    let mut conn = pool.acquire().await?;
    let list = report::failures(&mut conn, args.run.run_id, args.limit).await?;
    if args.run.json {
        println!(
            "{}",
            serde_json::json!({ "run_id": args.run.run_id, "failures": list })
        );
    } else if list.is_empty() {
        println!("run {}: no failed or blocked records", args.run.run_id);
    } else {
        for f in list {
            let reason = f.error.unwrap_or_default();
            match f.blocked_by {
                Some(by) => println!(
                    "blocked {} {} — waits for failed {by}",
                    f.kind, f.source_key
                ),
                None => println!(
                    "FAILED  {} {} (attempts {}) — {reason}",
                    f.kind, f.source_key, f.attempts
                ),
            }
        }
    }
    Ok(())
}

/// `ztoq retry`.
pub async fn retry(args: RunArgs) -> Result<()> {
    let pool = open_db(&args.db, 2).await?;
    let mut tx = pool.begin().await?;
    let summary = ztoq_store::records::retry_run(&mut tx, args.run_id).await?;
    tx.commit().await?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "run {}: {} failed records queued again, {} unblocked, {} orphaned jobs restored",
            args.run_id, summary.failed, summary.unblocked, summary.orphans
        );
    }
    Ok(())
}

/// `ztoq verify` flags.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The run.
    #[command(flatten)]
    pub run: RunArgs,
    /// qTest credentials (URL and project come from the run).
    #[command(flatten)]
    pub qtest: QtestAuthArgs,
    /// HTTP settings.
    #[command(flatten)]
    pub http: HttpArgs,
    /// qTest rate limit shared with the workers.
    #[command(flatten)]
    pub rate: QtestRateArgs,
}

/// `ztoq verify`: exits non-zero when the copy is incomplete or differs.
pub async fn verify(args: VerifyArgs) -> Result<bool> {
    let pool = open_db(&args.run.db, 4).await?;
    let report = ztoq_verify::verify(
        &pool,
        args.qtest.auth()?,
        &args.http.options(),
        args.run.run_id,
        args.rate.qtest_rate_limit,
    )
    .await?;
    if args.run.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        report.print();
    }
    Ok(report.ok)
}
