//! The crawl: project, lookups, folders, test cases, cycles and executions, page by page, into
//! the snapshot and the records tables. Each list is read ahead ([`Prefetch`]) while pages are
//! written, and a page's snapshot is written while the previous page's records are
//! ([`pipeline`]).
//!
//! Every request is retried on transient failures ([`CRAWL_RETRY`]). Pages are read leniently:
//! an item that cannot be read becomes a failed record naming its position and why; a folder
//! on a parent loop fails naming the loop; an execution of a test case that is not in the
//! source fails naming both; repeated items are dropped; degraded items (NULs removed, lone
//! surrogates replaced, text cut to qTest's limits) are logged and listed in the report.

use crate::error::EnqueueError;
use crate::folders::enqueue_folders;
use crate::pipeline::pipeline;
use crate::prefetch::Prefetch;
use crate::preflight::resolve_settings_with;
use crate::records::{execution_key, stage_executions, stage_test_cases, stage_test_cycles};
use crate::report::{EnqueueReport, Tally};
use crate::retry::{CRAWL_RETRY, retrying};
use std::borrow::Cow;
use std::time::Instant;
use tracing::info;
use ztoq_http::{ClientOptions, RetryPolicy, Secret};
use ztoq_model::RecordKind;
use ztoq_model::zephyr::{TestCase, TestCycle, TestExecution};
use ztoq_qtest::{QtestAuth, QtestClient};
use ztoq_store::{runs, snapshot};
use ztoq_zephyr::ZephyrClient;

/// What an enqueue needs.
#[derive(Debug, Clone)]
pub struct EnqueueConfig {
    /// Zephyr base URL (`…/v2`).
    pub zephyr_url: String,
    /// Zephyr API token.
    pub zephyr_token: Secret,
    /// Zephyr project key.
    pub project_key: String,
    /// qTest base URL.
    pub qtest_url: String,
    /// qTest credentials.
    pub qtest_auth: QtestAuth,
    /// qTest project id.
    pub qtest_project_id: i64,
    /// Items per Zephyr page (≤ 1000).
    pub page_size: u32,
    /// HTTP client settings.
    pub http: ClientOptions,
}

/// Runs an enqueue against `pool` (already migrated), retrying requests per [`CRAWL_RETRY`].
pub async fn enqueue(
    config: &EnqueueConfig,
    pool: &sqlx::PgPool,
) -> Result<EnqueueReport, EnqueueError> {
    enqueue_with_retry(config, &CRAWL_RETRY, pool).await
}

/// Runs an enqueue against `pool` (already migrated), retrying requests per `retry`.
pub async fn enqueue_with_retry(
    config: &EnqueueConfig,
    retry: &RetryPolicy,
    pool: &sqlx::PgPool,
) -> Result<EnqueueReport, EnqueueError> {
    let started = Instant::now();
    let zephyr = ZephyrClient::new(
        &config.zephyr_url,
        config.zephyr_token.clone(),
        &config.http,
    )
    .map_err(EnqueueError::zephyr)?
    .with_page_size(config.page_size);
    retrying(retry, "healthcheck", || zephyr.healthcheck())
        .await
        .map_err(EnqueueError::zephyr)?;
    let qtest = retrying(retry, "connect", || {
        QtestClient::connect(
            &config.qtest_url,
            config.qtest_project_id,
            config.qtest_auth.clone(),
            &config.http,
        )
    })
    .await
    .map_err(EnqueueError::qtest)?;
    let key = config.project_key.as_str();
    let (project, settings, execution_statuses) =
        resolve_settings_with(&zephyr, &qtest, key, retry).await?;
    let settings_json =
        serde_json::to_value(&settings).map_err(|e| EnqueueError::Preflight(e.to_string()))?;

    let mut conn = pool.acquire().await?;
    let run = runs::upsert(
        &mut conn,
        &config.zephyr_url,
        key,
        &config.qtest_url,
        config.qtest_project_id,
        &settings_json,
    )
    .await?;
    let run_id = run.id;
    info!(run_id, project = key, "enqueue started");
    snapshot::save_project(&mut conn, run_id, &project).await?;
    snapshot::save_lookups(
        &mut conn,
        run_id,
        "status",
        "TEST_EXECUTION",
        &execution_statuses,
    )
    .await?;
    for status_type in ["TEST_CASE", "TEST_CYCLE"] {
        let values = retrying(retry, "list_statuses", || zephyr.statuses(key, status_type))
            .await
            .map_err(EnqueueError::zephyr)?;
        snapshot::save_lookups(&mut conn, run_id, "status", status_type, &values).await?;
    }
    let priorities = retrying(retry, "list_priorities", || zephyr.priorities(key))
        .await
        .map_err(EnqueueError::zephyr)?;
    snapshot::save_lookups(&mut conn, run_id, "priority", "", &priorities).await?;
    let environments = retrying(retry, "list_environments", || zephyr.environments(key))
        .await
        .map_err(EnqueueError::zephyr)?;
    snapshot::save_lookups(&mut conn, run_id, "environment", "", &environments).await?;
    drop(conn);

    let mut tally = Tally::default();

    // Folders: all of them, then one batch per tree (a child may be listed before its parent).
    enqueue_folders(pool, &zephyr, key, run_id, retry, &mut tally).await?;

    // Test cases, page by page, each waiting for its folder.
    let pages = Prefetch::start(zephyr.test_cases(key), *retry);
    let kind = RecordKind::TestCase;
    pipeline(
        pool,
        run_id,
        kind,
        pages,
        &mut tally,
        case_notes,
        |tx, run, items, bad| Box::pin(stage_test_cases(tx, run, items, bad)),
    )
    .await?;

    // Test cycles, each waiting for its cycle folder.
    let pages = Prefetch::start(zephyr.test_cycles(key), *retry);
    let kind = RecordKind::TestCycle;
    pipeline(
        pool,
        run_id,
        kind,
        pages,
        &mut tally,
        cycle_notes,
        |tx, run, items, bad| Box::pin(stage_test_cycles(tx, run, items, bad)),
    )
    .await?;

    // Executions: each waits for its test case, its cycle and the previous execution of the
    // same pair (whose test run it shares).
    let pages = Prefetch::start(zephyr.executions(key), *retry);
    let kind = RecordKind::Execution;
    pipeline(
        pool,
        run_id,
        kind,
        pages,
        &mut tally,
        execution_notes,
        |tx, run, items, bad| Box::pin(stage_executions(tx, run, items, bad)),
    )
    .await?;

    let mut conn = pool.acquire().await?;
    runs::mark_enqueued(&mut conn, run_id).await?;
    let report = tally.into_report(run_id, started.elapsed().as_secs_f64());
    info!(
        run_id,
        elapsed_secs = report.elapsed_secs,
        failed = report.failed,
        unreadable = report.unreadable,
        repeated = report.repeated,
        degraded = report.degraded_total,
        "enqueue finished"
    );
    Ok(report)
}

fn case_notes(c: &TestCase) -> (Cow<'_, str>, Vec<String>) {
    (c.key.as_str().into(), ztoq_transform::test_case_notes(c))
}

fn cycle_notes(c: &TestCycle) -> (Cow<'_, str>, Vec<String>) {
    (c.key.as_str().into(), ztoq_transform::test_cycle_notes(c))
}

fn execution_notes(e: &TestExecution) -> (Cow<'_, str>, Vec<String>) {
    (execution_key(e).into(), ztoq_transform::execution_notes(e))
}
