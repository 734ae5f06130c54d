//! Creating records in bulk with their dependency edges ([`insert_records`]), in five
//! statements per batch whatever its size:
//!
//! 1. the parents of earlier batches are read under `FOR SHARE` (ordered by id), so that a
//!    parent being marked done concurrently is ordered before us (we read it done) or after
//!    us (its release, a later statement, sees our committed edges): no child is ever left
//!    waiting for a parent that is already done;
//! 2. ids are drawn from the records' sequence, one per new record;
//! 3. the records are settled in Rust ([`plan`](super::plan)) and inserted once, each with
//!    its final state, pending count and job generation (no second version of every row);
//! 4. the edges are inserted by record id (no lookups: the parents were read in 1);
//! 5. a job is pushed for each record that is ready.
//!
//! A record that already exists (same run, kind and source id) is left alone with its
//! edges, which is what makes enqueueing twice harmless. When one of them is the parent of a
//! new record of the same batch (a project enqueued again with new items, or two enqueues at
//! once), that child's edges go to the existing record and it is settled again by a statement
//! that locks its parents, as in 1.

use super::plan::{Batch, Parent, Settled};
use crate::jobs;
use sqlx::{PgConnection, Row};
use std::collections::{HashMap, HashSet};
use ztoq_model::{RecordKind, RecordState};

/// A record to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecord {
    /// Zephyr id of the item.
    pub source_id: i64,
    /// Human-readable identity (key or name) for reports.
    pub source_key: String,
}

/// "The record with this source id waits for that record."
#[derive(Debug, Clone, PartialEq)]
pub struct NewDep {
    /// Source id of the waiting record (of the kind being inserted).
    pub child_source_id: i64,
    /// Kind of the record waited for.
    pub parent_kind: RecordKind,
    /// Source id of the record waited for.
    pub parent_source_id: i64,
}

/// What [`insert_records`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Inserted {
    /// New records (existing ones are left alone).
    pub inserted: u64,
    /// New records runnable at once (a job was pushed for each).
    pub ready: u64,
    /// New records whose dependency already failed.
    pub blocked: u64,
    /// New records failed because a record they depend on does not exist in the source.
    pub missing_parent: u64,
}

/// Creates records of one kind with their dependency edges, settled against their parents,
/// and pushes a job for each that is ready. Records that already exist (same run, kind and
/// source id) are left untouched, with their edges: this is what makes enqueueing twice
/// harmless. Run it inside a transaction.
pub async fn insert_records(
    conn: &mut PgConnection,
    run_id: i64,
    kind: RecordKind,
    records: &[NewRecord],
    deps: &[NewDep],
) -> Result<Inserted, sqlx::Error> {
    let mut out = Inserted::default();
    if records.is_empty() {
        return Ok(out);
    }
    let batch = Batch::new(kind, records, deps);
    let earlier = lock_parents(conn, run_id, &batch.earlier_parents()).await?;
    let ids = new_ids(conn, batch.records.len()).await?;
    let settled = batch.settle(kind, &ids, &earlier);
    let inserted = insert_settled(conn, run_id, kind, &batch, &ids, &settled).await?;
    out.inserted = inserted.len() as u64;
    if inserted.is_empty() {
        return Ok(out);
    }
    let is_new: Vec<bool> = ids.iter().map(|id| inserted.contains(id)).collect();

    // Records of the batch that existed already: their real ids, for their new children.
    let mut real_ids = ids.clone();
    let existing: Vec<usize> = (0..ids.len()).filter(|&i| !is_new[i]).collect();
    let mut resettle: Vec<i64> = Vec::new();
    if !existing.is_empty() {
        let found = existing_ids(conn, run_id, kind, &batch, &existing).await?;
        for &i in &existing {
            real_ids[i] = found
                .get(&batch.records[i].source_id)
                .copied()
                .unwrap_or(-1);
        }
        for i in (0..ids.len()).filter(|&i| is_new[i]) {
            if settled[i].state != RecordState::Failed && batch.batch_parents(i).any(|p| !is_new[p])
            {
                resettle.push(ids[i]);
            }
        }
    }

    let mut parents: Vec<i64> = Vec::new();
    let mut children: Vec<i64> = Vec::new();
    for i in (0..ids.len()).filter(|&i| is_new[i]) {
        for p in batch.parent_ids(i, &real_ids, &earlier) {
            if p >= 0 {
                parents.push(p);
                children.push(ids[i]);
            }
        }
    }
    insert_edges(conn, &mut parents, &mut children).await?;

    let resettled: HashSet<i64> = resettle.iter().copied().collect();
    let mut ready: Vec<i64> = Vec::new();
    for (i, s) in settled.iter().enumerate() {
        if !is_new[i] || resettled.contains(&ids[i]) {
            continue;
        }
        match s.state {
            RecordState::Ready => ready.push(ids[i]),
            RecordState::Blocked => out.blocked += 1,
            RecordState::Failed => out.missing_parent += 1,
            _ => {}
        }
    }
    push_first_jobs(conn, run_id, &ready).await?;
    out.ready = ready.len() as u64;
    if !resettle.is_empty() {
        let states = settle_new(conn, &resettle).await?;
        let again: Vec<i64> = states
            .iter()
            .filter(|(_, s)| *s == RecordState::Ready)
            .map(|(id, _)| *id)
            .collect();
        out.blocked += states
            .iter()
            .filter(|(_, s)| *s == RecordState::Blocked)
            .count() as u64;
        out.ready += again.len() as u64;
        jobs::push_ready(conn, &again, 0.0).await?;
    }
    Ok(out)
}

