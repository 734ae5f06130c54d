//! Rollback bookkeeping: which records of a run still have an item in qTest, what a record's
//! item hangs on, and the durable marks that make `ztoq rollback` resumable.
//!
//! A record is "pending" while it is `done` and `rolled_back_at` is unset: its qTest item (as
//! far as ztoq knows) exists. Each removal is marked on its record the moment qTest confirms it
//! (or answers 404: already gone), so an interrupted rollback loses at most the marks of the
//! deletes in flight, and those find 404 the next time. The run itself is marked when nothing
//! is pending any more.
//!
//! A record's item may be deleted only once none of its dependents' items exists any more
//! ([`Pending::alive_dependents`]): that is what orders a rollback children-first. The one
//! exception is the chain of executions of one (cycle, test case) pair, which share one test
//! run and are removed together ([`test_run_members`]).

use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, Row};
use std::collections::BTreeMap;
use ztoq_model::RecordKind;

/// Where a run's rollback stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRollback {
    /// When the first rollback of the run started.
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the last of its items was removed.
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The rollback state of a run (`None`: no such run).
pub async fn state(
    conn: &mut PgConnection,
    run_id: i64,
) -> Result<Option<RunRollback>, sqlx::Error> {
    let row = sqlx::query("SELECT rollback_started_at, rolled_back_at FROM runs WHERE id = $1")
        .bind(run_id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        Ok(RunRollback {
            started_at: r.try_get("rollback_started_at")?,
            finished_at: r.try_get("rolled_back_at")?,
        })
    })
    .transpose()
}

/// What [`begin`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Begin {
    /// The run does not exist.
    NoSuchRun,
    /// Records are still waiting or queued (workers may be writing them) and `force` was not
    /// given: nothing was changed.
    Refused {
        /// Records waiting for their dependencies.
        waiting: u64,
        /// Records with a job (queued or being processed).
        ready: u64,
    },
    /// The run is rolling back.
    Started {
        /// Whether an earlier rollback had already started it.
        resumed: bool,
        /// Waiting or queued records failed as cancelled (only with `force`).
        cancelled: u64,
    },
}

/// The reason stored on records cancelled by a forced rollback.
pub const CANCELLED: &str = "cancelled: the run is being rolled back";

/// Starts (or resumes) the rollback of a run. Unless `force`, refuses while any record is
/// `waiting` or `ready`; with `force`, fails those as cancelled, so that no worker writes them
/// afterwards (a job finds its record no longer `ready` and does nothing). Marks the run as
/// rolling back: from then on `retry` refuses it and enqueueing its project continues it no
/// more. Run it inside a transaction (it locks the run row).
pub async fn begin(
    conn: &mut PgConnection,
    run_id: i64,
    force: bool,
) -> Result<Begin, sqlx::Error> {
    let row = sqlx::query("SELECT rollback_started_at FROM runs WHERE id = $1 FOR UPDATE")
        .bind(run_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else {
        return Ok(Begin::NoSuchRun);
    };
    let started: Option<chrono::DateTime<chrono::Utc>> = row.try_get("rollback_started_at")?;
    let active = sqlx::query(
        "SELECT count(*) FILTER (WHERE state = 'waiting') AS waiting,
                count(*) FILTER (WHERE state = 'ready') AS ready
         FROM records WHERE run_id = $1 AND state IN ('waiting', 'ready')",
    )
    .bind(run_id)
    .fetch_one(&mut *conn)
    .await?;
    let waiting = active.try_get::<i64, _>("waiting")? as u64;
    let ready = active.try_get::<i64, _>("ready")? as u64;
    if waiting + ready > 0 && !force {
        return Ok(Begin::Refused { waiting, ready });
    }
    sqlx::query(
        "UPDATE runs SET rollback_started_at = coalesce(rollback_started_at, now()) WHERE id = $1",
    )
    .bind(run_id)
    .execute(&mut *conn)
    .await?;
    let cancelled = sqlx::query(
        "UPDATE records SET state = 'failed', last_error = $2, updated_at = now()
         WHERE run_id = $1 AND state IN ('waiting', 'ready')",
    )
    .bind(run_id)
    .bind(CANCELLED)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(Begin::Started {
        resumed: started.is_some(),
        cancelled,
    })
}

/// A record whose qTest item has to go.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// Record id.
    pub record_id: i64,
    /// Source key or name, for messages.
    pub source_key: String,
    /// The qTest id the worker stored.
    pub qtest_id: Option<i64>,
    /// The extra qTest data the worker stored (e.g. an execution's `run_id` and `log_id`).
    pub qtest_data: Option<Value>,
    /// Dependents whose items still exist (not counting the executions that share an
    /// execution's test run): the item must stay until they are gone.
    pub alive_dependents: i64,
    /// For an attachment: the record it hangs on.
    pub owner: Option<Owner>,
}

