//! One module per record kind: what to read, what to write, and how to find an earlier copy.
//! Each returns an [`Outcome`]; the handler commits it.

mod attachment;
mod execution;
mod structure;
mod test_case;

use crate::batch::{Source, Steps};
use crate::context::{Ctx, RunCtx};
use crate::failure::{Failure, source};
use serde_json::Value;
use ztoq_model::RecordKind;
use ztoq_model::zephyr::{AttachmentRef, ExecutionStep, TestStep};
use ztoq_store::records::Record;

/// What a successful migration produced, committed in one transaction.
pub struct Outcome {
    /// The qTest id stored on the record.
    pub qtest_id: i64,
    /// Extra data dependents need.
    pub qtest_data: Option<Value>,
    /// Source details read on the way, stored in the snapshot.
    pub details: Details,
    /// Whether an existing qTest item was adopted instead of created.
    pub adopted: bool,
}

/// Source details a record read from Zephyr.
pub enum Details {
    /// Nothing beyond the listed item.
    None,
    /// A test case's steps and attachments.
    TestCase {
        /// Steps in order.
        steps: Vec<TestStep>,
        /// Attachments (each becomes a record).
        attachments: Vec<AttachmentRef>,
    },
    /// An execution's step results and attachments.
    Execution {
        /// Step results in order.
        steps: Vec<ExecutionStep>,
        /// Attachments (each becomes a record).
        attachments: Vec<AttachmentRef>,
    },
}

impl Outcome {
    /// Takes the steps out of the details (leaving the attachments), as the batch that stores
    /// them wants them; `None` for kinds without steps.
    pub fn take_steps(&mut self, run_id: i64, source_id: i64) -> Option<Steps> {
        match &mut self.details {
            Details::None => None,
            Details::TestCase { steps, .. } => Some(Steps::TestCase {
                run_id,
                case_id: source_id,
                steps: std::mem::take(steps),
            }),
            Details::Execution { steps, .. } => Some(Steps::Execution {
                run_id,
                execution_id: source_id,
                steps: std::mem::take(steps),
            }),
        }
    }
}

/// Everything a kind's migration gets.
pub struct Job<'a> {
    /// Process state.
    pub ctx: &'a Ctx,
    /// Run state.
    pub run: &'a RunCtx,
    /// The record.
    pub record: &'a Record,
    /// The records it depends on (all done).
    pub parents: &'a [Record],
    /// Its source item, when its kind is read with the batch (test cases, executions,
    /// attachments; `Source::None` for those when the snapshot lacks it).
    pub source: &'a Source,
    /// Whether an earlier attempt may already have written to qTest.
    pub maybe_applied: bool,
}

impl Job<'_> {
    /// The done parent of a kind, if there is one.
    pub fn parent(&self, kind: RecordKind) -> Option<&Record> {
        self.parents.iter().find(|p| p.kind == kind)
    }

    /// The qTest id of the parent of a kind; an error if the parent is missing or has no id.
    pub fn parent_qtest_id(&self, kind: RecordKind) -> Result<i64, Failure> {
        self.parent(kind).and_then(|p| p.qtest_id).ok_or_else(|| {
            source(format!(
                "{} {}: its {} has no qTest id",
                self.record.kind, self.record.source_key, kind
            ))
        })
    }

    /// Of `candidates`, the first qTest id no other record of this kind holds.
    pub async fn first_unclaimed(&self, candidates: Vec<i64>) -> Result<Option<i64>, Failure> {
        if candidates.is_empty() {
            return Ok(None);
        }
        let mut conn = self.ctx.pool.acquire().await?;
        let claimed = ztoq_store::records::claimed_qtest_ids(
            &mut conn,
            self.record.run_id,
            self.record.kind,
            &candidates,
        )
        .await?;
        Ok(candidates.into_iter().find(|c| !claimed.contains(c)))
    }

    /// An API error about this record's source, naming the record when it is permanent (a
    /// decode error then says which item is bad).
    pub fn named(&self, e: ztoq_http::ApiError) -> Failure {
        if e.class() == ztoq_http::ErrorClass::Permanent {
            source(format!(
                "{} {}: {e}",
                self.record.kind, self.record.source_key
            ))
        } else {
            Failure::Api(e)
        }
    }

    /// A permanent failure naming this record.
    pub fn missing(&self, what: &str) -> Failure {
        source(format!(
            "{} {}: {what} is missing from the source snapshot",
            self.record.kind, self.record.source_key
        ))
    }
}

/// Migrates one record.
pub async fn migrate(job: &Job<'_>) -> Result<Outcome, Failure> {
    match job.record.kind {
        RecordKind::Folder => structure::folder(job).await,
        RecordKind::CycleFolder => structure::cycle_folder(job).await,
        RecordKind::TestCycle => structure::test_cycle(job).await,
        RecordKind::TestCase => test_case::migrate(job).await,
        RecordKind::Execution => execution::migrate(job).await,
        RecordKind::Attachment => attachment::migrate(job).await,
    }
}

/// An outcome with only an id.
pub fn plain(qtest_id: i64, adopted: bool) -> Outcome {
    Outcome {
        qtest_id,
        qtest_data: None,
        details: Details::None,
        adopted,
    }
}

/// An id a create answer must carry.
pub fn created_id(id: Option<i64>, what: &'static str) -> Result<i64, Failure> {
    id.ok_or_else(|| source(format!("qTest answered a {what} create without an id")))
}
