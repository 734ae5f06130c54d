//! Pushing queue jobs into apalis-postgres's `apalis.jobs` from SQL.
//!
//! A job carries only `{run_id, record_id, job_seq}` (never a secret, never source data). Its
//! idempotency key is `rec-{record_id}-{job_seq}`: each push bumps the record's `job_seq`, and
//! `ON CONFLICT DO NOTHING` makes a repeated push of the same generation harmless (apalis's own
//! sink would abort the whole batch on such a conflict). A job whose generation is no longer the
//! record's is stale: its record has moved on (done, retried, postponed) and the job is dropped.
//!
//! apalis claims the jobs (batched `get_jobs`), hands them to the handlers and keeps the
//! workers' heartbeats; ztoq's workers run it with `persist_results(false)` and
//! `lock_tasks(false)` and finish each job themselves, in the transaction that commits the
//! record's outcome ([`finish`], or with the records marked done:
//! `crate::records::mark_done_many`): a job is `Done` exactly when its outcome is stored, and a
//! job row is written three times (push, claim, finish) instead of four.

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
    /// The record's job generation this job was pushed for.
    pub job_seq: i32,
}

/// Inserts one job per row of the CTE `ready_jobs(id, run_id, job_seq)` (records whose
/// `job_seq` was just bumped), runnable after `$4` seconds; `$2` is [`QUEUE`] and `$3`
/// [`JOB_MAX_ATTEMPTS`]. The one place that writes ztoq's rows into `apalis.jobs`.
const INSERT_READY_JOBS: &str = r#"
        INSERT INTO apalis.jobs
            (id, job_type, job, status, attempts, max_attempts, run_at, priority, idempotency_key)
        SELECT apalis.generate_ulid(), $2,
               convert_to(json_build_object('run_id', run_id, 'record_id', id, 'job_seq', job_seq)::text,
                          'UTF8'),
               'Pending', 0, $3, now() + make_interval(secs => $4), 0,
               'rec-' || id || '-' || job_seq
        FROM ready_jobs
        ON CONFLICT (job_type, idempotency_key) DO NOTHING
"#;

/// The statement `ready_jobs_cte` (a `WITH` clause that defines `ready_jobs(id, run_id,
/// job_seq)` from `$1`, and from `$5…` if it needs more) followed by [`INSERT_READY_JOBS`], with `$1` bound to `first` and `$2`–`$4`
/// to [`QUEUE`], [`JOB_MAX_ATTEMPTS`] and `delay_secs`; the caller binds `$5…`.
pub(crate) fn ready_jobs_query<'q, T>(
    ready_jobs_cte: &str,
    first: T,
    delay_secs: f64,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>
where
    T: 'q + sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "{ready_jobs_cte}\n{INSERT_READY_JOBS}"
    )))
    .bind(first)
    .bind(QUEUE)
    .bind(JOB_MAX_ATTEMPTS)
    .bind(delay_secs)
}

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
    let result = ready_jobs_query(
        "WITH ready_jobs AS (
            UPDATE records SET job_seq = job_seq + 1, updated_at = now()
            WHERE id = ANY($1) AND state = 'ready'
            RETURNING id, run_id, job_seq
        )",
        record_ids,
        delay_secs,
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

/// The statement that finishes the jobs whose ids are parameter `$param` (a `text[]`): the one
/// place ztoq finishes a job, apalis's own acknowledgement being off. Also used as a CTE.
pub(crate) fn finish_sql(param: usize) -> String {
    format!("UPDATE apalis.jobs SET status = 'Done', done_at = now() WHERE id = ANY(${param})")
}

/// Marks jobs done (their outcome is being committed in the same transaction, or they had
/// nothing left to do).
pub async fn finish(conn: &mut PgConnection, job_ids: &[String]) -> Result<u64, sqlx::Error> {
    if job_ids.is_empty() {
        return Ok(0);
    }
    let result = sqlx::query(sqlx::AssertSqlSafe(finish_sql(1)))
        .bind(job_ids)
        .execute(conn)
        .await?;
    Ok(result.rows_affected())
}

/// Gives jobs back to the queue, runnable again after `delay_secs`, counting the hand-back as
/// an attempt (so the next run looks in qTest for what this one may have written first).
/// Used for a job met while another attempt at its record is in flight, and for a job whose
/// outcome could not be recorded.
pub async fn requeue(
    conn: &mut PgConnection,
    job_ids: &[String],
    delay_secs: f64,
) -> Result<u64, sqlx::Error> {
    if job_ids.is_empty() {
        return Ok(0);
    }
    let result = sqlx::query(
        "UPDATE apalis.jobs SET status = 'Pending', lock_by = NULL, lock_at = NULL,
                done_at = NULL, attempts = attempts + 1,
                run_at = now() + make_interval(secs => $2)
         WHERE id = ANY($1)",
    )
    .bind(job_ids)
    .bind(delay_secs)
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}
