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

use crate::args::{HttpArgs, QtestAuthArgs};
use crate::commands::{RunArgs, open_db};
use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use ztoq_http::{ApiError, ErrorClass};
use ztoq_model::RecordKind;
use ztoq_qtest::{Deletion, QtestClient};
use ztoq_store::rollback::{self as store, Begin, Pending};
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

/// Records per page read from Postgres.
const PAGE: i64 = 500;

/// What happened to one kind's records, counted in records (the executions sharing a test run
/// count one each).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KindReport {
    /// Items qTest deleted in this invocation.
    pub deleted: u64,
    /// Items found gone (404, or their owner already removed) in this invocation.
    pub already_gone: u64,
    /// Items whose delete failed in this invocation.
    pub failed: u64,
    /// Items kept because something under them could not be removed.
    pub kept: u64,
    /// Items rolled back by this and earlier invocations.
    pub rolled_back: u64,
    /// Items still in qTest (failed + kept).
    pub remaining: u64,
}

/// A delete that failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackFailure {
    /// Kind of the record(s).
    pub kind: RecordKind,
    /// Source key of the (first) record.
    pub source_key: String,
    /// Records waiting on this item (several for a shared test run).
    pub records: usize,
    /// Why.
    pub error: String,
}

/// The outcome of `ztoq rollback`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackReport {
    /// The run.
    pub run_id: i64,
    /// Whether the run is rolled back: nothing it created is left in qTest.
    pub rolled_back: bool,
    /// Whether an earlier rollback of the run had started.
    pub resumed: bool,
    /// Waiting or queued records cancelled (`--force`).
    pub cancelled: u64,
    /// Per kind, in rollback order.
    pub kinds: BTreeMap<RecordKind, KindReport>,
    /// Failed deletes (at most 100 listed).
    pub failures: Vec<RollbackFailure>,
    /// Failed deletes in all.
    pub failure_count: u64,
    /// Wall time.
    pub elapsed_secs: f64,
}

impl RollbackReport {
    fn new(run_id: i64) -> Self {
        RollbackReport {
            run_id,
            rolled_back: false,
            resumed: false,
            cancelled: 0,
            kinds: ORDER.iter().map(|k| (*k, KindReport::default())).collect(),
            failures: Vec::new(),
            failure_count: 0,
            elapsed_secs: 0.0,
        }
    }

    fn kind(&mut self, kind: RecordKind) -> &mut KindReport {
        self.kinds.entry(kind).or_default()
    }

    fn fail(&mut self, kind: RecordKind, source_key: &str, records: usize, error: String) {
        self.kind(kind).failed += records as u64;
        self.failure_count += 1;
        if self.failures.len() < 100 {
            self.failures.push(RollbackFailure {
                kind,
                source_key: source_key.to_string(),
                records,
                error,
            });
        }
    }

    /// For people.
    pub fn print(&self) {
        println!(
            "{:<14} {:>9} {:>9} {:>8} {:>8} {:>12} {:>10}",
            "kind", "deleted", "gone", "failed", "kept", "rolled back", "remaining"
        );
        for kind in ORDER {
            let k = self.kinds.get(&kind).copied().unwrap_or_default();
            println!(
                "{:<14} {:>9} {:>9} {:>8} {:>8} {:>12} {:>10}",
                kind.as_str(),
                k.deleted,
                k.already_gone,
                k.failed,
                k.kept,
                k.rolled_back,
                k.remaining
            );
        }
        for f in &self.failures {
            println!("FAILED  {} {} — {}", f.kind, f.source_key, f.error);
        }
        if self.failure_count > self.failures.len() as u64 {
            println!(
                "  … and {} more",
                self.failure_count - self.failures.len() as u64
            );
        }
        if self.rolled_back {
            println!(
                "run {}: rolled back; nothing it created is left in qTest ({:.1}s)",
                self.run_id, self.elapsed_secs
            );
        } else {
            println!(
                "run {}: NOT fully rolled back; fix the causes above and run `ztoq rollback --run {}` again ({:.1}s)",
                self.run_id, self.run_id, self.elapsed_secs
            );
        }
    }
}

/// One qTest item to delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Attachment {
        object_type: &'static str,
        object_id: i64,
        id: i64,
    },
    TestRun(i64),
    TestCycle(i64),
    TestCase(i64),
    Module(i64),
}

/// A delete and the records it rolls back.
#[derive(Debug, Clone)]
struct Item {
    records: Vec<i64>,
    source_key: String,
    target: Target,
}

