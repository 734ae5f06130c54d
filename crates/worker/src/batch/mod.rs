//! The worker's Postgres side, in batches: the records its handlers are given are locked and
//! read together ([`load`]), the steps they read from Zephyr stored together ([`steps`]), and
//! the outcomes of the records they finish committed together ([`settle`]). Each handler still works on one record and waits for its own answer;
//! the requests of the handlers in flight meet in a queue and go to Postgres as one statement
//! (or one transaction) while the previous one runs, so a busy worker sends a few statements
//! per batch of records instead of several per record, and an idle one answers a single
//! request at once. Measured per record at 20k records, 2 workers: 10 statements in 2
//! transactions before (1.4 ms of Postgres CPU); see BENCHMARKS.md for after.
//!
//! What a batch commits for each record is exactly what the per-record transaction did: the
//! record's outcome (done with its qTest id, its released dependents and their jobs; or its
//! next attempt; or its failure and blocked dependents) and the end of its job, which ztoq
//! records itself instead of apalis (`ztoq_store::jobs`): a job is `Done` exactly when its
//! record's outcome is stored.

mod load;
mod settle;
mod steps;

pub use load::{Load, Loaded, Source};
pub use settle::{Settled, Settlement};
pub use steps::Steps;

use crate::failure::Failure;
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot};
use ztoq_store::jobs::RecordJob;

/// At most this many requests go into one statement or transaction.
const MAX_BATCH: usize = 64;

/// The handles of a worker process's batching tasks.
pub struct Batches {
    loads: mpsc::Sender<load::Request>,
    steps: mpsc::Sender<steps::Request>,
    settles: mpsc::Sender<settle::Request>,
}

impl Batches {
    /// Starts the loading task (with its own connection to `database_url`, which holds the
    /// work locks), the steps task and the settling task (on `pool`).
    pub fn start(pool: PgPool, database_url: String) -> Batches {
        let (loads, load_rx) = mpsc::channel(MAX_BATCH * 4);
        let (steps, steps_rx) = mpsc::channel(MAX_BATCH * 4);
        let (settles, settle_rx) = mpsc::channel(MAX_BATCH * 4);
        tokio::spawn(load::run(database_url, load_rx));
        tokio::spawn(steps::run(pool.clone(), steps_rx));
        tokio::spawn(settle::run(pool, settle_rx));
        Batches {
            loads,
            steps,
            settles,
        }
    }

    /// Stores the steps a record read (with the others waiting); before its settlement.
    pub async fn save_steps(&self, steps: Steps) -> Result<(), Failure> {
        ask(&self.steps, |reply| steps::Request { steps, reply }).await
    }

    /// Locks and reads the record of `job` (claimed by this worker as apalis task `task_id`).
    pub async fn load(&self, job: RecordJob, task_id: String) -> Result<Load, Failure> {
        ask(&self.loads, |reply| load::Request {
            job,
            task_id,
            reply,
        })
        .await
    }

    /// Commits `settlement` (with the others waiting) and returns what it did.
    pub async fn settle(&self, settlement: Settlement) -> Result<Settled, Failure> {
        ask(&self.settles, |reply| settle::Request { settlement, reply }).await
    }
}

/// Sends the request `make` builds around a reply channel to a batching task and waits for its
/// answer; a task that is gone answers as a closed pool.
async fn ask<R, T>(
    lane: &mpsc::Sender<R>,
    make: impl FnOnce(oneshot::Sender<Result<T, Failure>>) -> R,
) -> Result<T, Failure> {
    let (reply, answer) = oneshot::channel();
    lane.send(make(reply)).await.map_err(|_| stopped())?;
    answer.await.map_err(|_| stopped())?
}

/// Tops `batch` up to [`MAX_BATCH`] with the requests already waiting (never waits).
fn fill<R>(batch: &mut Vec<R>, requests: &mut mpsc::Receiver<R>) {
    while batch.len() < MAX_BATCH {
        match requests.try_recv() {
            Ok(r) => batch.push(r),
            Err(_) => break,
        }
    }
}

/// Runs a batch's statements again on deadlocks, lost connections and server restarts, with a
/// growing pause, for about a minute: the qTest writes behind a batch already happened and
/// must be recorded.
async fn with_db_retry<F, Fut, T>(what: &str, mut f: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
{
    let mut wait = std::time::Duration::from_millis(50);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match f().await {
            Err(e) if ztoq_store::is_retryable(&e) && std::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, "database error; {what} again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(5));
            }
            other => return other,
        }
    }
}

/// Records one batch in `ztoq_batch_records{op}` and `ztoq_batch_duration_seconds{op}`.
fn observe(op: &'static str, records: usize, started: std::time::Instant) {
    let took = started.elapsed();
    metrics::histogram!("ztoq_batch_records", "op" => op).record(records as f64);
    metrics::histogram!("ztoq_batch_duration_seconds", "op" => op).record(took.as_secs_f64());
    tracing::debug!(op, records, took_us = took.as_micros() as u64, "batch");
}

fn stopped() -> Failure {
    Failure::Db(sqlx::Error::PoolClosed)
}
