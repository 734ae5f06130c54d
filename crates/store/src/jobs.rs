//! Pushing queue jobs into apalis-postgres's `apalis.jobs` from SQL.
//!
//! A job carries only `{run_id, record_id}` (never a secret, never source data). Its
//! idempotency key is `rec-{record_id}-{job_seq}`: each push bumps the record's `job_seq`, and
//! `ON CONFLICT DO NOTHING` makes a repeated push of the same generation harmless (apalis's own
//! sink would abort the whole batch on such a conflict).

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

/// The queue (apalis `job_type`) ztoq's workers consume. Set explicitly so a Rust refactor
/// cannot orphan rows under an old type name.
pub const QUEUE: &str = "ztoq-records";

/// How many times apalis itself may hand the same job out again after a crash (orphan
/// rescue and shutdown re-enqueue count as attempts). ztoq's own retries create new jobs.
pub const JOB_MAX_ATTEMPTS: i32 = 1000;

/// The payload of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordJob {
    /// The run.
    pub run_id: i64,
    /// The record to process.
    pub record_id: i64,
}

/// Inserts one job per row of the CTE `ready_jobs(id, run_id, job_seq)` (records whose
/// `job_seq` was just bumped), runnable after `$4` seconds; `$2` is [`QUEUE`] and `$3`
/// [`JOB_MAX_ATTEMPTS`]. The one place that writes ztoq's rows into `apalis.jobs`.
pub(crate) const INSERT_READY_JOBS: &str = r#"
        INSERT INTO apalis.jobs
            (id, job_type, job, status, attempts, max_attempts, run_at, priority, idempotency_key)
        SELECT apalis.generate_ulid(), $2,
               convert_to(json_build_object('run_id', run_id, 'record_id', id)::text, 'UTF8'),
               'Pending', 0, $3, now() + make_interval(secs => $4), 0,
               'rec-' || id || '-' || job_seq
        FROM ready_jobs
        ON CONFLICT (job_type, idempotency_key) DO NOTHING
"#;

/// Pushes one job for each of `record_ids` that is `ready`, runnable after `delay_secs`
/// (fractional seconds). Bumps each record's `job_seq`. Returns how many jobs were inserted.
pub async fn push_ready(
    conn: &mut PgConnection,
    record_ids: &[i64],
    delay_secs: f64,
) -> Result<u64, sqlx::Error> {
    if record_ids.is_empty() {
        return Ok(0);
    }
    let result = sqlx::query(sqlx::AssertSqlSafe(format!(
        r#"
        WITH ready_jobs AS (
            UPDATE records SET job_seq = job_seq + 1, updated_at = now()
            WHERE id = ANY($1) AND state = 'ready'
            RETURNING id, run_id, job_seq
        )
        {INSERT_READY_JOBS}
        "#
    )))
    .bind(record_ids)
    .bind(QUEUE)
    .bind(JOB_MAX_ATTEMPTS)
    .bind(delay_secs)
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}
