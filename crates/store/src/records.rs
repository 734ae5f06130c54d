//! Records and their dependency edges: creating them in bulk ([`insert_records`], module
//! `insert`), and every state transition.
//!
//! Readiness is a per-record counter (`pending_deps`) of parents not yet done. Creating
//! records settles them against their parents under `FOR SHARE` locks, so a parent that
//! finishes concurrently is either seen as done or waits until the new edges are committed and
//! then releases them: no child is ever left waiting for a parent that is already done.

use crate::jobs;
use serde_json::Value;
use sqlx::{PgConnection, Row};
use ztoq_model::{RecordKind, RecordState};

mod batch;
mod insert;
mod plan;

pub use batch::{DoneRecord, load_many, mark_done_many, release_many};
pub use insert::{Inserted, NewDep, NewRecord, insert_records};

/// One record, as a worker needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Record id.
    pub id: i64,
    /// Run.
    pub run_id: i64,
    /// Kind.
    pub kind: RecordKind,
    /// Zephyr id.
    pub source_id: i64,
    /// Key or name, for messages.
    pub source_key: String,
    /// State.
    pub state: RecordState,
    /// Failed attempts so far.
    pub attempts: i32,
    /// Current job generation.
    pub job_seq: i32,
    /// qTest id, once done.
    pub qtest_id: Option<i64>,
    /// Extra qTest data, once done.
    pub qtest_data: Option<Value>,
}

fn record_from_row(row: &sqlx::postgres::PgRow) -> Result<Record, sqlx::Error> {
    let kind: String = row.try_get("kind")?;
    let state: String = row.try_get("state")?;
    Ok(Record {
        id: row.try_get("id")?,
        run_id: row.try_get("run_id")?,
        kind: kind.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        source_id: row.try_get("source_id")?,
        source_key: row.try_get("source_key")?,
        state: state
            .parse()
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        attempts: row.try_get("attempts")?,
        job_seq: row.try_get("job_seq")?,
        qtest_id: row.try_get("qtest_id")?,
        qtest_data: row.try_get("qtest_data")?,
    })
}

const RECORD_COLUMNS: &str =
    "id, run_id, kind, source_id, source_key, state, attempts, job_seq, qtest_id, qtest_data";

/// Loads a record.
pub async fn get(conn: &mut PgConnection, record_id: i64) -> Result<Option<Record>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {RECORD_COLUMNS} FROM records WHERE id = $1"
    )))
    .bind(record_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(record_from_row).transpose()
}

/// Finds a record by its source identity.
pub async fn find(
    conn: &mut PgConnection,
    run_id: i64,
    kind: RecordKind,
    source_id: i64,
) -> Result<Option<Record>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {RECORD_COLUMNS} FROM records WHERE run_id = $1 AND kind = $2 AND source_id = $3"
    )))
    .bind(run_id)
    .bind(kind.as_str())
    .bind(source_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(record_from_row).transpose()
}

/// The parents of each of `record_ids`, in one query (a page of records at a time, instead of
/// one query per record). Records without parents are absent from the map.
pub async fn parents_of(
    conn: &mut PgConnection,
    record_ids: &[i64],
) -> Result<std::collections::HashMap<i64, Vec<Record>>, sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(parents_sql("d.child_id = ANY($1)")))
        .bind(record_ids)
        .fetch_all(conn)
        .await?;
    let mut out: std::collections::HashMap<i64, Vec<Record>> = std::collections::HashMap::new();
    for row in &rows {
        let child: i64 = row.try_get("child_id")?;
        out.entry(child).or_default().push(record_from_row(row)?);
    }
    Ok(out)
}

/// Parents (with their child's id) of the children matching `children` (a condition on `d`).
fn parents_sql(children: &str) -> String {
    let columns = RECORD_COLUMNS
        .split(", ")
        .map(|c| format!("p.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT d.child_id, {columns} FROM records p JOIN record_deps d ON d.parent_id = p.id
         WHERE {children}"
    )
}

/// Done records of a run and kind, in pages ordered by id (for verification and rollback).
pub async fn done_page(
    conn: &mut PgConnection,
    run_id: i64,
    kind: RecordKind,
    after_id: i64,
    limit: i64,
) -> Result<Vec<Record>, sqlx::Error> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {RECORD_COLUMNS} FROM records
         WHERE run_id = $1 AND kind = $2 AND state = 'done' AND id > $3
         ORDER BY id LIMIT $4"
    )))
    .bind(run_id)
    .bind(kind.as_str())
    .bind(after_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(record_from_row).collect()
}

