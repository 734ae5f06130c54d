//! Committing the outcomes of finished records, a batch at a time, in one transaction each (two
//! transactions at once).
//!
//! A batch marks the done records done (each only if it is still ready at the generation its
//! attempt worked on; their steps are stored ahead, by [`super::steps`]), releases their
//! dependents and pushes the jobs of those that became ready, creates the attachment records
//! found on them, schedules retries, postpones, fails and blocks, and finishes every job of the
//! batch — or none of it.
//! Deadlocks and lost connections retry the whole transaction for up to a minute (the qTest
//! writes already happened and must be recorded); after that, the batch's jobs are given back
//! to the queue as soon as Postgres answers again, so another attempt adopts what qTest holds.

use crate::failure::Failure;
use crate::kinds::{Details, Outcome};
use sqlx::PgPool;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tracing::warn;
use ztoq_model::RecordKind;
use ztoq_store::records::{self, DoneRecord, NewDep, NewRecord, Record};
use ztoq_store::{PgConnection, jobs, runs, snapshot};

/// What to commit for one job.
pub enum Settlement {
    /// The record was migrated.
    Done {
        /// The record as loaded.
        record: Box<Record>,
        /// Its job.
        task_id: String,
        /// What the migration produced.
        outcome: Box<Outcome>,
    },
    /// A transient failure: count the attempt, run again after `delay_secs`.
    Retry {
        /// Record id.
        record_id: i64,
        /// Its job.
        task_id: String,
        /// The error.
        message: String,
        /// Backoff.
        delay_secs: f64,
    },
    /// Credentials refused: pause the run, run again later without counting an attempt.
    Postpone {
        /// Run id.
        run_id: i64,
        /// Record id.
        record_id: i64,
        /// Its job.
        task_id: String,
        /// Why the run is paused.
        reason: String,
        /// The error.
        message: String,
        /// When the record may run again.
        delay_secs: f64,
    },
    /// A permanent failure: fail the record and block its dependents.
    Fail {
        /// Record id.
        record_id: i64,
        /// Its job.
        task_id: String,
        /// The reason kept on the record.
        reason: String,
    },
    /// Nothing to record: finish the job.
    Finish {
        /// The job.
        task_id: String,
    },
    /// Give the job back to the queue, runnable after `delay_secs`.
    Requeue {
        /// The job.
        task_id: String,
        /// Delay.
        delay_secs: f64,
    },
}

/// What a settlement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// A done record: whether it was marked done (false: another attempt settled it first).
    Done(bool),
    /// A failed record: how many dependents were blocked.
    Failed(u64),
    /// Anything else.
    Other,
}

impl Settlement {
    fn task_id(&self) -> &str {
        match self {
            Settlement::Done { task_id, .. }
            | Settlement::Retry { task_id, .. }
            | Settlement::Postpone { task_id, .. }
            | Settlement::Fail { task_id, .. }
            | Settlement::Finish { task_id }
            | Settlement::Requeue { task_id, .. } => task_id,
        }
    }
}

/// A handler's request to commit its settlement.
pub(super) struct Request {
    pub(super) settlement: Settlement,
    pub(super) reply: oneshot::Sender<Result<Settled, Failure>>,
}

/// How many batches a worker commits at once: while one transaction waits on Postgres, the
/// next batch gathers and goes. Measured (`ztoq bench --records 50000 --workers 2
/// --concurrency 64 --batch-size 128`): one lane was busy 77 % of the run (17 records in
/// 11.7 ms per batch), and two lanes finished the run in 18.5 s instead of 23 s.
const LANES: usize = 2;

/// Jobs of batches that could not be committed, to give back once Postgres answers.
type GiveBack = Arc<Mutex<Vec<String>>>;

/// The settling task: commits batches, up to [`LANES`] at once, until the process ends.
pub(super) async fn run(pool: PgPool, mut requests: mpsc::Receiver<Request>) {
    let give_back: GiveBack = Arc::default();
    let mut lanes = JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut open = true;
    loop {
        if lanes.len() >= LANES || (!open && lanes.is_empty() && pending(&give_back) == 0) {
            if lanes.join_next().await.is_none() {
                return;
            }
            continue;
        }
        let mut batch = Vec::new();
        tokio::select! {
            request = requests.recv(), if open => match request {
                Some(r) => batch.push(r),
                None => open = false,
            },
            Some(_) = lanes.join_next(), if !lanes.is_empty() => continue,
            _ = tick.tick(), if pending(&give_back) > 0 => {}
        }
        super::fill(&mut batch, &mut requests);
        lanes.spawn(settle_batch(pool.clone(), batch, give_back.clone()));
    }
}

fn pending(give_back: &GiveBack) -> usize {
    give_back.lock().unwrap_or_else(|e| e.into_inner()).len()
}

