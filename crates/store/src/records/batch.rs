//! A worker's reads and writes of many records at once: the records it has just claimed, with
//! their parents ([`load_many`]), and the outcomes of the records it has finished
//! ([`mark_done_many`], which also finishes the batch's queue jobs, then [`release_many`]): a
//! few statements per batch of records instead of several per record, which is what a run of
//! 500k records costs in Postgres CPU.
//!
//! Every statement reaches `records` through `id = ANY(…)` (a primary-key probe whatever the
//! planner's statistics say: a join planned on a grown table's stale statistics once hashed all
//! of `records` per call, see `crate::stats`).

use super::{RECORD_COLUMNS, Record, record_from_row};
use crate::jobs;
use serde_json::Value;
use sqlx::{PgConnection, Row};
use std::collections::HashMap;

/// Records among `record_ids` that exist, each with the records it depends on, in one
/// statement. Run it after taking the records' work locks, in a statement of its own (its
/// snapshot must postdate the locks, so it sees the outcome of the attempts that held them).
pub async fn load_many(
    conn: &mut PgConnection,
    record_ids: &[i64],
) -> Result<HashMap<i64, (Record, Vec<Record>)>, sqlx::Error> {
    if record_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let columns = |t: &str| {
        RECORD_COLUMNS
            .split(", ")
            .map(|c| format!("{t}.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        // The parents through a LATERAL subquery that cannot be pulled up (OFFSET 0): one
        // primary-key probe per edge, never a join over the whole table.
        "SELECT NULL::bigint AS child_of, {} FROM records r WHERE r.id = ANY($1)
         UNION ALL
         SELECT d.child_id, {} FROM record_deps d
         CROSS JOIN LATERAL (SELECT * FROM records p WHERE p.id = d.parent_id OFFSET 0) p
         WHERE d.child_id = ANY($1)",
        columns("r"),
        columns("p")
    )))
    .bind(record_ids)
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<i64, (Record, Vec<Record>)> = HashMap::with_capacity(record_ids.len());
    let mut parents: Vec<(i64, Record)> = Vec::new();
    for row in &rows {
        let record = record_from_row(row)?;
        match row.try_get::<Option<i64>, _>("child_of")? {
            Some(child) => parents.push((child, record)),
            None => {
                out.insert(record.id, (record, Vec::new()));
            }
        }
    }
    for (child, parent) in parents {
        if let Some((_, list)) = out.get_mut(&child) {
            list.push(parent);
        }
    }
    Ok(out)
}

/// A finished record's outcome, for [`mark_done_many`].
#[derive(Debug, Clone, PartialEq)]
pub struct DoneRecord {
    /// Record id.
    pub id: i64,
    /// The job generation the attempt worked on (the record must still be at it); `None`:
    /// whatever its generation.
    pub job_seq: Option<i32>,
    /// The qTest id to store.
    pub qtest_id: i64,
    /// Extra qTest data dependents need.
    pub qtest_data: Option<Value>,
}

/// Stores the qTest ids and marks the records done, each only if it is still `ready` at the
/// generation its attempt worked on (otherwise another attempt settled it meanwhile and it is
/// left as it is), and finishes the queue jobs `finish_jobs` (those of the batch), in one
/// statement. Returns the ids marked. Follow it with [`release_many`] on those ids, in the
/// same transaction but a statement of its own.
pub async fn mark_done_many(
    conn: &mut PgConnection,
    done: &[DoneRecord],
    finish_jobs: &[String],
) -> Result<Vec<i64>, sqlx::Error> {
    if done.is_empty() && finish_jobs.is_empty() {
        return Ok(Vec::new());
    }
    let mut sorted: Vec<&DoneRecord> = done.iter().collect();
    sorted.sort_by_key(|d| d.id);
    let ids: Vec<i64> = sorted.iter().map(|d| d.id).collect();
    let seqs: Vec<Option<i32>> = sorted.iter().map(|d| d.job_seq).collect();
    let qtest_ids: Vec<i64> = sorted.iter().map(|d| d.qtest_id).collect();
    let data: Vec<Option<&Value>> = sorted.iter().map(|d| d.qtest_data.as_ref()).collect();
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "WITH finished AS ({})
         UPDATE records r SET state = 'done', qtest_id = u.qtest_id, qtest_data = u.qtest_data,
                last_error = NULL, done_at = now(), updated_at = now()
         FROM unnest($1::bigint[], $2::int[], $3::bigint[], $4::jsonb[])
              AS u(id, job_seq, qtest_id, qtest_data)
         WHERE r.id = ANY($1) AND r.id = u.id AND r.state = 'ready'
           AND (u.job_seq IS NULL OR r.job_seq = u.job_seq)
         RETURNING r.id",
        jobs::finish_sql(5)
    )))
    .bind(&ids)
    .bind(&seqs)
    .bind(&qtest_ids)
    .bind(&data)
    .bind(finish_jobs)
    .fetch_all(conn)
    .await
}

/// Releases the dependents of records just marked done: each child's count of pending parents
/// drops by the number of its parents among `done_ids`, and those that reach zero become
/// ready with their next job generation and its job, all in one statement. Returns how many
/// jobs were pushed.
///
/// A statement of its own after [`mark_done_many`], on purpose: marking a record done takes its
/// row lock, waiting for any `FOR SHARE` settle of new children by `insert_records`; the
/// release must read the edges with a snapshot taken after that wait, or it would miss the
/// children just committed (`crates/store/tests/insert.rs` shows it). Children are updated in
/// id order (the index scan of `id = ANY(…)`), so concurrent releases do not deadlock on them.
pub async fn release_many(conn: &mut PgConnection, done_ids: &[i64]) -> Result<u64, sqlx::Error> {
    if done_ids.is_empty() {
        return Ok(0);
    }
    let released = jobs::ready_jobs_query(
        r#"
        WITH edges AS MATERIALIZED (
            SELECT child_id, count(*)::int AS n FROM record_deps
            WHERE parent_id = ANY($1) GROUP BY child_id
        ),
        released AS (
            UPDATE records c
            SET pending_deps = c.pending_deps - e.n,
                state = CASE WHEN c.pending_deps - e.n = 0 AND c.state = 'waiting' THEN 'ready'
                             ELSE c.state END,
                job_seq = CASE WHEN c.pending_deps - e.n = 0 AND c.state = 'waiting'
                               THEN c.job_seq + 1 ELSE c.job_seq END,
                updated_at = now()
            FROM edges e
            WHERE c.id = ANY(ARRAY(SELECT child_id FROM edges)) AND c.id = e.child_id
            RETURNING c.id, c.run_id, c.job_seq, c.state, c.pending_deps
        ),
        ready_jobs AS (
            SELECT id, run_id, job_seq FROM released WHERE state = 'ready' AND pending_deps = 0
        )
        "#,
        done_ids,
        0.0,
    )
    .execute(conn)
    .await?;
    Ok(released.rows_affected())
}
