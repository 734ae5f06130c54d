//! The job handler: one record, one attempt, and the one transaction that commits its outcome.

use crate::context::{Ctx, RunCtx};
use crate::failure::Failure;
use crate::kinds::{self, Details, Job, Outcome};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{Instrument, debug, info, warn};
use ztoq_http::ErrorClass;
use ztoq_model::{RecordKind, RecordState};
use ztoq_store::records::{self, NewDep, NewRecord, Record};
use ztoq_store::{PgConnection, Postgres, Transaction, jobs::RecordJob, lease, runs, snapshot};

/// Processes one job. Returns an error only when the outcome could not be recorded (Postgres
/// unreachable): apalis then hands the job out again, and the retry adopts what qTest holds.
pub async fn handle(ctx: Arc<Ctx>, job: RecordJob, attempt: usize) -> Result<(), Failure> {
    let span = tracing::info_span!(
        "record",
        run_id = job.run_id,
        record_id = job.record_id,
        kind = tracing::field::Empty,
        record_key = tracing::field::Empty
    );
    async move {
        // The record's work lock, held by this transaction for the whole attempt and released
        // by the commit of its outcome: a second live job for the same record (an orphan
        // rescued while its worker still runs, a stale job meeting the retry job) leaves the
        // record to the attempt in flight, whose outcome (done, or a next job) is still to
        // come. See `ztoq_store::lease`.
        let mut lock = ctx.pool.begin().await?;
        if !lease::try_lock_record(&mut lock, job.record_id).await? {
            debug!("another attempt at this record is in flight; leaving it to that one");
            metrics::counter!("ztoq_records_total", "kind" => "unknown", "outcome" => "skipped")
                .increment(1);
            let _ = lock.rollback().await;
            return Ok(());
        }
        attempt_record(&ctx, lock, job, attempt).await
    }
    .instrument(span)
    .await
}

/// The transaction holding a record's work lock, handed to the first write of the attempt's
/// outcome: the outcome (the record's next job included) commits and the lock goes in the
/// same instant, so no job of this record can meet the lock of the attempt that created it.
/// A write retried after a lost connection uses a fresh transaction (the lock died with the
/// connection).
struct Settle(std::sync::Mutex<Option<Transaction<'static, Postgres>>>);

impl Settle {
    /// The lock's transaction the first time, a new one afterwards.
    async fn begin(
        &self,
        pool: &sqlx::PgPool,
    ) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        let first = {
            let mut slot = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            slot.take()
        };
        match first {
            Some(tx) => Ok(tx),
            None => pool.begin().await,
        }
    }
}

/// One attempt at a record, under its work lock (`lock`, whose transaction also writes the
/// outcome: see [`Settle`]).
async fn attempt_record(
    ctx: &Arc<Ctx>,
    mut lock: Transaction<'static, Postgres>,
    job: RecordJob,
    attempt: usize,
) -> Result<(), Failure> {
    let conn: &mut PgConnection = &mut lock;
    // A statement of its own after the lock, so its snapshot sees the outcome of the attempt
    // that held the lock before; the record and its parents in one round trip.
    let Some((record, parents)) = records::get_with_parents(conn, job.record_id).await? else {
        warn!("job for a record that does not exist; dropped");
        let _ = lock.rollback().await;
        return Ok(());
    };
    tracing::Span::current()
        .record("kind", record.kind.as_str())
        .record("record_key", record.source_key.as_str());
    if record.state != RecordState::Ready {
        debug!(state = %record.state, "record is not ready; nothing to do");
        metrics::counter!("ztoq_records_total", "kind" => record.kind.as_str(), "outcome" => "skipped").increment(1);
        let _ = lock.rollback().await;
        return Ok(());
    }
    let settle = Settle(std::sync::Mutex::new(Some(lock)));
    let run = match ctx.run(job.run_id).await {
        Ok(run) => run,
        Err(failure) => {
            return settle_failure(ctx, &settle, None, &record, failure, Instant::now()).await;
        }
    };
    let started = Instant::now();
    metrics::gauge!("ztoq_jobs_in_flight").increment(1.0);
    let job = Job {
        ctx,
        run: &run,
        record: &record,
        parents,
        maybe_applied: attempt > 1 || record.attempts > 0,
    };
    let result = kinds::migrate(&job).await;
    metrics::gauge!("ztoq_jobs_in_flight").decrement(1.0);
    match result {
        Ok(outcome) => commit_done(ctx, &settle, &run, &record, outcome, started).await,
        Err(failure) => settle_failure(ctx, &settle, Some(&run), &record, failure, started).await,
    }
}