/// Of `candidates` (qTest ids), those already held by a done record of this run and kind:
/// a lookup that adopts an existing qTest item must not adopt one that belongs to another
/// record.
pub async fn claimed_qtest_ids(
    conn: &mut PgConnection,
    run_id: i64,
    kind: RecordKind,
    candidates: &[i64],
) -> Result<Vec<i64>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT qtest_id FROM records WHERE run_id = $1 AND kind = $2 AND qtest_id = ANY($3)",
    )
    .bind(run_id)
    .bind(kind.as_str())
    .bind(candidates)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(|r| r.get::<i64, _>("qtest_id")).collect())
}

/// Stores the qTest id, marks the record done and releases the dependents whose last
/// dependency this was (pushing their jobs): [`mark_done_many`] then [`release_many`] for one
/// record, whatever its job generation. Returns `None` when the record was not `ready`
/// (another job got there first; nothing is changed), else the number of jobs pushed for
/// released dependents. Run it inside the transaction that also stores whatever else the
/// record produced.
pub async fn mark_done_and_release(
    conn: &mut PgConnection,
    record_id: i64,
    qtest_id: i64,
    qtest_data: Option<&Value>,
) -> Result<Option<u64>, sqlx::Error> {
    let done = DoneRecord {
        id: record_id,
        job_seq: None,
        qtest_id,
        qtest_data: qtest_data.cloned(),
    };
    if mark_done_many(conn, &[done], &[]).await?.is_empty() {
        return Ok(None);
    }
    Ok(Some(release_many(conn, &[record_id]).await?))
}

/// Counts a failed attempt and schedules the next one `delay_secs` from now (a new job).
pub async fn schedule_retry(
    conn: &mut PgConnection,
    record_id: i64,
    error: &str,
    delay_secs: f64,
) -> Result<(), sqlx::Error> {
    // One statement: the attempt is counted and the next job generation pushed together.
    jobs::ready_jobs_query(
        "WITH ready_jobs AS (
            UPDATE records SET attempts = attempts + 1, last_error = $5,
                   job_seq = job_seq + 1, updated_at = now()
            WHERE id = $1 AND state = 'ready'
            RETURNING id, run_id, job_seq
        )",
        record_id,
        delay_secs,
    )
    .bind(error)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Schedules the record again without counting an attempt (used while credentials are
/// refused: the record did nothing wrong).
pub async fn postpone(
    conn: &mut PgConnection,
    record_id: i64,
    reason: &str,
    delay_secs: f64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE records SET last_error = $2, updated_at = now() WHERE id = $1")
        .bind(record_id)
        .bind(reason)
        .execute(&mut *conn)
        .await?;
    jobs::push_ready(conn, &[record_id], delay_secs).await?;
    Ok(())
}

/// Fails a record for good, keeping its reason, and blocks every record that depends on it,
/// directly or not. Returns how many were blocked.
pub async fn mark_failed_and_block(
    conn: &mut PgConnection,
    record_id: i64,
    error: &str,
) -> Result<u64, sqlx::Error> {
    sqlx::query(
        "UPDATE records SET state = 'failed', last_error = $2, updated_at = now()
         WHERE id = $1 AND state = 'ready'",
    )
    .bind(record_id)
    .bind(error)
    .execute(&mut *conn)
    .await?;
    block_below(conn, record_id).await
}

/// Blocks every waiting record that depends on `record_id`, directly or not, naming it.
async fn block_below(conn: &mut PgConnection, record_id: i64) -> Result<u64, sqlx::Error> {
    let blocked = sqlx::query(
        r#"
        WITH RECURSIVE below AS (
            SELECT child_id FROM record_deps WHERE parent_id = $1
            UNION
            SELECT d.child_id FROM record_deps d JOIN below b ON d.parent_id = b.child_id
        )
        UPDATE records SET state = 'blocked', blocked_by = $1, updated_at = now(),
               last_error = 'blocked: depends on failed record #' || $1
        WHERE id IN (SELECT child_id FROM below) AND state = 'waiting'
        "#,
    )
    .bind(record_id)
    .execute(&mut *conn)
    .await?;
    Ok(blocked.rows_affected())
}

/// What [`retry_run`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetrySummary {
    /// Failed records made ready again (attempts reset).
    pub failed: u64,
    /// Blocked records made waiting again.
    pub unblocked: u64,
    /// Ready records that had no live job and got one.
    pub orphans: u64,
}