/// Reads (and locks `FOR SHARE`, in id order) the records of this run with the given kinds
/// and source ids; the ones that do not exist are absent from the map.
async fn lock_parents(
    conn: &mut PgConnection,
    run_id: i64,
    keys: &[(RecordKind, i64)],
) -> Result<HashMap<(RecordKind, i64), Parent>, sqlx::Error> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let kinds: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
    let sources: Vec<i64> = keys.iter().map(|(_, s)| *s).collect();
    let rows = sqlx::query(
        r#"
        SELECT p.id, p.kind, p.source_id, p.state, p.blocked_by
        FROM unnest($2::text[], $3::bigint[]) AS k(kind, source_id)
        JOIN records p ON p.run_id = $1 AND p.kind = k.kind AND p.source_id = k.source_id
        ORDER BY p.id
        FOR SHARE OF p
        "#,
    )
    .bind(run_id)
    .bind(&kinds)
    .bind(&sources)
    .fetch_all(&mut *conn)
    .await?;
    let decode = |e| sqlx::Error::Decode(Box::new(e));
    let mut out = HashMap::with_capacity(rows.len());
    for r in &rows {
        let kind: RecordKind = r.try_get::<String, _>("kind")?.parse().map_err(decode)?;
        let state: RecordState = r.try_get::<String, _>("state")?.parse().map_err(decode)?;
        out.insert(
            (kind, r.try_get("source_id")?),
            Parent {
                id: r.try_get("id")?,
                state,
                blocked_by: r.try_get("blocked_by")?,
            },
        );
    }
    Ok(out)
}

/// `n` fresh record ids from the records' sequence.
async fn new_ids(conn: &mut PgConnection, n: usize) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT nextval('records_id_seq') FROM generate_series(1, $1)")
        .bind(n as i64)
        .fetch_all(&mut *conn)
        .await
}

/// Inserts the batch's records with their ids and settled states; returns the ids of those
/// inserted (a record that already exists keeps its own id and is not inserted).
async fn insert_settled(
    conn: &mut PgConnection,
    run_id: i64,
    kind: RecordKind,
    batch: &Batch<'_>,
    ids: &[i64],
    settled: &[Settled],
) -> Result<HashSet<i64>, sqlx::Error> {
    let sources: Vec<i64> = batch.records.iter().map(|r| r.source_id).collect();
    let keys: Vec<&str> = batch
        .records
        .iter()
        .map(|r| r.source_key.as_str())
        .collect();
    let states: Vec<&str> = settled.iter().map(|s| s.state.as_str()).collect();
    let pending: Vec<i32> = settled.iter().map(|s| s.pending).collect();
    let blocked_by: Vec<Option<i64>> = settled.iter().map(|s| s.blocked_by).collect();
    let errors: Vec<Option<&str>> = settled.iter().map(|s| s.last_error.as_deref()).collect();
    // A ready record gets its first job (generation 1) right after: see `push_first_jobs`.
    let job_seq: Vec<i32> = settled
        .iter()
        .map(|s| i32::from(s.state == RecordState::Ready))
        .collect();
    let rows: Vec<i64> = sqlx::query_scalar(
        r#"
        INSERT INTO records (id, run_id, kind, source_id, source_key, state, pending_deps,
                             blocked_by, last_error, job_seq)
        SELECT u.id, $1, $2, u.source_id, u.source_key, u.state, u.pending, u.blocked_by,
               u.last_error, u.job_seq
        FROM unnest($3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::int[],
                    $8::bigint[], $9::text[], $10::int[])
             AS u(id, source_id, source_key, state, pending, blocked_by, last_error, job_seq)
        ON CONFLICT (run_id, kind, source_id) DO NOTHING
        RETURNING id
        "#,
    )
    .bind(run_id)
    .bind(kind.as_str())
    .bind(ids)
    .bind(&sources)
    .bind(&keys)
    .bind(&states)
    .bind(&pending)
    .bind(&blocked_by)
    .bind(&errors)
    .bind(&job_seq)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// The ids of the batch's records at `which` that existed before this batch.
async fn existing_ids(
    conn: &mut PgConnection,
    run_id: i64,
    kind: RecordKind,
    batch: &Batch<'_>,
    which: &[usize],
) -> Result<HashMap<i64, i64>, sqlx::Error> {
    let sources: Vec<i64> = which.iter().map(|&i| batch.records[i].source_id).collect();
    let rows = sqlx::query(
        "SELECT source_id, id FROM records WHERE run_id = $1 AND kind = $2 AND source_id = ANY($3)",
    )
    .bind(run_id)
    .bind(kind.as_str())
    .bind(&sources)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("source_id")?, r.try_get("id")?)))
        .collect()
}