/// Commits one batch (with the jobs waiting to be given back) and answers its requests.
async fn settle_batch(pool: PgPool, batch: Vec<Request>, give_back: GiveBack) {
    let returning: Vec<String> =
        std::mem::take(&mut *give_back.lock().unwrap_or_else(|e| e.into_inner()));
    let settlements: Vec<&Settlement> = batch.iter().map(|r| &r.settlement).collect();
    let started = std::time::Instant::now();
    let result = commit_with_retry(&pool, &settlements, &returning).await;
    super::observe("settle", settlements.len(), started);
    match result {
        Ok(settled) => {
            for (request, settled) in batch.into_iter().zip(settled) {
                let _ = request.reply.send(Ok(settled));
            }
        }
        Err(e) => {
            warn!(error = %e, jobs = batch.len(), "could not record outcomes; their jobs will run again");
            let mut later = give_back.lock().unwrap_or_else(|e| e.into_inner());
            later.extend(returning);
            for request in batch {
                later.push(request.settlement.task_id().to_string());
                let _ = request
                    .reply
                    .send(Err(Failure::Db(sqlx::Error::Protocol(e.to_string()))));
            }
        }
    }
}

/// [`commit`] in a transaction (giving back `give_back` too), retried for about a minute.
async fn commit_with_retry(
    pool: &PgPool,
    settlements: &[&Settlement],
    give_back: &[String],
) -> Result<Vec<Settled>, sqlx::Error> {
    super::with_db_retry("committing the outcomes", || async {
        let mut tx = pool.begin().await?;
        let settled = commit(&mut tx, settlements).await?;
        jobs::requeue(&mut tx, give_back, 0.0).await?;
        tx.commit().await?;
        Ok(settled)
    })
    .await
}

/// Writes a batch of settlements; returns what each did, in order.
async fn commit(
    conn: &mut PgConnection,
    settlements: &[&Settlement],
) -> Result<Vec<Settled>, sqlx::Error> {
    let done: Vec<(&Record, &Outcome)> = settlements
        .iter()
        .filter_map(|s| match s {
            Settlement::Done {
                record, outcome, ..
            } => Some((record.as_ref(), outcome.as_ref())),
            _ => None,
        })
        .collect();
    // Every job of the batch ends here, except those given back to the queue.
    let finished: Vec<String> = settlements
        .iter()
        .filter(|s| !matches!(s, Settlement::Requeue { .. }))
        .map(|s| s.task_id().to_string())
        .collect();
    let marked = mark_done(conn, &done, &finished).await?;
    let mut settled = Vec::with_capacity(settlements.len());
    for s in settlements {
        settled.push(match s {
            Settlement::Done { record, .. } => Settled::Done(marked.contains(&record.id)),
            Settlement::Retry {
                record_id,
                message,
                delay_secs,
                ..
            } => {
                records::schedule_retry(conn, *record_id, message, *delay_secs).await?;
                Settled::Other
            }
            Settlement::Postpone {
                run_id,
                record_id,
                reason,
                message,
                delay_secs,
                ..
            } => {
                runs::set_paused(conn, *run_id, Some(reason)).await?;
                records::postpone(conn, *record_id, message, *delay_secs).await?;
                Settled::Other
            }
            Settlement::Fail {
                record_id, reason, ..
            } => Settled::Failed(records::mark_failed_and_block(conn, *record_id, reason).await?),
            Settlement::Finish { .. } => Settled::Other,
            Settlement::Requeue {
                task_id,
                delay_secs,
            } => {
                jobs::requeue(conn, std::slice::from_ref(task_id), *delay_secs).await?;
                Settled::Other
            }
        });
    }
    Ok(settled)
}

/// Marks the done records done and finishes `finished` (the batch's jobs), releases their
/// dependents and creates the records of the attachments found on them (their steps are
/// already stored: [`super::steps`]). Returns the ids marked.
async fn mark_done(
    conn: &mut PgConnection,
    done: &[(&Record, &Outcome)],
    finished: &[String],
) -> Result<HashSet<i64>, sqlx::Error> {
    let rows: Vec<DoneRecord> = done
        .iter()
        .map(|(record, outcome)| DoneRecord {
            id: record.id,
            job_seq: Some(record.job_seq),
            qtest_id: outcome.qtest_id,
            qtest_data: outcome.qtest_data.clone(),
        })
        .collect();
    let marked: Vec<i64> = records::mark_done_many(conn, &rows, finished).await?;
    records::release_many(conn, &marked).await?;
    let marked: HashSet<i64> = marked.into_iter().collect();
    for (record, outcome) in done {
        let attachments = match &outcome.details {
            Details::TestCase { attachments, .. } | Details::Execution { attachments, .. } => {
                attachments
            }
            Details::None => continue,
        };
        if attachments.is_empty() || !marked.contains(&record.id) {
            continue;
        }
        // Attachments found on the owner become records of their own, owned by this one.
        snapshot::save_attachments(
            conn,
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
        records::insert_records(conn, record.run_id, RecordKind::Attachment, &new, &deps).await?;
    }
    Ok(marked)
}
