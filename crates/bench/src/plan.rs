//! The reference part of a benchmark, in order: the bare-SQL queue, apalis-postgres with
//! ztoq's schema and knobs, then apalis's three weak spots at N rows (stock vs ztoq claim
//! query, fetch batch 10 / ztoq's / 100, pushes with vs without the per-row NOTIFY trigger).
//! Each part runs in a database of its own on the same server, dropped afterwards.

use crate::measure::DbFigures;
use crate::pg;
use crate::references::{self, QueueKnobs};
use crate::report::{Handled, LabelledDrain, QueueChecks, References, div};
use anyhow::{Context, Result};
use std::time::Duration;

/// What to run.
#[derive(Debug, Clone)]
pub struct ReferencePlan {
    /// A URL on the server (any database the user may connect to and create databases from).
    pub admin_url: String,
    /// Prefix of the databases created (lower case, digits, `_`).
    pub db_prefix: String,
    /// N: jobs in each reference queue and rows in each checked table.
    pub jobs: u64,
    /// M: jobs drained per queue check.
    pub check_jobs: u64,
    /// Connections of the bare-SQL queue.
    pub connections: usize,
    /// Rows claimed per bare-SQL statement.
    pub bare_batch: usize,
    /// ztoq's worker knobs.
    pub knobs: QueueKnobs,
    /// Run the weak-spot checks too.
    pub checks: bool,
    /// Keep the databases (for inspection).
    pub keep_databases: bool,
    /// When, relative to the ztoq runs (for the report).
    pub when: String,
}

/// Upper bound of the full apalis drain.
const DRAIN_LIMIT: Duration = Duration::from_secs(1800);
/// Upper bound of one check drain (the stock claim may be slow at N rows).
const CHECK_LIMIT: Duration = Duration::from_secs(60);
/// Jobs per `push_bulk` call.
const PUSH_CHUNK: u64 = 10_000;

fn progress(msg: &str) {
    eprintln!("reference: {msg}");
}

/// Runs the references (and the checks); `run_db` is the primary ztoq run's database, whose
/// schema says whether the weak spots are handled where ztoq really runs.
pub async fn run(
    plan: &ReferencePlan,
    run_db: Option<&DbFigures>,
) -> Result<(References, Option<QueueChecks>)> {
    let names = [
        format!("{}_ref_sql", plan.db_prefix),
        format!("{}_ref_apalis", plan.db_prefix),
        format!("{}_ref_stock", plan.db_prefix),
    ];
    let result = run_inner(plan, run_db, &names).await;
    if !plan.keep_databases {
        for name in &names {
            let _ = pg::drop_database(&plan.admin_url, name).await;
        }
    }
    result
}