fn observe(kind: RecordKind, outcome: &'static str, started: Instant) {
    metrics::counter!("ztoq_records_total", "kind" => kind.as_str(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("ztoq_record_duration_seconds", "kind" => kind.as_str(), "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
}

/// Retries a short Postgres transaction on deadlocks and lost connections, with a short
/// backoff, for up to about a minute: the qTest write already happened and must be recorded.
async fn with_db_retry<F, Fut, T>(mut f: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let mut wait = Duration::from_millis(50);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match f().await {
            Err(e) if ztoq_store::is_retryable(&e) && Instant::now() < deadline => {
                warn!(error = %e, "database error; retrying the transaction");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            other => return other,
        }
    }
}

async fn commit_done(
    ctx: &Ctx,
    settle: &Settle,
    run: &RunCtx,
    record: &Record,
    outcome: Outcome,
    started: Instant,
) -> Result<(), Failure> {
    let released = with_db_retry(|| async {
        let mut tx = settle.begin(&ctx.pool).await?;
        // Attachments found on the owner become records of their own, owned by this one.
        let attachments: &[ztoq_model::zephyr::AttachmentRef] = match &outcome.details {
            Details::None => &[],
            Details::TestCase { steps, attachments } => {
                snapshot::save_test_steps(&mut tx, record.run_id, record.source_id, steps).await?;
                attachments
            }
            Details::Execution { steps, attachments } => {
                snapshot::save_execution_steps(&mut tx, record.run_id, record.source_id, steps)
                    .await?;
                attachments
            }
        };
        let released = records::mark_done_and_release(
            &mut tx,
            record.id,
            outcome.qtest_id,
            outcome.qtest_data.as_ref(),
        )
        .await?;
        if released.is_some() && !attachments.is_empty() {
            snapshot::save_attachments(
                &mut tx,
                record.run_id,
                record.kind.as_str(),
                record.source_id,
                attachments,
            )
            .await?;
            let new: Vec<NewRecord> = attachments
                .iter()
                .map(|a| NewRecord {
                    source_id: a.id,
                    source_key: format!("{}/{}", record.source_key, snapshot::attachment_name(a)),
                })
                .collect();
            let deps: Vec<NewDep> = attachments
                .iter()
                .map(|a| NewDep {
                    child_source_id: a.id,
                    parent_kind: record.kind,
                    parent_source_id: record.source_id,
                })
                .collect();
            records::insert_records(&mut tx, record.run_id, RecordKind::Attachment, &new, &deps)
                .await?;
        }
        tx.commit().await?;
        Ok(released)
    })
    .await?;
    match released {
        Some(n) => {
            debug!(
                qtest_id = outcome.qtest_id,
                adopted = outcome.adopted,
                released = n,
                "done"
            );
            if outcome.adopted {
                info!(
                    qtest_id = outcome.qtest_id,
                    "adopted the copy an earlier attempt had created"
                );
                metrics::counter!("ztoq_records_adopted_total", "kind" => record.kind.as_str())
                    .increment(1);
            }
            observe(record.kind, "done", started);
        }
        None => {
            warn!(
                qtest_id = outcome.qtest_id,
                "record was settled by another job meanwhile"
            );
            observe(record.kind, "skipped", started);
        }
    }
    if run.clear_paused() {
        let mut conn = ctx.pool.acquire().await?;
        runs::set_paused(&mut conn, record.run_id, None).await?;
        info!("credentials accepted again; run resumed");
    }
    Ok(())
}

/// The one message a refused credential produces: which API, what it answered, what to fix.
fn credentials_refused(failure: &Failure) -> String {
    let api = match failure {
        Failure::Api(e) => e.api(),
        _ => "qtest",
    };
    let name = if api == "zephyr" { "Zephyr" } else { "qTest" };
    let fix = ztoq_http::credential_variables(api);
    format!(
        "{name} refused the credentials ({failure}). This worker stops; no record spent an \
         attempt. Fix {fix} and start the workers again: the run continues where it stopped."
    )
}

async fn settle_failure(
    ctx: &Ctx,
    settle: &Settle,
    run: Option<&RunCtx>,
    record: &Record,
    failure: Failure,
    started: Instant,
) -> Result<(), Failure> {
    let message = failure.to_string();
    let policy = ctx.config.retry;
    match failure.class() {
        ErrorClass::Auth => {
            // Every record would meet the same refusal: stop this worker with one clear
            // message instead of spending the records' attempts. The record keeps its
            // attempts and runs again once a worker with accepted credentials takes it.
            let reason = credentials_refused(&failure);
            if ctx.stop_for(reason.clone()) {
                tracing::error!("{reason}");
            }
            if let Some(run) = run {
                run.set_paused();
            }
            ctx.forget(record.run_id).await;
            let pause = ctx.config.auth_pause.as_secs_f64();
            with_db_retry(|| async {
                let mut tx = settle.begin(&ctx.pool).await?;
                runs::set_paused(&mut tx, record.run_id, Some(&reason)).await?;
                records::postpone(&mut tx, record.id, &message, pause).await?;
                tx.commit().await
            })
            .await?;
            observe(record.kind, "postponed", started);
        }
        ErrorClass::Transient if policy.allows_another(record.attempts as u32 + 1) => {
            let delay = policy.delay(record.attempts as u32 + 1, failure.retry_after());
            debug!(error = %message, delay_ms = delay.as_millis() as u64, "transient failure; retrying later");
            metrics::counter!("ztoq_retries_total", "kind" => record.kind.as_str(), "reason" => failure.reason_label()).increment(1);
            with_db_retry(|| async {
                let mut tx = settle.begin(&ctx.pool).await?;
                records::schedule_retry(&mut tx, record.id, &message, delay.as_secs_f64()).await?;
                tx.commit().await
            })
            .await?;
            observe(record.kind, "retry", started);
        }
        class => {
            let reason = if class == ErrorClass::Transient {
                format!("gave up after {} attempts: {message}", record.attempts + 1)
            } else {
                message
            };
            warn!(error = %reason, "record failed");
            let blocked = with_db_retry(|| async {
                let mut tx = settle.begin(&ctx.pool).await?;
                let n = records::mark_failed_and_block(&mut tx, record.id, &reason).await?;
                tx.commit().await?;
                Ok(n)
            })
            .await?;
            if blocked > 0 {
                info!(blocked, "dependents blocked");
            }
            observe(record.kind, "failed", started);
        }
    }
    Ok(())
}
