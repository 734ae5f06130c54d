//! Read-only views of a run for operators: counts by kind and state, and the failures with
//! their reasons.

use serde::Serialize;
use sqlx::{PgConnection, Row};
use std::collections::BTreeMap;
use ztoq_model::{RecordKind, RecordState};

/// Counts of one kind's records by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KindCounts {
    /// All records of the kind (= items found in the source).
    pub source: u64,
    /// Done: written to qTest.
    pub migrated: u64,
    /// Failed for good.
    pub failed: u64,
    /// Waiting on a failed record.
    pub blocked: u64,
    /// Waiting on unfinished records.
    pub waiting: u64,
    /// Queued or running.
    pub ready: u64,
}

impl KindCounts {
    /// Records that will not move without an operator (done, failed or blocked).
    pub fn settled(&self) -> u64 {
        self.migrated + self.failed + self.blocked
    }
}

/// Counts by kind (every kind present, zero when absent) and their total.
pub async fn counts(
    conn: &mut PgConnection,
    run_id: i64,
) -> Result<BTreeMap<RecordKind, KindCounts>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT kind, state, count(*) AS n FROM records WHERE run_id = $1 GROUP BY kind, state",
    )
    .bind(run_id)
    .fetch_all(conn)
    .await?;
    let mut out: BTreeMap<RecordKind, KindCounts> = RecordKind::ALL
        .into_iter()
        .map(|k| (k, KindCounts::default()))
        .collect();
    for row in rows {
        let kind: String = row.get("kind");
        let state: String = row.get("state");
        let n = row.get::<i64, _>("n") as u64;
        let (Ok(kind), Ok(state)) = (kind.parse::<RecordKind>(), state.parse::<RecordState>())
        else {
            continue;
        };
        let c = out.entry(kind).or_default();
        c.source += n;
        match state {
            RecordState::Done => c.migrated += n,
            RecordState::Failed => c.failed += n,
            RecordState::Blocked => c.blocked += n,
            RecordState::Waiting => c.waiting += n,
            RecordState::Ready => c.ready += n,
        }
    }
    Ok(out)
}

/// Whether any record of the run still waits or is ready (not settled). An index probe on
/// `records_state_run_kind`, whatever the run's size: what a progress loop polls often,
/// leaving [`counts`] (which reads every record of the run) for the display.
pub async fn unsettled(conn: &mut PgConnection, run_id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM records WHERE state IN ('waiting', 'ready') AND run_id = $1)",
    )
    .bind(run_id)
    .fetch_one(conn)
    .await
}

/// Sum of all kinds.
pub fn total(counts: &BTreeMap<RecordKind, KindCounts>) -> KindCounts {
    counts.values().fold(KindCounts::default(), |mut t, c| {
        t.source += c.source;
        t.migrated += c.migrated;
        t.failed += c.failed;
        t.blocked += c.blocked;
        t.waiting += c.waiting;
        t.ready += c.ready;
        t
    })
}

/// A failed or blocked record with its reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    /// Record id.
    pub record_id: i64,
    /// Kind.
    pub kind: RecordKind,
    /// Source key or name.
    pub source_key: String,
    /// `failed` or `blocked`.
    pub state: RecordState,
    /// Attempts made.
    pub attempts: i32,
    /// The reason.
    pub error: Option<String>,
    /// For blocked records: the failed record they wait on, and its key.
    pub blocked_by: Option<String>,
}

/// Failed records first, then blocked ones, up to `limit`.
pub async fn failures(
    conn: &mut PgConnection,
    run_id: i64,
    limit: i64,
) -> Result<Vec<Failure>, sqlx::Error> {
    let rows = sqlx::query(
        r#"
        SELECT r.id, r.kind, r.source_key, r.state, r.attempts, r.last_error,
               b.kind || ' ' || b.source_key AS blocked_by
        FROM records r LEFT JOIN records b ON b.id = r.blocked_by
        WHERE r.run_id = $1 AND r.state IN ('failed', 'blocked')
        ORDER BY r.state DESC, r.id
        LIMIT $2
        "#,
    )
    .bind(run_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let kind: String = r.get("kind");
            let state: String = r.get("state");
            Ok(Failure {
                record_id: r.get("id"),
                kind: kind.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                source_key: r.get("source_key"),
                state: state
                    .parse()
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                attempts: r.get("attempts"),
                error: r.get("last_error"),
                blocked_by: r.get("blocked_by"),
            })
        })
        .collect()
}

/// Jobs in the queue by apalis status (for the queue-depth metric and `status`); statuses
/// without jobs are absent.
///
/// One count per status, each of which the planner can serve from a partial index (apalis's
/// fetch index holds the pending jobs, migration 0008's `ztoq_jobs_held_by` the queued and
/// running ones), instead of a `GROUP BY` over a sequential scan of every job ever pushed
/// (253 ms per call at 200k records, polled every 10 s by each worker, and growing with the
/// run).
pub async fn queue_depth(conn: &mut PgConnection) -> Result<BTreeMap<String, u64>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT
           (SELECT count(*) FROM apalis.jobs WHERE job_type = $1 AND status = 'Pending')
               AS pending,
           (SELECT count(*) FROM apalis.jobs WHERE job_type = $1 AND status = 'Queued')
               AS queued,
           (SELECT count(*) FROM apalis.jobs WHERE job_type = $1 AND status = 'Running')
               AS running",
    )
    .bind(crate::jobs::QUEUE)
    .fetch_one(conn)
    .await?;
    let mut out = BTreeMap::new();
    for (status, column) in [
        ("Pending", "pending"),
        ("Queued", "queued"),
        ("Running", "running"),
    ] {
        let n: i64 = row.try_get(column)?;
        if n > 0 {
            out.insert(status.to_string(), n as u64);
        }
    }
    Ok(out)
}
