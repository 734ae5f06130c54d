//! Locking and reading claimed records, a batch at a time, on the worker's lock connection.
//!
//! For each batch: the work locks of the jobs' `(record, generation)` keys in one statement
//! (`ztoq_store::lease`), then, in a statement of its own so that it sees the outcome of any
//! attempt that held a lock before, the locked records with their parents, then the source
//! items of the test cases, executions and attachments among them (one statement per kind and
//! run). A job whose key another attempt holds (in this process or another) is `Busy`; one
//! whose record is missing, no longer ready or at a later generation is `Stale`.
//!
//! The locks are session locks of one dedicated connection: they die with the process. Each
//! [`Loaded`] carries a guard that asks for its lock to be released when dropped, which the
//! handler does after its outcome has committed. If the connection fails, it is replaced; the
//! locks it held are gone, and the guards of its generation release nothing.

use crate::failure::Failure;
use sqlx::{Connection, PgConnection};
use std::collections::{HashMap, HashSet};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};
use ztoq_model::zephyr::{TestCase, TestExecution};
use ztoq_model::{RecordKind, RecordState};
use ztoq_store::jobs::RecordJob;
use ztoq_store::lease::{self, WorkKey};
use ztoq_store::records::{self, Record};
use ztoq_store::snapshot::{self, SrcAttachment};

/// A handler's request to lock and read its job's record.
pub(super) struct Request {
    pub(super) job: RecordJob,
    pub(super) task_id: String,
    pub(super) reply: oneshot::Sender<Result<Load, Failure>>,
}

/// What a job found.
pub enum Load {
    /// Another attempt at the same record and generation is in flight.
    Busy,
    /// Nothing to do, and why: the record is missing, not ready, or has moved on.
    Stale(&'static str),
    /// The record is locked for this attempt and read.
    Ready(Box<Loaded>),
}

/// A locked record with what its migration reads from Postgres.
pub struct Loaded {
    /// The record (ready, at the job's generation).
    pub record: Record,
    /// The records it depends on.
    pub parents: Vec<Record>,
    /// Its source item, for the kinds read in batches.
    pub source: Source,
    /// The apalis task id of the job.
    pub task_id: String,
    _lock: Guard,
}

/// A record's source item from the snapshot, read with the batch.
pub enum Source {
    /// Not read in batches (folders, cycles), or missing from the snapshot.
    None,
    /// A test case.
    TestCase(Box<TestCase>),
    /// An execution.
    Execution(Box<TestExecution>),
    /// An attachment reference.
    Attachment(SrcAttachment),
}

/// Releases a work lock when dropped (after the outcome committed, or when the attempt ends
/// without one).
struct Guard {
    key: WorkKey,
    generation: u64,
    unlocks: mpsc::UnboundedSender<(WorkKey, u64)>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.unlocks.send((self.key, self.generation));
    }
}

/// The lock connection and the keys this process holds.
struct Locks {
    database_url: String,
    conn: Option<PgConnection>,
    /// Bumped when the connection is replaced (its locks are then gone).
    generation: u64,
    /// Keys held by attempts in flight, with the generation they were taken in.
    held: HashMap<WorkKey, u64>,
    unlocks: mpsc::UnboundedSender<(WorkKey, u64)>,
}

/// The loading task: serves lock-and-read requests and lock releases until the process ends.
pub(super) async fn run(database_url: String, mut requests: mpsc::Receiver<Request>) {
    let (unlocks, mut released) = mpsc::unbounded_channel();
    let mut locks = Locks {
        database_url,
        conn: None,
        generation: 0,
        held: HashMap::new(),
        unlocks,
    };
    let mut open = true;
    loop {
        let mut batch = Vec::new();
        let mut freed = Vec::new();
        tokio::select! {
            request = requests.recv(), if open => match request {
                Some(r) => batch.push(r),
                None => open = false,
            },
            Some(key) = released.recv() => freed.push(key),
        }
        while let Ok(key) = released.try_recv() {
            freed.push(key);
        }
        super::fill(&mut batch, &mut requests);
        locks.release(freed).await;
        if !batch.is_empty() {
            locks.load(batch).await;
        }
    }
}

impl Locks {
    /// The lock connection, opened if needed.
    async fn conn(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        if self.conn.is_none() {
            self.conn = Some(PgConnection::connect(&self.database_url).await?);
        }
        self.conn.as_mut().ok_or(sqlx::Error::PoolClosed)
    }

    /// Drops the connection after an error: its locks go with it.
    fn reset(&mut self, e: &sqlx::Error) {
        warn!(error = %e, "lock connection failed; reconnecting (locks held so far are released)");
        self.conn = None;
        self.generation += 1;
    }

    /// Releases the keys of finished attempts that this connection still holds.
    async fn release(&mut self, freed: Vec<(WorkKey, u64)>) {
        let keys: Vec<WorkKey> = freed
            .into_iter()
            .filter(|(key, generation)| {
                self.held.remove(key);
                *generation == self.generation
            })
            .map(|(key, _)| key)
            .collect();
        if keys.is_empty() || self.conn.is_none() {
            return;
        }
        let result = match self.conn().await {
            Ok(conn) => lease::unlock_many(conn, &keys).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            self.reset(&e);
        }
    }

