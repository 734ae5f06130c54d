//! Attachments: bytes downloaded from Zephyr, uploaded as a blob on the owner's qTest copy
//! (a test case, or the test log of an execution), found again by name on that owner.

use super::{Job, Outcome, created_id, plain};
use crate::failure::{Failure, source};
use ztoq_model::RecordKind;
use ztoq_store::snapshot;

/// An attachment → a qTest attachment on its owner.
pub async fn migrate(job: &Job<'_>) -> Result<Outcome, Failure> {
    let mut conn = job.ctx.pool.acquire().await?;
    let att = snapshot::attachment(&mut conn, job.run.run_id, job.record.source_id)
        .await?
        .ok_or_else(|| job.missing("the attachment"))?;
    drop(conn);
    let (owner_kind, object_type) = match att.owner_kind.as_str() {
        "test_case" => (RecordKind::TestCase, "test-cases"),
        "execution" => (RecordKind::Execution, "test-logs"),
        other => {
            return Err(source(format!(
                "attachment {}: unknown owner kind {other}",
                att.id
            )));
        }
    };
    let owner = job.parent(owner_kind).ok_or_else(|| {
        source(format!(
            "attachment {}: its owner is not a dependency",
            att.id
        ))
    })?;
    let object_id = match owner_kind {
        RecordKind::Execution => owner
            .qtest_data
            .as_ref()
            .and_then(|d| d.get("log_id"))
            .and_then(|v| v.as_i64())
            .ok_or_else(|| {
                source(format!(
                    "attachment {} of execution {}: the execution never ran, and qTest takes no attachments on a test run",
                    att.name, owner.source_key
                ))
            })?,
        _ => owner.qtest_id.ok_or_else(|| source(format!("attachment {}: owner has no qTest id", att.id)))?,
    };
    if job.maybe_applied {
        let existing = job.run.qtest.attachments(object_type, object_id).await?;
        let candidates = existing
            .into_iter()
            .filter(|a| a.name.as_deref() == Some(att.name.as_str()))
            .filter_map(|a| a.id)
            .collect();
        if let Some(id) = job.first_unclaimed(candidates).await? {
            return Ok(plain(id, true));
        }
    }
    let download = match owner_kind {
        RecordKind::Execution => {
            job.run
                .zephyr
                .download_execution_attachment(&owner.source_id.to_string(), att.id)
                .await
        }
        _ => {
            job.run
                .zephyr
                .download_test_case_attachment(&owner.source_key, att.id)
                .await
        }
    }
    .map_err(|e| job.named(e))?;
    let uploaded = job
        .run
        .qtest
        .upload_attachment(
            object_type,
            object_id,
            &att.name,
            &download.content_type,
            download.bytes,
        )
        .await?;
    Ok(plain(created_id(uploaded.id, "attachment")?, false))
}
