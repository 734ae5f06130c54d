//! Attachments: a page of done records at a time, their source references read in one
//! statement, each owner's attachments read from qTest once (several owners at a time).

use super::{Ctx, duplicates, fetch_each, parent_qid};
use crate::VerifyError;
use std::collections::{HashMap, HashSet};
use ztoq_model::RecordKind;
use ztoq_model::qtest::Attachment;
use ztoq_store::records::Record;
use ztoq_store::snapshot::{self, SrcAttachment};

/// qTest object type (as in its attachment paths) and id.
type Owner = (&'static str, i64);

/// Attachments: each owner's attachments are read once; names compared.
pub(super) async fn check(cx: &mut Ctx<'_>) -> Result<(), VerifyError> {
    let mut by_owner: HashMap<Owner, Vec<Attachment>> = HashMap::new();
    let mut source: HashMap<(&'static str, i64, String), (usize, Record)> = HashMap::new();
    let mut after = 0;
    while let Some(page) = cx.next_page(RecordKind::Attachment, &mut after).await? {
        let ids: Vec<i64> = page.iter().map(|(r, _)| r.source_id).collect();
        let mut conn = cx.pool.acquire().await?;
        let mut atts = snapshot::attachments_by_id(&mut conn, cx.run_id, &ids).await?;
        drop(conn);
        let page: Vec<(Record, SrcAttachment, Option<Owner>)> = page
            .into_iter()
            .filter_map(|(r, parents)| {
                let att = atts.remove(&r.source_id)?;
                let owner = owner(&att, &parents);
                Some((r, att, owner))
            })
            .collect();
        let wanted: HashSet<Owner> = page
            .iter()
            .filter_map(|(_, _, owner)| *owner)
            .filter(|o| !by_owner.contains_key(o))
            .collect();
        let qtest = cx.qtest;
        by_owner.extend(fetch_each(wanted, |(t, id)| qtest.attachments(t, id)).await?);
        for (r, att, owner) in page {
            let Some(owner) = owner else { continue };
            source
                .entry((owner.0, owner.1, att.name.clone()))
                .or_insert((0, r.clone()))
                .0 += 1;
            let actual = r.qtest_id.and_then(|id| {
                by_owner
                    .get(&owner)?
                    .iter()
                    .find(|a| a.id == Some(id))
                    .cloned()
            });
            match actual {
                None => cx.mismatch(&r, "missing", "an attachment", "none"),
                Some(a) => {
                    if cx.compare(&r, "name", Some(att.name.as_str()), a.name.as_deref()) {
                        cx.kind(RecordKind::Attachment).verified += 1;
                    }
                }
            }
        }
    }
    let mut target: HashMap<(&'static str, i64, String), usize> = HashMap::new();
    for ((t, id), list) in &by_owner {
        for a in list {
            *target
                .entry((*t, *id, a.name.clone().unwrap_or_default()))
                .or_default() += 1;
        }
    }
    duplicates(cx, RecordKind::Attachment, &source, &target);
    Ok(())
}

/// The qTest object an attachment hangs on: the test case, or the execution's test log.
fn owner(att: &SrcAttachment, parents: &[Record]) -> Option<Owner> {
    if att.owner_kind == "execution" {
        parents
            .iter()
            .find(|p| p.kind == RecordKind::Execution)
            .and_then(|p| p.qtest_data.as_ref())
            .and_then(|d| d.get("log_id"))
            .and_then(|v| v.as_i64())
            .map(|id| ("test-logs", id))
    } else {
        parent_qid(parents, RecordKind::TestCase).map(|id| ("test-cases", id))
    }
}