    /// Answers a batch of requests.
    async fn load(&mut self, batch: Vec<Request>) {
        let mut fresh = Vec::with_capacity(batch.len());
        let mut seen = HashSet::new();
        for request in batch {
            let key = key_of(&request.job);
            if self.held.contains_key(&key) || !seen.insert(key) {
                let _ = request.reply.send(Ok(Load::Busy));
            } else {
                fresh.push(request);
            }
        }
        if fresh.is_empty() {
            return;
        }
        let started = std::time::Instant::now();
        let result = self.lock_and_read(&fresh).await;
        super::observe("load", fresh.len(), started);
        match result {
            Ok(mut answers) => {
                for request in fresh {
                    let answer = answers
                        .remove(&key_of(&request.job))
                        .unwrap_or(Answer::Busy);
                    let load = match answer {
                        Answer::Busy => Load::Busy,
                        Answer::Stale(why) => Load::Stale(why),
                        Answer::Ready(record, parents, source) => Load::Ready(Box::new(Loaded {
                            record,
                            parents,
                            source,
                            task_id: request.task_id,
                            _lock: self.guard(key_of(&request.job)),
                        })),
                    };
                    let _ = request.reply.send(Ok(load));
                }
            }
            Err(e) => {
                self.reset(&e);
                for request in fresh {
                    let _ = request
                        .reply
                        .send(Err(Failure::Db(sqlx::Error::Protocol(e.to_string()))));
                }
            }
        }
    }

    fn guard(&mut self, key: WorkKey) -> Guard {
        self.held.insert(key, self.generation);
        Guard {
            key,
            generation: self.generation,
            unlocks: self.unlocks.clone(),
        }
    }

    /// Locks and reads `fresh` (distinct keys none of which this process holds); answers by
    /// key (absent: not locked, so busy). Stale records are unlocked again before returning.
    async fn lock_and_read(
        &mut self,
        fresh: &[Request],
    ) -> Result<HashMap<WorkKey, Answer>, sqlx::Error> {
        let keys: Vec<WorkKey> = fresh.iter().map(|r| key_of(&r.job)).collect();
        let conn = self.conn().await?;
        let taken = lease::try_lock_many(conn, &keys).await?;
        let locked: Vec<&Request> = fresh
            .iter()
            .zip(&taken)
            .filter(|(_, taken)| **taken)
            .map(|(r, _)| r)
            .collect();
        let ids: Vec<i64> = locked.iter().map(|r| r.job.record_id).collect();
        let rows = records::load_many(conn, &ids).await?;
        let mut answers = HashMap::with_capacity(locked.len());
        let mut ready = Vec::with_capacity(locked.len());
        let mut stale_keys = Vec::new();
        for request in locked {
            let job = &request.job;
            // `get`, not `remove`: two jobs of one record (a stale one and the current one) may
            // be in the same batch.
            let stale = match rows.get(&job.record_id) {
                None => Some("the record does not exist"),
                Some((record, _)) if record.state != RecordState::Ready => {
                    Some("the record is not ready")
                }
                Some((record, _)) if record.job_seq != job.job_seq => {
                    Some("the record has moved on to a later job")
                }
                Some((record, parents)) => {
                    ready.push((record.clone(), parents.clone()));
                    None
                }
            };
            if let Some(why) = stale {
                debug!(record_id = job.record_id, why, "job has nothing to do");
                stale_keys.push(key_of(job));
                answers.insert(key_of(job), Answer::Stale(why));
            }
        }
        let mut sources = read_sources(conn, &ready).await?;
        lease::unlock_many(conn, &stale_keys).await?;
        for (record, parents) in ready {
            let source = sources.remove(&record.id).unwrap_or(Source::None);
            let key = WorkKey {
                record_id: record.id,
                job_seq: record.job_seq,
            };
            answers.insert(key, Answer::Ready(record, parents, source));
        }
        Ok(answers)
    }
}

/// What [`Locks::lock_and_read`] found for one record.
enum Answer {
    Busy,
    Stale(&'static str),
    Ready(Record, Vec<Record>, Source),
}

fn key_of(job: &RecordJob) -> WorkKey {
    WorkKey {
        record_id: job.record_id,
        job_seq: job.job_seq,
    }
}

/// The source items of the test cases, executions and attachments among `ready`, by record
/// id: one statement per kind and run.
async fn read_sources(
    conn: &mut PgConnection,
    ready: &[(Record, Vec<Record>)],
) -> Result<HashMap<i64, Source>, sqlx::Error> {
    let mut wanted: HashMap<(i64, RecordKind), Vec<(i64, i64)>> = HashMap::new();
    for (record, _) in ready {
        if matches!(
            record.kind,
            RecordKind::TestCase | RecordKind::Execution | RecordKind::Attachment
        ) {
            wanted
                .entry((record.run_id, record.kind))
                .or_default()
                .push((record.id, record.source_id));
        }
    }
    let mut out = HashMap::with_capacity(ready.len());
    for ((run_id, kind), records) in wanted {
        let ids: Vec<i64> = records.iter().map(|(_, source_id)| *source_id).collect();
        match kind {
            RecordKind::TestCase => {
                let mut found = snapshot::test_cases_by_id(conn, run_id, &ids).await?;
                for (record_id, source_id) in records {
                    if let Some(item) = found.remove(&source_id) {
                        out.insert(record_id, Source::TestCase(Box::new(item)));
                    }
                }
            }
            RecordKind::Execution => {
                let mut found = snapshot::executions_by_id(conn, run_id, &ids).await?;
                for (record_id, source_id) in records {
                    if let Some(item) = found.remove(&source_id) {
                        out.insert(record_id, Source::Execution(Box::new(item)));
                    }
                }
            }
            _ => {
                let mut found = snapshot::attachments_by_id(conn, run_id, &ids).await?;
                for (record_id, source_id) in records {
                    if let Some(item) = found.remove(&source_id) {
                        out.insert(record_id, Source::Attachment(item));
                    }
                }
            }
        }
    }
    Ok(out)
}