/// Inserts the edges `parents[i] → children[i]` (sorted, each once: the children are new, so
/// none exists yet).
async fn insert_edges(
    conn: &mut PgConnection,
    parents: &mut Vec<i64>,
    children: &mut Vec<i64>,
) -> Result<(), sqlx::Error> {
    if parents.is_empty() {
        return Ok(());
    }
    let mut edges: Vec<(i64, i64)> = parents
        .iter()
        .copied()
        .zip(children.iter().copied())
        .collect();
    edges.sort_unstable();
    edges.dedup();
    *parents = edges.iter().map(|e| e.0).collect();
    *children = edges.iter().map(|e| e.1).collect();
    sqlx::query(
        "INSERT INTO record_deps (parent_id, child_id)
         SELECT * FROM unnest($1::bigint[], $2::bigint[])",
    )
    .bind(&*parents)
    .bind(&*children)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Pushes the first job (generation 1, already stored on the record) of each new ready record.
async fn push_first_jobs(
    conn: &mut PgConnection,
    run_id: i64,
    ready: &[i64],
) -> Result<(), sqlx::Error> {
    if ready.is_empty() {
        return Ok(());
    }
    jobs::ready_jobs_query(
        "WITH ready_jobs AS (SELECT u.id, $5::bigint AS run_id, 1 AS job_seq
                             FROM unnest($1::bigint[]) AS u(id))",
        ready,
        0.0,
    )
    .bind(run_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Computes `pending_deps` and the state of new records from their edges, locking their
/// parents `FOR SHARE` (as [`lock_parents`] does). Used for the new records whose parent in
/// the same batch already existed.
async fn settle_new(
    conn: &mut PgConnection,
    ids: &[i64],
) -> Result<Vec<(i64, RecordState)>, sqlx::Error> {
    let rows = sqlx::query(
        r#"
        WITH locked AS MATERIALIZED (
            SELECT p.id, p.state, p.blocked_by FROM records p
            WHERE p.id IN (SELECT d.parent_id FROM record_deps d WHERE d.child_id = ANY($1))
            ORDER BY p.id
            FOR SHARE
        ),
        counts AS (
            SELECT d.child_id,
                   count(*) FILTER (WHERE l.state <> 'done') AS pending,
                   min(coalesce(l.blocked_by, l.id))
                       FILTER (WHERE l.state IN ('failed', 'blocked')) AS bad
            FROM record_deps d JOIN locked l ON l.id = d.parent_id
            WHERE d.child_id = ANY($1)
            GROUP BY d.child_id
        )
        UPDATE records r
        SET pending_deps = coalesce(c.pending, 0),
            state = CASE WHEN c.bad IS NOT NULL THEN 'blocked'
                         WHEN coalesce(c.pending, 0) = 0 THEN 'ready'
                         ELSE 'waiting' END,
            blocked_by = c.bad,
            last_error = CASE WHEN c.bad IS NOT NULL
                              THEN 'blocked: depends on failed record #' || c.bad END,
            updated_at = now()
        FROM unnest($1::bigint[]) AS n(id) LEFT JOIN counts c ON c.child_id = n.id
        WHERE r.id = n.id
        RETURNING r.id, r.state
        "#,
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let state: String = r.get("state");
            let state = state
                .parse()
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            Ok((r.get("id"), state))
        })
        .collect()
}
