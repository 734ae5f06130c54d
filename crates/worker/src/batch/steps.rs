//! Storing the steps and step results read from Zephyr, a batch at a time, ahead of the
//! settlement of their records.
//!
//! The steps are source data: they belong in the snapshot whatever the attempt's outcome, so
//! they need not commit with it, only before it (a done record's steps are always stored).
//! Writing them on a lane of their own keeps the settling transaction short: it was the
//! worker's bottleneck, and the step rows (seven per record on average) were half its work.
//! Each batch is one upsert per kind (`ztoq_store::snapshot::save_test_steps_many`,
//! `save_execution_steps_many`), retried on deadlocks and lost connections for about a minute.

use crate::failure::Failure;
use sqlx::PgPool;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use ztoq_model::zephyr::{ExecutionStep, TestStep};
use ztoq_store::snapshot;

/// The steps a record read, to store.
pub enum Steps {
    /// A test case's steps.
    TestCase {
        /// Run id.
        run_id: i64,
        /// Zephyr id of the test case.
        case_id: i64,
        /// Steps in order.
        steps: Vec<TestStep>,
    },
    /// An execution's step results.
    Execution {
        /// Run id.
        run_id: i64,
        /// Zephyr id of the execution.
        execution_id: i64,
        /// Results in order.
        steps: Vec<ExecutionStep>,
    },
}

/// A handler's request to store its record's steps.
pub(super) struct Request {
    pub(super) steps: Steps,
    pub(super) reply: oneshot::Sender<Result<(), Failure>>,
}

/// The steps task: stores batches until the process ends.
pub(super) async fn run(pool: PgPool, mut requests: mpsc::Receiver<Request>) {
    while let Some(first) = requests.recv().await {
        let mut batch = vec![first];
        super::fill(&mut batch, &mut requests);
        let started = Instant::now();
        let result = save_with_retry(&pool, &batch).await;
        super::observe("steps", batch.len(), started);
        for request in batch {
            let answer = match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(Failure::Db(sqlx::Error::Protocol(e.to_string()))),
            };
            let _ = request.reply.send(answer);
        }
    }
}

/// One upsert per kind, retried for about a minute.
async fn save_with_retry(pool: &PgPool, batch: &[Request]) -> Result<(), sqlx::Error> {
    let mut cases = Vec::new();
    let mut executions = Vec::new();
    for request in batch {
        match &request.steps {
            Steps::TestCase {
                run_id,
                case_id,
                steps,
            } => cases.push((*run_id, *case_id, steps.as_slice())),
            Steps::Execution {
                run_id,
                execution_id,
                steps,
            } => executions.push((*run_id, *execution_id, steps.as_slice())),
        }
    }
    super::with_db_retry("storing the steps", || async {
        let mut conn = pool.acquire().await?;
        snapshot::save_test_steps_many(&mut conn, &cases).await?;
        snapshot::save_execution_steps_many(&mut conn, &executions).await
    })
    .await
}