async fn run_inner(
    plan: &ReferencePlan,
    run_db: Option<&DbFigures>,
    names: &[String; 3],
) -> Result<(References, Option<QueueChecks>)> {
    let n = plan.jobs;
    progress(&format!(
        "bare SQL queue, {n} rows, {} connections",
        plan.connections
    ));
    let url = pg::create_database(&plan.admin_url, &names[0]).await?;
    let bare_sql = references::bare_sql(&url, n, plan.connections, plan.bare_batch).await?;
    if !plan.keep_databases {
        let _ = pg::drop_database(&plan.admin_url, &names[0]).await;
    }

    progress(&format!(
        "apalis-postgres (ztoq schema), pushing {n} no-op jobs"
    ));
    let url = pg::create_database(&plan.admin_url, &names[1]).await?;
    let pool = ztoq_store::connect(&url, 4).await?;
    ztoq_store::migrate(&pool)
        .await
        .context("applying apalis's and ztoq's migrations to the reference database")?;
    let queue = "ztoq-bench-noop";
    let apalis_push = references::apalis_push(&pool, queue, n, PUSH_CHUNK).await?;
    progress(&format!(
        "apalis-postgres (ztoq schema), draining {n} jobs with {} workers",
        plan.knobs.workers
    ));
    let apalis = references::apalis_drain(&url, queue, n, &plan.knobs, DRAIN_LIMIT).await?;
    let refs = References {
        when: plan.when.clone(),
        bare_sql,
        apalis_push,
        apalis,
    };
    if !plan.checks {
        pool.close().await;
        return Ok((refs, None));
    }

    // ztoq schema: the table now holds N done rows; each batch size drains M jobs of a queue
    // of its own pushed on top.
    let m = plan.check_jobs;
    let mut batches = vec![10, plan.knobs.batch_size, 100];
    batches.dedup();
    batches.sort_unstable();
    batches.dedup();
    let mut drains = Vec::new();
    for &b in &batches {
        let q = format!("ztoq-bench-b{b}");
        references::apalis_push(&pool, &q, m, PUSH_CHUNK).await?;
    }
    analyze_jobs(&pool).await?;
    pool.close().await;
    for &b in &batches {
        progress(&format!("ztoq schema, batch {b}: draining {m} jobs"));
        let knobs = QueueKnobs {
            batch_size: b,
            ..plan.knobs.clone()
        };
        let q = format!("ztoq-bench-b{b}");
        let drain = references::apalis_drain(&url, &q, m, &knobs, CHECK_LIMIT).await?;
        drains.push(LabelledDrain {
            schema: "ztoq".into(),
            label: format!(
                "claim by id array, batch {b}{}",
                if b == plan.knobs.batch_size {
                    " (ztoq)"
                } else {
                    ""
                }
            ),
            drain,
        });
    }
    if !plan.keep_databases {
        let _ = pg::drop_database(&plan.admin_url, &names[1]).await;
    }

    // Stock schema: apalis's own migrations only (stock claim query, per-row NOTIFY trigger).
    // N jobs pushed (timed: the trigger fires per row) fill the table; each batch size then
    // drains M jobs of a queue of its own pushed on top.
    progress(&format!("apalis-postgres (stock schema), pushing {n} jobs"));
    let url = pg::create_database(&plan.admin_url, &names[2]).await?;
    let pool = ztoq_store::connect(&url, 4).await?;
    apalis_postgres::PostgresStorage::<()>::setup(&pool)
        .await
        .map_err(|e| anyhow::anyhow!("apalis-postgres migrations: {e}"))?;
    let stock = crate::measure::db_figures(&pool).await?;
    let push_with_trigger =
        references::apalis_push(&pool, "ztoq-bench-stock-fill", n, PUSH_CHUNK).await?;
    let variants = [
        (
            plan.knobs.batch_size,
            format!("stock claim, batch {}", plan.knobs.batch_size),
        ),
        (10, "stock claim, batch 10 (apalis defaults)".to_string()),
    ];
    for (i, _) in variants.iter().enumerate() {
        references::apalis_push(&pool, &format!("ztoq-bench-stock-{i}"), m, PUSH_CHUNK).await?;
    }
    analyze_jobs(&pool).await?;
    pool.close().await;
    for (i, (b, label)) in variants.into_iter().enumerate() {
        progress(&format!("stock schema, batch {b}: draining up to {m} jobs"));
        let knobs = QueueKnobs {
            batch_size: b,
            ..plan.knobs.clone()
        };
        let q = format!("ztoq-bench-stock-{i}");
        let drain = references::apalis_drain(&url, &q, m, &knobs, CHECK_LIMIT).await?;
        drains.push(LabelledDrain {
            schema: "stock".into(),
            label,
            drain,
        });
    }

    let rate = |schema: &str, batch: usize| {
        drains
            .iter()
            .find(|d| d.schema == schema && d.drain.knobs.batch_size == batch)
            .and_then(|d| d.drain.jobs_per_sec)
    };
    let ours = plan.knobs.batch_size;
    let handled = Handled {
        claim_query: run_db.is_some_and(|d| d.claim_by_id_array) && !stock.claim_by_id_array,
        fetch_batch: ours > 10,
        no_notify_trigger: run_db.is_some_and(|d| !d.notify_trigger) && stock.notify_trigger,
        claim_speedup: div(rate("ztoq", ours), rate("stock", ours)),
        batch_speedup: div(rate("ztoq", ours), rate("ztoq", 10)),
        trigger_push_slowdown: div(
            Some(push_with_trigger.secs),
            Some(refs.apalis_push.secs).filter(|s| *s > 0.0),
        ),
    };
    let checks = QueueChecks {
        rows: n,
        jobs_per_drain: m,
        push_with_notify_trigger: push_with_trigger,
        push_without_trigger: refs.apalis_push.clone(),
        drains,
        handled,
    };
    Ok((refs, Some(checks)))
}

/// Brings `apalis.jobs`'s planner statistics up to date before a drain, as autovacuum (or the
/// workers' own `ANALYZE` of a grown table) does in a deployment that has run for a while.
/// Drained straight after a bulk push, the table still has the statistics of an empty one and
/// the planner picks plans that stop mattering, or start to, once it is analyzed: the stock
/// claim query's collapse at 500k rows (`queue-anchors.md`) needs current statistics.
async fn analyze_jobs(pool: &sqlx::PgPool) -> Result<()> {
    sqlx::query("ANALYZE apalis.jobs")
        .execute(pool)
        .await
        .context("ANALYZE apalis.jobs")?;
    Ok(())
}
