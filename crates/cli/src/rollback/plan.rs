//! Per kind, what deleting a pending record takes: its qTest target (an attachment under its
//! owner, the test run shared by executions, a cycle, a test case, a module), or why not now
//! (dependents still there), not at all (already gone) or never (something not recorded).

use super::{Ctx, store};
use anyhow::Result;
use std::collections::HashSet;
use ztoq_model::RecordKind;
use ztoq_store::rollback::Pending;

/// One qTest item to delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Attachment {
        object_type: &'static str,
        object_id: i64,
        id: i64,
    },
    TestRun(i64),
    TestCycle(i64),
    TestCase(i64),
    Module(i64),
}

/// A delete and the records it rolls back.
#[derive(Debug, Clone)]
pub(super) struct Item {
    pub(super) records: Vec<i64>,
    pub(super) source_key: String,
    pub(super) target: Target,
}

/// What to do with a pending record.
pub(super) enum Plan {
    Delete(Item),
    /// Gone already (its owner was removed): mark it.
    Gone(Vec<i64>),
    /// Something under it is still in qTest: not now.
    Wait(u64),
    /// It cannot be deleted: record why.
    Fail(Vec<i64>, String),
    /// Handled with another record (an execution sharing a test run).
    Skip,
}

fn data_i64(data: Option<&serde_json::Value>, key: &str) -> Option<i64> {
    data.and_then(|d| d.get(key)).and_then(|v| v.as_i64())
}

/// Decides what to do with one pending record.
pub(super) async fn plan(
    ctx: &Ctx,
    conn: &mut sqlx::PgConnection,
    kind: RecordKind,
    p: &Pending,
    runs_seen: &mut HashSet<i64>,
) -> Result<Plan> {
    let records = vec![p.record_id];
    let missing = |what: &str| {
        Plan::Fail(
            vec![p.record_id],
            format!("{kind} {}: no {what} recorded", p.source_key),
        )
    };
    if kind == RecordKind::Execution {
        // One test run per (cycle, test case): its executions go together.
        let Some(test_run) = data_i64(p.qtest_data.as_ref(), "run_id") else {
            return Ok(missing("test run id"));
        };
        if !runs_seen.insert(test_run) {
            return Ok(Plan::Skip);
        }
        let members = store::test_run_members(conn, ctx.run_id, test_run).await?;
        if members.iter().any(|m| m.alive_dependents > 0) {
            return Ok(Plan::Wait(members.len() as u64));
        }
        let mut records: Vec<i64> = members.iter().map(|m| m.record_id).collect();
        if records.is_empty() {
            records.push(p.record_id);
        }
        return Ok(Plan::Delete(Item {
            records,
            source_key: p.source_key.clone(),
            target: Target::TestRun(test_run),
        }));
    }
    if p.alive_dependents > 0 {
        return Ok(Plan::Wait(1));
    }
    let Some(id) = p.qtest_id else {
        return Ok(missing("qTest id"));
    };
    let target = match kind {
        RecordKind::Attachment => {
            let Some(owner) = &p.owner else {
                return Ok(missing("owner"));
            };
            if owner.rolled_back {
                return Ok(Plan::Gone(records));
            }
            let (object_type, object_id) = match owner.kind {
                RecordKind::TestCase => ("test-cases", owner.qtest_id),
                RecordKind::Execution => {
                    ("test-logs", data_i64(owner.qtest_data.as_ref(), "log_id"))
                }
                other => {
                    return Ok(Plan::Fail(
                        records,
                        format!("attachment {}: unexpected owner kind {other}", p.source_key),
                    ));
                }
            };
            let Some(object_id) = object_id else {
                return Ok(missing("owner qTest id"));
            };
            Target::Attachment {
                object_type,
                object_id,
                id,
            }
        }
        RecordKind::TestCycle | RecordKind::CycleFolder => Target::TestCycle(id),
        RecordKind::TestCase => Target::TestCase(id),
        RecordKind::Folder => Target::Module(id),
        RecordKind::Execution => unreachable!("handled above"),
    };
    Ok(Plan::Delete(Item {
        records,
        source_key: p.source_key.clone(),
        target,
    }))
}
