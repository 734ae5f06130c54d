//! The job handler: one record, one attempt, and the settlement that commits its outcome.
//!
//! The record is locked and read with the other records claimed at the same time, and its
//! outcome committed with the others finished at the same time ([`crate::batch`]); the handler
//! waits for its own answer each time, so apalis sees one job handled from start to end.

use crate::batch::{Load, Loaded, Settled, Settlement};
use crate::context::{Ctx, RunCtx};
use crate::failure::Failure;
use crate::kinds::{self, Job};
use std::sync::Arc;
use std::time::Instant;
use tracing::{Instrument, debug, info, warn};
use ztoq_http::ErrorClass;
use ztoq_model::RecordKind;
use ztoq_store::{jobs::RecordJob, runs};

/// Processes one job (apalis task `task_id`). Returns an error only when the outcome could not
/// be recorded (Postgres unreachable for a minute): the job is then given back to the queue
/// once Postgres answers, and the next attempt adopts what qTest holds. A job whose record
/// could not be read is given back at once.
pub async fn handle(
    ctx: Arc<Ctx>,
    job: RecordJob,
    task_id: String,
    attempt: usize,
) -> Result<(), Failure> {
    let span = tracing::info_span!(
        "record",
        run_id = job.run_id,
        record_id = job.record_id,
        kind = tracing::field::Empty,
        record_key = tracing::field::Empty
    );
    async move {
        let load = match ctx.batches.load(job, task_id.clone()).await {
            Ok(load) => load,
            Err(failure) => {
                // The job stays claimed by this (live) worker unless it is given back.
                warn!(error = %failure, "could not read the record; giving its job back");
                ctx.batches
                    .settle(Settlement::Requeue {
                        task_id,
                        delay_secs: 0.0,
                    })
                    .await?;
                return Ok(());
            }
        };
        match load {
            Load::Busy => {
                // Another attempt at this record and generation is in flight (an orphan rescued
                // while its worker still runs): leave it to that one, and look again after a
                // lease in case it dies without an outcome.
                debug!("another attempt at this record is in flight; looking again later");
                skipped("unknown");
                let delay_secs = ctx.config.lease.as_secs_f64();
                ctx.batches
                    .settle(Settlement::Requeue {
                        task_id,
                        delay_secs,
                    })
                    .await?;
                Ok(())
            }
            Load::Stale(why) => {
                debug!(why, "nothing to do");
                skipped("unknown");
                ctx.batches.settle(Settlement::Finish { task_id }).await?;
                Ok(())
            }
            Load::Ready(loaded) => attempt_record(&ctx, *loaded, attempt).await,
        }
    }
    .instrument(span)
    .await
}

fn skipped(kind: &'static str) {
    metrics::counter!("ztoq_records_total", "kind" => kind, "outcome" => "skipped").increment(1);
}

/// One attempt at a locked record; the lock goes when `loaded` is dropped, after the outcome
/// committed.
async fn attempt_record(ctx: &Arc<Ctx>, loaded: Loaded, attempt: usize) -> Result<(), Failure> {
    let record = &loaded.record;
    tracing::Span::current()
        .record("kind", record.kind.as_str())
        .record("record_key", record.source_key.as_str());
    let run = match ctx.run(record.run_id).await {
        Ok(run) => run,
        Err(failure) => {
            return settle_failure(ctx, None, &loaded, failure, Instant::now()).await;
        }
    };
    let started = Instant::now();
    metrics::gauge!("ztoq_jobs_in_flight").increment(1.0);
    let job = Job {
        ctx,
        run: &run,
        record,
        parents: &loaded.parents,
        source: &loaded.source,
        maybe_applied: attempt > 1 || record.attempts > 0,
    };
    let result = kinds::migrate(&job).await;
    metrics::gauge!("ztoq_jobs_in_flight").decrement(1.0);
    match result {
        Ok(outcome) => commit_done(ctx, &run, loaded, outcome, started).await,
        Err(failure) => settle_failure(ctx, Some(&run), &loaded, failure, started).await,
    }
}

fn observe(kind: RecordKind, outcome: &'static str, started: Instant) {
    metrics::counter!("ztoq_records_total", "kind" => kind.as_str(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("ztoq_record_duration_seconds", "kind" => kind.as_str(), "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
}

async fn commit_done(
    ctx: &Ctx,
    run: &RunCtx,
    loaded: Loaded,
    mut outcome: kinds::Outcome,
    started: Instant,
) -> Result<(), Failure> {
    let (qtest_id, adopted) = (outcome.qtest_id, outcome.adopted);
    let kind = loaded.record.kind;
    // The steps read from Zephyr go into the snapshot first (a done record's steps are always
    // stored); if Postgres cannot take them, the job goes back to the queue.
    if let Some(steps) = outcome.take_steps(loaded.record.run_id, loaded.record.source_id)
        && let Err(failure) = ctx.batches.save_steps(steps).await
    {
        warn!(error = %failure, "could not store the record's steps; giving its job back");
        ctx.batches
            .settle(Settlement::Requeue {
                task_id: loaded.task_id.clone(),
                delay_secs: 0.0,
            })
            .await?;
        return Ok(());
    }
    let settled = ctx
        .batches
        .settle(Settlement::Done {
            record: Box::new(loaded.record.clone()),
            task_id: loaded.task_id.clone(),
            outcome: Box::new(outcome),
        })
        .await?;
    drop(loaded);
    if settled == Settled::Done(true) {
        debug!(qtest_id, adopted, "done");
        if adopted {
            info!(qtest_id, "adopted the copy an earlier attempt had created");
            metrics::counter!("ztoq_records_adopted_total", "kind" => kind.as_str()).increment(1);
        }
        observe(kind, "done", started);
    } else {
        warn!(qtest_id, "record was settled by another job meanwhile");
        observe(kind, "skipped", started);
    }
    // A worker stopping for refused credentials proves nothing by a success (the record may
    // not have needed the refused API): it leaves the pause to a worker that was not refused.
    if ctx.stop_reason().is_none() && run.clear_paused() {
        let mut conn = ctx.pool.acquire().await?;
        runs::set_paused(&mut conn, run.run_id, None).await?;
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
    run: Option<&RunCtx>,
    loaded: &Loaded,
    failure: Failure,
    started: Instant,
) -> Result<(), Failure> {
    let record = &loaded.record;
    let task_id = loaded.task_id.clone();
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
            ctx.batches
                .settle(Settlement::Postpone {
                    run_id: record.run_id,
                    record_id: record.id,
                    task_id,
                    reason,
                    message,
                    delay_secs: ctx.config.auth_pause.as_secs_f64(),
                })
                .await?;
            observe(record.kind, "postponed", started);
        }
        ErrorClass::Transient if policy.allows_another(record.attempts as u32 + 1) => {
            let delay = policy.delay(record.attempts as u32 + 1, failure.retry_after());
            debug!(error = %message, delay_ms = delay.as_millis() as u64, "transient failure; retrying later");
            metrics::counter!("ztoq_retries_total", "kind" => record.kind.as_str(), "reason" => failure.reason_label()).increment(1);
            ctx.batches
                .settle(Settlement::Retry {
                    record_id: record.id,
                    task_id,
                    message,
                    delay_secs: delay.as_secs_f64(),
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
            let settled = ctx
                .batches
                .settle(Settlement::Fail {
                    record_id: record.id,
                    task_id,
                    reason,
                })
                .await?;
            if let Settled::Failed(blocked) = settled
                && blocked > 0
            {
                info!(blocked, "dependents blocked");
            }
            observe(record.kind, "failed", started);
        }
    }
    Ok(())
}