/// What to do with a pending record.
enum Plan {
    Delete(Item),
    /// Gone already (its owner was removed): mark it.
    Gone(Vec<i64>),
    /// Something under it is still in qTest: not now.
    Wait(u64),
    /// It cannot be deleted: record why.
    Fail(Vec<i64>, String),
    /// Handled with another record (an execution sharing a test run).
    Skip,
}

/// The outcome of one delete.
struct Done {
    item: Item,
    result: Result<Deletion, String>,
}

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

/// Rolls back every pending record of one kind, in rounds while a round removed something and
/// left records waiting for their dependents (the leaves-first passes over a folder tree).
async fn level(
    ctx: &Arc<Ctx>,
    kind: RecordKind,
    concurrency: usize,
    report: &mut RollbackReport,
) -> Result<()> {
    let mut failed_here: HashSet<i64> = HashSet::new();
    let mut last_print = Instant::now();
    loop {
        let mut progressed = 0u64;
        let mut waiting = 0u64;
        let mut after = 0i64;
        loop {
            let mut conn = ctx.pool.acquire().await?;
            let page = store::pending_page(&mut conn, ctx.run_id, kind, after, PAGE).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.record_id;
            let mut items = Vec::new();
            let mut runs_seen = HashSet::new();
            for p in page {
                if failed_here.contains(&p.record_id) {
                    continue;
                }
                match plan(ctx, &mut conn, kind, &p, &mut runs_seen).await? {
                    Plan::Delete(item) => items.push(item),
                    Plan::Gone(records) => {
                        let n = store::mark_rolled_back(&mut conn, &records).await?;
                        report.kind(kind).already_gone += n;
                        progressed += n;
                    }
                    Plan::Wait(n) => waiting += n,
                    Plan::Fail(records, error) => {
                        store::mark_failed(&mut conn, &records, &error).await?;
                        report.fail(kind, &p.source_key, records.len(), error);
                        failed_here.extend(records);
                    }
                    Plan::Skip => {}
                }
            }
            drop(conn);
            for done in delete_all(ctx, items, concurrency).await? {
                let n = done.item.records.len() as u64;
                match done.result {
                    Ok(Deletion::Deleted) => {
                        report.kind(kind).deleted += n;
                        progressed += n;
                    }
                    Ok(Deletion::AlreadyGone) => {
                        report.kind(kind).already_gone += n;
                        progressed += n;
                    }
                    Err(error) => {
                        report.fail(kind, &done.item.source_key, done.item.records.len(), error);
                        failed_here.extend(done.item.records);
                    }
                }
            }
            if last_print.elapsed() > Duration::from_secs(2) {
                progress_line(kind, report);
                last_print = Instant::now();
            }
        }
        if progressed == 0 || waiting == 0 {
            break;
        }
    }
    progress_line(kind, report);
    Ok(())
}

fn progress_line(kind: RecordKind, report: &mut RollbackReport) {
    let k = report.kind(kind);
    eprintln!(
        "rollback {kind}: {} deleted, {} already gone, {} failed",
        k.deleted, k.already_gone, k.failed
    );
}

fn data_i64(data: Option<&serde_json::Value>, key: &str) -> Option<i64> {
    data.and_then(|d| d.get(key)).and_then(|v| v.as_i64())
}

