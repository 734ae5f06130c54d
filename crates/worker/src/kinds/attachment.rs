//! Attachments: bytes downloaded from Zephyr, uploaded as a blob on the owner's qTest copy
//! (a test case, or the test log of an execution), found again by name on that owner.
//!
//! An attachment larger than qTest takes ([`QTEST_MAX_ATTACHMENT_BYTES`]) fails at once with
//! a reason naming it and its size, without its body being read (`Content-Length` first, a
//! running count otherwise); its owner is not affected. A refusal by qTest (413, 400) fails the
//! attachment the same way, naming it.

use super::{Job, Outcome, created_id, plain};
use crate::batch::Source;
use crate::failure::{Failure, source};
use ztoq_http::ErrorClass;
use ztoq_model::RecordKind;

/// The largest attachment qTest Manager SaaS takes (50 MB; on-premises sites set their own).
pub const QTEST_MAX_ATTACHMENT_BYTES: u64 = 50 * 1024 * 1024;

/// An attachment → a qTest attachment on its owner.
pub async fn migrate(job: &Job<'_>) -> Result<Outcome, Failure> {
    let Source::Attachment(att) = job.source else {
        return Err(job.missing("the attachment"));
    };
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
    let limit = QTEST_MAX_ATTACHMENT_BYTES;
    let download = match owner_kind {
        RecordKind::Execution => {
            job.run
                .zephyr
                .download_execution_attachment_within(&owner.source_id.to_string(), att.id, limit)
                .await
        }
        _ => {
            job.run
                .zephyr
                .download_test_case_attachment_within(&owner.source_key, att.id, limit)
                .await
        }
    }
    .map_err(|e| job.named(e))?;
    let what = format!(
        "attachment {:?} (#{}) of {} {}",
        att.name, att.id, owner.kind, owner.source_key
    );
    let download = download.map_err(|too_large| {
        source(format!(
            "{what} is {too_large} (qTest takes attachments up to {} MB); not migrated",
            QTEST_MAX_ATTACHMENT_BYTES / (1024 * 1024)
        ))
    })?;
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
        .await
        .map_err(|e| {
            if e.class() == ErrorClass::Permanent {
                source(format!("{what}: qTest refused it: {e}"))
            } else {
                Failure::Api(e)
            }
        })?;
    Ok(plain(created_id(uploaded.id, "attachment")?, false))
}
