//! Attachments: a page of done records at a time, their source references read in one
//! statement (ahead of time), each owner's attachments read from qTest once (several owners at
//! a time, while the previous page is compared).

use super::pages::{Check, Page, Pages, drive, fetch_each};
use super::{Ctx, Who, duplicates, parent_qid};
use crate::VerifyError;
use sqlx::PgPool;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use ztoq_http::ApiError;
use ztoq_model::RecordKind;
use ztoq_model::qtest::Attachment;
use ztoq_qtest::QtestClient;
use ztoq_store::records::Record;
use ztoq_store::snapshot::{self, SrcAttachment};

/// The kinds of qTest object an attachment of the source hangs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum OwnerType {
    TestCase,
    TestLog,
}

impl OwnerType {
    /// The object type as in qTest's attachment paths.
    fn path(self) -> &'static str {
        match self {
            OwnerType::TestCase => "test-cases",
            OwnerType::TestLog => "test-logs",
        }
    }
}

/// qTest object type and id.
type Owner = (OwnerType, i64);

async fn load(
    pool: PgPool,
    run: i64,
    ids: Vec<i64>,
) -> Result<HashMap<i64, SrcAttachment>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    snapshot::attachments_by_id(&mut conn, run, &ids).await
}

struct Attachments {
    qtest: QtestClient,
    by_owner: HashMap<Owner, Vec<Attachment>>,
    source: HashMap<(OwnerType, i64, String), (usize, Who)>,
}

/// Attachments: each owner's attachments are read once; names compared.
pub(super) async fn check(cx: &mut Ctx<'_>) -> Result<(), VerifyError> {
    let mut pages = Pages::start(cx.pool, cx.run_id, RecordKind::Attachment, load);
    let mut atts = Attachments {
        qtest: cx.qtest.clone(),
        by_owner: HashMap::new(),
        source: HashMap::new(),
    };
    drive(cx, &mut pages, &mut atts).await?;
    let mut target: HashMap<(OwnerType, i64, String), usize> = HashMap::new();
    for ((t, id), list) in &atts.by_owner {
        for a in list {
            *target
                .entry((*t, *id, a.name.clone().unwrap_or_default()))
                .or_default() += 1;
        }
    }
    duplicates(cx, RecordKind::Attachment, &atts.source, &target);
    Ok(())
}

impl Check for Attachments {
    type Source = HashMap<i64, SrcAttachment>;
    type Reads = Vec<(Owner, Vec<Attachment>)>;

    fn reads(
        &self,
        page: &Page<Self::Source>,
    ) -> impl Future<Output = Result<Self::Reads, ApiError>> + Send + 'static {
        let wanted: HashSet<Owner> = page
            .done
            .iter()
            .filter_map(|(r, parents)| owner(page.source.get(&r.source_id)?, parents))
            .filter(|o| !self.by_owner.contains_key(o))
            .collect();
        let qtest = self.qtest.clone();
        async move {
            fetch_each(wanted, |o: &Owner| {
                let ((t, id), qtest) = (*o, qtest.clone());
                async move { qtest.attachments(t.path(), id).await }
            })
            .await
        }
    }

    fn merge(&mut self, reads: Self::Reads) {
        self.by_owner.extend(reads);
    }

    fn compare(&mut self, cx: &mut Ctx<'_>, page: Page<Self::Source>) {
        let Page { done, mut source } = page;
        for (r, parents) in done {
            let Some(att) = source.remove(&r.source_id) else {
                continue;
            };
            let Some(owner) = owner(&att, &parents) else {
                continue;
            };
            self.compare_one(cx, &r, &att, owner);
        }
    }
}

impl Attachments {
    fn compare_one(&mut self, cx: &mut Ctx<'_>, r: &Record, att: &SrcAttachment, owner: Owner) {
        self.source
            .entry((owner.0, owner.1, att.name.clone()))
            .or_insert_with(|| (0, Who::of(r)))
            .0 += 1;
        let actual = r
            .qtest_id
            .and_then(|id| self.by_owner.get(&owner)?.iter().find(|a| a.id == Some(id)));
        match actual {
            None => cx.mismatch(r, "missing", "an attachment", "none"),
            Some(a) => {
                if cx.compare(r, "name", Some(att.name.as_str()), a.name.as_deref()) {
                    cx.kind(RecordKind::Attachment).verified += 1;
                }
            }
        }
    }
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
            .map(|id| (OwnerType::TestLog, id))
    } else {
        parent_qid(parents, RecordKind::TestCase).map(|id| (OwnerType::TestCase, id))
    }
}