/// The record an attachment hangs on.
#[derive(Debug, Clone, PartialEq)]
pub struct Owner {
    /// `test_case` or `execution`.
    pub kind: RecordKind,
    /// Its qTest id (a test case's id).
    pub qtest_id: Option<i64>,
    /// Its qTest data (an execution's `log_id`).
    pub qtest_data: Option<Value>,
    /// Whether its own item was already removed (which took the attachment with it).
    pub rolled_back: bool,
}

/// Pending records of a run and kind with id above `after_id`, in id order, at most `limit`.
pub async fn pending_page(
    conn: &mut PgConnection,
    run_id: i64,
    kind: RecordKind,
    after_id: i64,
    limit: i64,
) -> Result<Vec<Pending>, sqlx::Error> {
    let rows = sqlx::query(
        r#"
        SELECT r.id, r.source_key, r.qtest_id, r.qtest_data,
               (SELECT count(*) FROM record_deps d JOIN records c ON c.id = d.child_id
                WHERE d.parent_id = r.id AND c.state = 'done' AND c.rolled_back_at IS NULL
                  AND NOT (r.kind = 'execution' AND c.kind = 'execution')) AS alive_dependents,
               o.kind AS owner_kind, o.qtest_id AS owner_qtest_id,
               o.qtest_data AS owner_qtest_data, o.rolled_back_at IS NOT NULL AS owner_rolled_back
        FROM records r
        LEFT JOIN LATERAL (
            SELECT p.kind, p.qtest_id, p.qtest_data, p.rolled_back_at
            FROM record_deps d JOIN records p ON p.id = d.parent_id
            WHERE d.child_id = r.id AND r.kind = 'attachment'
            ORDER BY p.id LIMIT 1
        ) o ON true
        WHERE r.run_id = $1 AND r.kind = $2 AND r.state = 'done' AND r.rolled_back_at IS NULL
          AND r.id > $3
        ORDER BY r.id
        LIMIT $4
        "#,
    )
    .bind(run_id)
    .bind(kind.as_str())
    .bind(after_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let owner_kind: Option<String> = r.try_get("owner_kind")?;
            let owner = owner_kind
                .map(|k| -> Result<Owner, sqlx::Error> {
                    Ok(Owner {
                        kind: k.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                        qtest_id: r.try_get("owner_qtest_id")?,
                        qtest_data: r.try_get("owner_qtest_data")?,
                        rolled_back: r.try_get("owner_rolled_back")?,
                    })
                })
                .transpose()?;
            Ok(Pending {
                record_id: r.try_get("id")?,
                source_key: r.try_get("source_key")?,
                qtest_id: r.try_get("qtest_id")?,
                qtest_data: r.try_get("qtest_data")?,
                alive_dependents: r.try_get("alive_dependents")?,
                owner,
            })
        })
        .collect()
}

/// A pending execution sharing a test run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Record id.
    pub record_id: i64,
    /// Its dependents (attachments on its test log) whose items still exist.
    pub alive_dependents: i64,
}

/// The pending executions of a run whose test run is `test_run_id` (`qtest_data.run_id`).
pub async fn test_run_members(
    conn: &mut PgConnection,
    run_id: i64,
    test_run_id: i64,
) -> Result<Vec<Member>, sqlx::Error> {
    let rows = sqlx::query(
        r#"
        SELECT r.id,
               (SELECT count(*) FROM record_deps d JOIN records c ON c.id = d.child_id
                WHERE d.parent_id = r.id AND c.kind <> 'execution' AND c.state = 'done'
                  AND c.rolled_back_at IS NULL) AS alive_dependents
        FROM records r
        WHERE r.run_id = $1 AND r.kind = 'execution' AND r.state = 'done'
          AND (r.qtest_data ->> 'run_id') = $2 AND r.rolled_back_at IS NULL
        ORDER BY r.id
        "#,
    )
    .bind(run_id)
    .bind(test_run_id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Member {
                record_id: r.try_get("id")?,
                alive_dependents: r.try_get("alive_dependents")?,
            })
        })
        .collect()
}

