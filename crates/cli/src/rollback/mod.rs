//! `ztoq rollback --run ID`: removes from qTest what a run created (or adopted), children
//! before parents, and is safe to interrupt and repeat.
//!
//! Order, one level at a time: attachments; test runs (each taking its test logs along: qTest
//! has no delete for a single log; the executions sharing a run are rolled back together);
//! test cycles; cycle folders (leaves first); test cases; modules (leaves first). An item is
//! deleted only once none of its dependents' items exists any more, so a delete that fails
//! keeps everything above it, and an interrupted rollback leaves a tree with no holes.
//!
//! Durability: each record is marked rolled back the moment qTest confirms its delete, or
//! answers 404 (already gone: deleted by an earlier, interrupted attempt, or by hand); a rerun
//! skips marked records, so it resumes where the last one stopped. The run is marked rolled
//! back when nothing of it is left in qTest; then `retry` refuses it and the next enqueue of
//! its project starts a new run.
//!
//! Containers are deleted without `force` unless `--cascade`: a module or cycle that still
//! holds something this run did not record (an item of a failed record, or one added by a
//! person since) is kept and reported instead of taking that item with it.
//!
//! Layout: this module is the command (flags, checks, the order of levels, the final report);
//! `pass` runs one level, `plan` decides per record what to delete, `delete` talks to qTest,
//! `report` counts and prints.

mod delete;
mod pass;
mod plan;
mod report;

pub use report::{KindReport, RollbackFailure, RollbackReport};

use crate::args::{HttpArgs, QtestAuthArgs, QtestRateArgs};
use crate::commands::{RunArgs, open_db};
use anyhow::{Context, Result, bail};
use clap::Args;
use delete::with_retry;
use pass::level;
use std::sync::Arc;
use std::time::{Duration, Instant};
use ztoq_model::RecordKind;
use ztoq_qtest::QtestClient;
use ztoq_store::rollback::{self as store, Begin};
use ztoq_worker::retry::RetryPolicy;

/// `ztoq rollback` flags.
#[derive(Debug, Args)]
pub struct RollbackArgs {
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
    /// Deletes in flight at once (within one level of the order).
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Roll back although records are still waiting or queued: they are cancelled (failed)
    /// first. Stop the run's workers before: an item a worker is writing at that moment is not
    /// recorded, so it is not rolled back.
    #[arg(long)]
    pub force: bool,
    /// Delete modules and test cycles with `force=true`, which also removes whatever else they
    /// hold (items of failed records, items people added since). Without it such a container
    /// is kept and reported.
    #[arg(long)]
    pub cascade: bool,
    /// Attempts per delete (the first included) on transient errors (timeouts, 5xx, 429),
    /// with exponential backoff and full jitter.
    #[arg(long, default_value_t = 6)]
    pub max_attempts: u32,
}

/// The levels of a rollback, in order.
pub const ORDER: [RecordKind; 6] = [
    RecordKind::Attachment,
    RecordKind::Execution,
    RecordKind::TestCycle,
    RecordKind::CycleFolder,
    RecordKind::TestCase,
    RecordKind::Folder,
];

/// What the passes and the deletes share.
struct Ctx {
    pool: sqlx::PgPool,
    qtest: QtestClient,
    run_id: i64,
    cascade: bool,
    policy: RetryPolicy,
}

/// `ztoq rollback`: returns whether the run is rolled back with nothing failed.
pub async fn rollback(args: RollbackArgs) -> Result<bool> {
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let started = Instant::now();
    let run_id = args.run.run_id;
    let pool = open_db(&args.run.db, args.concurrency as u32 + 2).await?;
    let mut conn = pool.acquire().await?;
    let run = ztoq_store::runs::get(&mut conn, run_id)
        .await?
        .with_context(|| format!("run {run_id} does not exist"))?;
    let mut report = RollbackReport::new(run_id);
    let state = store::state(&mut conn, run_id)
        .await?
        .with_context(|| format!("run {run_id} does not exist"))?;
    let before = store::progress(&mut conn, run_id).await?;
    let pending: u64 = before.values().map(|p| p.remaining).sum();

    // Refuse before touching anything (qTest included) while workers may be writing.
    if !args.force && state.finished_at.is_none() {
        let counts = ztoq_store::report::counts(&mut conn, run_id).await?;
        let total = ztoq_store::report::total(&counts);
        if total.waiting + total.ready > 0 {
            bail!(refusal(run_id, total.waiting, total.ready));
        }
    }
    let policy = RetryPolicy {
        max_attempts: args.max_attempts.max(1),
        base: Duration::from_millis(500),
        max: Duration::from_secs(30),
    };
    let qtest = if pending > 0 {
        let auth = args.qtest.auth()?;
        let http = args.http.options();
        let qtest = with_retry(&policy, || {
            QtestClient::connect(&run.qtest_url, run.qtest_project_id, auth.clone(), &http)
        })
        .await
        .context("connecting to qTest")?;
        let qtest = match args.rate.qtest_rate_limit {
            Some(per_second) => qtest.with_pacer(
                ztoq_store::ratelimit::qtest_pacer(&pool, &run.qtest_url, per_second).await?,
            ),
            None => qtest,
        };
        // A 404 on delete counts as "already gone": make sure it cannot mean "wrong project".
        with_retry(&policy, || qtest.project())
            .await
            .with_context(|| {
                format!(
                    "reading qTest project {} at {}",
                    run.qtest_project_id, run.qtest_url
                )
            })?;
        Some(qtest)
    } else {
        None
    };
    drop(conn);

    let mut tx = pool.begin().await?;
    match store::begin(&mut tx, run_id, args.force).await? {
        Begin::NoSuchRun => bail!("run {run_id} does not exist"),
        Begin::Refused { waiting, ready } => bail!(refusal(run_id, waiting, ready)),
        Begin::Started { resumed, cancelled } => {
            report.resumed = resumed;
            report.cancelled = cancelled;
        }
    }
    tx.commit().await?;
    if report.cancelled > 0 {
        eprintln!(
            "run {run_id}: {} waiting or queued records cancelled",
            report.cancelled
        );
    }
    if report.resumed && pending > 0 {
        eprintln!("run {run_id}: resuming an earlier rollback ({pending} items left)");
    }

    if let Some(qtest) = qtest {
        let ctx = Arc::new(Ctx {
            pool: pool.clone(),
            qtest,
            run_id,
            cascade: args.cascade,
            policy,
        });
        for kind in ORDER {
            if before.get(&kind).is_some_and(|p| p.remaining > 0) {
                level(&ctx, kind, args.concurrency, &mut report).await?;
            }
        }
    }

    let mut conn = pool.acquire().await?;
    report.rolled_back = store::finish(&mut conn, run_id).await?;
    for (kind, p) in store::progress(&mut conn, run_id).await? {
        let k = report.kind(kind);
        k.rolled_back = p.rolled_back;
        k.remaining = p.remaining;
        k.kept = p.remaining.saturating_sub(k.failed);
    }
    report.elapsed_secs = started.elapsed().as_secs_f64();
    if args.run.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        report.print();
    }
    Ok(report.rolled_back && report.failure_count == 0)
}

fn refusal(run_id: i64, waiting: u64, ready: u64) -> String {
    format!(
        "run {run_id} still has {waiting} waiting and {ready} queued or running records: workers may be writing them. \
         Wait until `ztoq status --run {run_id}` shows nothing waiting or ready, or stop the run's workers and pass --force \
         (which cancels those records)"
    )
}