/// Decides what to do with one pending record.
async fn plan(
    ctx: &Ctx,
    conn: &mut sqlx::PgConnection,
    kind: RecordKind,
    p: &Pending,
    runs_seen: &mut HashSet<i64>,
) -> Result<Plan> {
    let records = vec![p.record_id];
    let missing = |what: &str| {
        Plan::Fail(
            vec![p.record_id],
            format!("{kind} {}: no {what} recorded", p.source_key),
        )
    };
    if kind == RecordKind::Execution {
        // One test run per (cycle, test case): its executions go together.
        let Some(test_run) = data_i64(p.qtest_data.as_ref(), "run_id") else {
            return Ok(missing("test run id"));
        };
        if !runs_seen.insert(test_run) {
            return Ok(Plan::Skip);
        }
        let members = store::test_run_members(conn, ctx.run_id, test_run).await?;
        if members.iter().any(|m| m.alive_dependents > 0) {
            return Ok(Plan::Wait(members.len() as u64));
        }
        let mut records: Vec<i64> = members.iter().map(|m| m.record_id).collect();
        if records.is_empty() {
            records.push(p.record_id);
        }
        return Ok(Plan::Delete(Item {
            records,
            source_key: p.source_key.clone(),
            target: Target::TestRun(test_run),
        }));
    }
    if p.alive_dependents > 0 {
        return Ok(Plan::Wait(1));
    }
    let Some(id) = p.qtest_id else {
        return Ok(missing("qTest id"));
    };
    let target = match kind {
        RecordKind::Attachment => {
            let Some(owner) = &p.owner else {
                return Ok(missing("owner"));
            };
            if owner.rolled_back {
                return Ok(Plan::Gone(records));
            }
            let (object_type, object_id) = match owner.kind {
                RecordKind::TestCase => ("test-cases", owner.qtest_id),
                RecordKind::Execution => {
                    ("test-logs", data_i64(owner.qtest_data.as_ref(), "log_id"))
                }
                other => {
                    return Ok(Plan::Fail(
                        records,
                        format!("attachment {}: unexpected owner kind {other}", p.source_key),
                    ));
                }
            };
            let Some(object_id) = object_id else {
                return Ok(missing("owner qTest id"));
            };
            Target::Attachment {
                object_type,
                object_id,
                id,
            }
        }
        RecordKind::TestCycle | RecordKind::CycleFolder => Target::TestCycle(id),
        RecordKind::TestCase => Target::TestCase(id),
        RecordKind::Folder => Target::Module(id),
        RecordKind::Execution => unreachable!("handled above"),
    };
    Ok(Plan::Delete(Item {
        records,
        source_key: p.source_key.clone(),
        target,
    }))
}

/// Runs the deletes with at most `concurrency` in flight; each marks its records as soon as
/// qTest answered. Credentials refused or a database error stop everything.
async fn delete_all(ctx: &Arc<Ctx>, items: Vec<Item>, concurrency: usize) -> Result<Vec<Done>> {
    let mut set: JoinSet<Result<Done>> = JoinSet::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        while set.len() >= concurrency {
            if let Some(joined) = set.join_next().await {
                out.push(joined.context("a delete task panicked")??);
            }
        }
        let ctx = ctx.clone();
        set.spawn(async move { delete_one(&ctx, item).await });
    }
    while let Some(joined) = set.join_next().await {
        out.push(joined.context("a delete task panicked")??);
    }
    Ok(out)
}

/// Calls `f` until it succeeds, fails for good, or transient errors (timeouts, resets, 5xx,
/// 429) used up the policy's attempts, waiting the policy's backoff (at least `Retry-After`)
/// between attempts.
async fn with_retry<T, F, Fut>(policy: &RetryPolicy, mut f: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut failures = 0u32;
    loop {
        match f().await {
            Err(e) if e.class() == ErrorClass::Transient && policy.allows_another(failures + 1) => {
                failures += 1;
                let delay = policy.delay(failures, e.retry_after());
                tracing::debug!(error = %e, delay_ms = delay.as_millis() as u64, "transient error; retrying");
                tokio::time::sleep(delay).await;
            }
            other => return other,
        }
    }
}

/// One delete with retries on transient errors, then its durable mark.
async fn delete_one(ctx: &Ctx, item: Item) -> Result<Done> {
    let qtest = &ctx.qtest;
    let attempt = with_retry(&ctx.policy, || async {
        match item.target {
            Target::Attachment {
                object_type,
                object_id,
                id,
            } => qtest.delete_attachment(object_type, object_id, id).await,
            Target::TestRun(id) => qtest.delete_test_run(id).await,
            Target::TestCycle(id) => qtest.delete_test_cycle(id, ctx.cascade).await,
            Target::TestCase(id) => qtest.delete_test_case(id).await,
            Target::Module(id) => qtest.delete_module(id, ctx.cascade).await,
        }
    })
    .await;
    let result = match attempt {
        Ok(deletion) => Ok(deletion),
        Err(e) => match e.class() {
            ErrorClass::Auth => bail!(
                "qTest refused the credentials ({e}); nothing more was deleted: fix them and run the rollback again"
            ),
            ErrorClass::Transient => Err(format!(
                "gave up after {} attempts: {e}",
                ctx.policy.max_attempts
            )),
            ErrorClass::Permanent => Err(e.to_string()),
        },
    };
    let mut conn = ctx.pool.acquire().await?;
    match &result {
        Ok(_) => {
            store::mark_rolled_back(&mut conn, &item.records).await?;
        }
        Err(error) => store::mark_failed(&mut conn, &item.records, error).await?,
    }
    Ok(Done { item, result })
}