/// Marks records as rolled back (their item was deleted or found gone). Returns how many
/// were still pending.
pub async fn mark_rolled_back(
    conn: &mut PgConnection,
    record_ids: &[i64],
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE records SET rolled_back_at = now(), rollback_error = NULL, updated_at = now()
         WHERE id = ANY($1) AND rolled_back_at IS NULL",
    )
    .bind(record_ids)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Stores why records could not be rolled back (they stay pending).
pub async fn mark_failed(
    conn: &mut PgConnection,
    record_ids: &[i64],
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE records SET rollback_error = $2, updated_at = now()
         WHERE id = ANY($1) AND rolled_back_at IS NULL",
    )
    .bind(record_ids)
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// Per kind: records rolled back, and records whose item is still in qTest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KindProgress {
    /// Items removed (or found gone) by a rollback.
    pub rolled_back: u64,
    /// Items still in qTest.
    pub remaining: u64,
}

/// Rollback progress of a run by kind (every kind present).
pub async fn progress(
    conn: &mut PgConnection,
    run_id: i64,
) -> Result<BTreeMap<RecordKind, KindProgress>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT kind,
                count(*) FILTER (WHERE rolled_back_at IS NOT NULL) AS rolled_back,
                count(*) FILTER (WHERE state = 'done' AND rolled_back_at IS NULL) AS remaining
         FROM records WHERE run_id = $1 GROUP BY kind",
    )
    .bind(run_id)
    .fetch_all(conn)
    .await?;
    let mut out: BTreeMap<RecordKind, KindProgress> = RecordKind::ALL
        .into_iter()
        .map(|k| (k, KindProgress::default()))
        .collect();
    for row in rows {
        let kind: String = row.try_get("kind")?;
        let Ok(kind) = kind.parse::<RecordKind>() else {
            continue;
        };
        out.insert(
            kind,
            KindProgress {
                rolled_back: row.try_get::<i64, _>("rolled_back")? as u64,
                remaining: row.try_get::<i64, _>("remaining")? as u64,
            },
        );
    }
    Ok(out)
}

/// Marks the run rolled back when it is rolling back and nothing of it is left: no pending
/// record, none waiting or queued. Returns whether the run is (now or already) rolled back.
pub async fn finish(conn: &mut PgConnection, run_id: i64) -> Result<bool, sqlx::Error> {
    let done: Option<bool> = sqlx::query_scalar(
        r#"
        UPDATE runs SET rolled_back_at = coalesce(rolled_back_at, now())
        WHERE id = $1 AND rollback_started_at IS NOT NULL
          AND NOT EXISTS (
            SELECT 1 FROM records
            WHERE run_id = $1
              AND ((state = 'done' AND rolled_back_at IS NULL) OR state IN ('waiting', 'ready')))
        RETURNING true
        "#,
    )
    .bind(run_id)
    .fetch_optional(conn)
    .await?;
    Ok(done.unwrap_or(false))
}

/// Refuses work on a run that is rolling back or rolled back (what `retry` must not revive),
/// with a message saying so.
pub async fn ensure_not_rolled_back(
    conn: &mut PgConnection,
    run_id: i64,
) -> Result<(), sqlx::Error> {
    if let Some(RunRollback {
        started_at: Some(started),
        finished_at,
    }) = state(conn, run_id).await?
    {
        let message = match finished_at {
            Some(at) => format!(
                "run {run_id} was rolled back at {at}: its records are not migrated again (enqueue the project again to start a new run)"
            ),
            None => format!(
                "run {run_id} is being rolled back (since {started}): its records are not migrated again; finish with `ztoq rollback --run {run_id}`"
            ),
        };
        return Err(sqlx::Error::InvalidArgument(message));
    }
    Ok(())
}