/// Brings a run's failed records back (attempts reset, new jobs), unblocks their dependents,
/// and gives a job to any ready record that lost its own (e.g. apalis gave up on it).
/// Refuses (`InvalidArgument`, saying why) a run that is rolling back or rolled back.
pub async fn retry_run(conn: &mut PgConnection, run_id: i64) -> Result<RetrySummary, sqlx::Error> {
    crate::rollback::ensure_not_rolled_back(conn, run_id).await?;
    let failed: Vec<i64> = sqlx::query_scalar(
        "UPDATE records SET state = 'ready', attempts = 0, updated_at = now()
         WHERE run_id = $1 AND state = 'failed' AND pending_deps = 0 RETURNING id",
    )
    .bind(run_id)
    .fetch_all(&mut *conn)
    .await?;
    // A failed record whose own parents are not all done (enqueue found a parent missing
    // and the source was fixed since) waits again instead.
    let failed_waiting = sqlx::query(
        "UPDATE records SET state = 'waiting', attempts = 0, updated_at = now()
         WHERE run_id = $1 AND state = 'failed' AND pending_deps > 0",
    )
    .bind(run_id)
    .execute(&mut *conn)
    .await?;
    let unblocked = sqlx::query(
        "UPDATE records SET state = 'waiting', blocked_by = NULL, last_error = NULL,
                updated_at = now()
         WHERE run_id = $1 AND state = 'blocked'",
    )
    .bind(run_id)
    .execute(&mut *conn)
    .await?;
    let became_ready: Vec<i64> = sqlx::query_scalar(
        "UPDATE records SET state = 'ready', updated_at = now()
         WHERE run_id = $1 AND state = 'waiting' AND pending_deps = 0 RETURNING id",
    )
    .bind(run_id)
    .fetch_all(&mut *conn)
    .await?;
    let orphans: Vec<i64> = sqlx::query_scalar(
        r#"
        SELECT r.id FROM records r
        WHERE r.run_id = $1 AND r.state = 'ready' AND r.id <> ALL($2)
          AND NOT EXISTS (
            SELECT 1 FROM apalis.jobs j
            WHERE j.job_type = $3 AND j.idempotency_key = 'rec-' || r.id || '-' || r.job_seq
              AND (j.status IN ('Pending', 'Queued', 'Running')
                   OR (j.status = 'Failed' AND j.attempts < j.max_attempts)))
        "#,
    )
    .bind(run_id)
    .bind(&failed)
    .bind(jobs::QUEUE)
    .fetch_all(&mut *conn)
    .await?;
    let mut push = failed.clone();
    push.extend(&became_ready);
    push.extend(&orphans);
    jobs::push_ready(conn, &push, 0.0).await?;
    Ok(RetrySummary {
        failed: failed.len() as u64 + failed_waiting.rows_affected(),
        unblocked: unblocked.rows_affected(),
        orphans: orphans.len() as u64,
    })
}

/// Fails records of one kind at once, each with its own reason (bad source data found while
/// enqueueing), blocking their dependents.
pub async fn fail_by_source(
    conn: &mut PgConnection,
    run_id: i64,
    kind: RecordKind,
    failures: &[(i64, String)],
) -> Result<u64, sqlx::Error> {
    let mut n = 0;
    for (source_id, reason) in failures {
        let id: Option<i64> = sqlx::query_scalar(
            "UPDATE records SET state = 'failed', last_error = $4, updated_at = now()
             WHERE run_id = $1 AND kind = $2 AND source_id = $3
               AND state IN ('waiting', 'ready') RETURNING id",
        )
        .bind(run_id)
        .bind(kind.as_str())
        .bind(source_id)
        .bind(reason)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(id) = id {
            block_below(conn, id).await?;
            n += 1;
        }
    }
    Ok(n)
}
