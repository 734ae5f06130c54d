//! The comparisons, kind by kind (one module each). Each walks the done records of its kind a
//! page at a time: the page's records, parents and source items are read in a few statements
//! (ahead of time, by a task of their own: `pages`), the qTest side is read once per parent (a
//! module's test cases, a cycle's runs, a run's logs, an owner's attachments) with up to
//! [`pages::FETCHES`] reads in flight, and every done record is compared with the transform of
//! its source.

mod attachments;
mod executions;
mod pages;
mod structure;
mod test_cases;
mod wire;

use crate::VerifyError;
use crate::report::{KindReport, Mismatch};
pub(crate) use pages::READ_RETRY;
use std::collections::{BTreeMap, HashMap};
use ztoq_model::RecordKind;
use ztoq_model::settings::RunSettings;
use ztoq_qtest::QtestClient;
use ztoq_store::records::Record;

/// Page size of the `pageSize` list endpoints (test runs, test logs): qTest's largest.
const LIST_PAGE_SIZE: i64 = 999;

/// A done record with the records it depends on.
type Done = (Record, Vec<Record>);

/// The record a mismatch names.
#[derive(Debug, Clone)]
struct Who {
    kind: RecordKind,
    source_key: String,
    qtest_id: Option<i64>,
}

impl Who {
    fn of(r: &Record) -> Self {
        Who {
            kind: r.kind,
            source_key: r.source_key.clone(),
            qtest_id: r.qtest_id,
        }
    }
}

struct Ctx<'a> {
    pool: &'a sqlx::PgPool,
    /// For the test-case lists (`size` paging, page size as configured).
    qtest: &'a QtestClient,
    /// For the run and log lists (`pageSize` paging, [`LIST_PAGE_SIZE`]).
    lists: QtestClient,
    settings: &'a RunSettings,
    run_id: i64,
    kinds: &'a mut BTreeMap<RecordKind, KindReport>,
    out: &'a mut Vec<Mismatch>,
}

impl Ctx<'_> {
    fn mismatch_of(&mut self, who: &Who, field: &str, expected: String, actual: String) {
        self.out.push(Mismatch {
            kind: who.kind,
            source_key: who.source_key.clone(),
            qtest_id: who.qtest_id,
            field: field.to_string(),
            expected,
            actual,
        });
    }

    fn mismatch(
        &mut self,
        r: &Record,
        field: &str,
        expected: impl ToString,
        actual: impl ToString,
    ) {
        self.out.push(Mismatch {
            kind: r.kind,
            source_key: r.source_key.clone(),
            qtest_id: r.qtest_id,
            field: field.to_string(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        });
    }

    fn compare<T: PartialEq + std::fmt::Debug>(
        &mut self,
        r: &Record,
        field: &str,
        expected: T,
        actual: T,
    ) -> bool {
        if expected == actual {
            return true;
        }
        self.mismatch(r, field, format!("{expected:?}"), format!("{actual:?}"));
        false
    }

    /// Compares two sequences item by item; only a difference builds them (as `Vec`s, whose
    /// `Debug` form the mismatch carries).
    fn compare_seq<T: PartialEq + std::fmt::Debug>(
        &mut self,
        r: &Record,
        field: &str,
        expected: impl Iterator<Item = T> + Clone,
        actual: impl Iterator<Item = T> + Clone,
    ) -> bool {
        if expected.clone().eq(actual.clone()) {
            return true;
        }
        let expected: Vec<T> = expected.collect();
        let actual: Vec<T> = actual.collect();
        self.mismatch(r, field, format!("{expected:?}"), format!("{actual:?}"));
        false
    }

    fn kind(&mut self, kind: RecordKind) -> &mut KindReport {
        self.kinds.entry(kind).or_default()
    }
}

fn parent_qid(parents: &[Record], kind: RecordKind) -> Option<i64> {
    parents
        .iter()
        .find(|p| p.kind == kind)
        .and_then(|p| p.qtest_id)
}

/// Runs every comparison.
pub async fn all(
    pool: &sqlx::PgPool,
    qtest: &QtestClient,
    settings: &RunSettings,
    run_id: i64,
    kinds: &mut BTreeMap<RecordKind, KindReport>,
    out: &mut Vec<Mismatch>,
) -> Result<(), VerifyError> {
    let mut cx = Ctx {
        pool,
        qtest,
        lists: qtest.clone().with_page_size(LIST_PAGE_SIZE),
        settings,
        run_id,
        kinds,
        out,
    };
    structure::check(&mut cx).await?;
    test_cases::check(&mut cx).await?;
    executions::check(&mut cx).await?;
    attachments::check(&mut cx).await?;
    Ok(())
}

/// Counts qTest items per identity and reports identities held more often than the source
/// has them (duplicates). Returns how many qTest items match a source identity.
fn duplicates<K: std::hash::Hash + Eq>(
    cx: &mut Ctx<'_>,
    kind: RecordKind,
    source: &HashMap<K, (usize, Who)>,
    target: &HashMap<K, usize>,
) -> u64 {
    let mut found = 0;
    for (key, (n, who)) in source {
        let t = target.get(key).copied().unwrap_or(0);
        found += t.min(*n) as u64;
        if t > *n {
            cx.mismatch_of(
                who,
                "duplicate",
                format!("{n} copies"),
                format!("{t} copies"),
            );
            found += (t - n) as u64;
        }
    }
    cx.kind(kind).in_qtest += found;
    found
}
