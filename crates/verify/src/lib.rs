//! `ztoq verify`: reads the qTest copy back through the same v3 read endpoints a person would
//! use, and compares it field by field with what the transform of the source snapshot says it
//! must be (the worker writes with the same functions, so a difference is a real one: a lost
//! write, a duplicate, or an edit made in qTest since).
//!
//! The report counts, per kind, the source items, the migrated, failed and blocked records,
//! the copies found in qTest, and lists every mismatch (missing, duplicated, or differing in a
//! field).
#![warn(missing_docs)]

mod check;
mod report;

pub use report::{KindReport, Mismatch, VerifyReport};

use std::collections::BTreeMap;
use ztoq_http::{ApiError, ClientOptions};
use ztoq_qtest::{QtestAuth, QtestClient};
use ztoq_store::report as counts;

/// Why verification could not run (a mismatch is not an error: it is in the report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Postgres failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// qTest could not be read.
    #[error("qTest: {0}")]
    Api(#[from] ApiError),
    /// The run does not exist or is unreadable.
    #[error("{0}")]
    Run(String),
}

/// Verifies a run. With `qtest_rate_limit`, its qTest reads share the workers' schedule
/// (`ztoq_store::ratelimit`) instead of adding to their rate.
pub async fn verify(
    pool: &sqlx::PgPool,
    auth: QtestAuth,
    http: &ClientOptions,
    run_id: i64,
    qtest_rate_limit: Option<f64>,
) -> Result<VerifyReport, VerifyError> {
    let mut conn = pool.acquire().await?;
    let run = ztoq_store::runs::get(&mut conn, run_id)
        .await?
        .ok_or_else(|| VerifyError::Run(format!("run {run_id} does not exist")))?;
    let settings: ztoq_model::settings::RunSettings = serde_json::from_value(run.settings.clone())
        .map_err(|e| VerifyError::Run(format!("run {run_id} has unreadable settings: {e}")))?;
    let state = counts::counts(&mut conn, run_id).await?;
    drop(conn);
    let mut qtest = ztoq_http::retrying(&check::READ_RETRY, "connect", || {
        QtestClient::connect(&run.qtest_url, run.qtest_project_id, auth.clone(), http)
    })
    .await?;
    if let Some(per_second) = qtest_rate_limit {
        let pacer = ztoq_store::ratelimit::qtest_pacer(pool, &run.qtest_url, per_second).await?;
        qtest = qtest.with_pacer(pacer);
    }
    let mut kinds: BTreeMap<ztoq_model::RecordKind, KindReport> = state
        .iter()
        .map(|(k, c)| {
            (
                *k,
                KindReport {
                    source: c.source,
                    migrated: c.migrated,
                    failed: c.failed,
                    blocked: c.blocked,
                    pending: c.waiting + c.ready,
                    verified: 0,
                    in_qtest: 0,
                },
            )
        })
        .collect();
    let mut mismatches = Vec::new();
    check::all(pool, &qtest, &settings, run_id, &mut kinds, &mut mismatches).await?;
    let ok = mismatches.is_empty()
        && kinds.values().all(|k| {
            k.failed == 0
                && k.blocked == 0
                && k.pending == 0
                && k.verified == k.migrated
                && k.in_qtest == k.migrated
        });
    Ok(VerifyReport {
        run_id,
        ok,
        kinds,
        mismatches,
    })
}
