//! The comparisons, kind by kind (one module each). Each walks the done records of its kind a
//! page at a time: the page's source items are read in one statement per table, the qTest
//! side is read once per parent (a module's test cases, a cycle's runs, a run's logs, an
//! owner's attachments) with up to [`FETCHES`] reads in flight, and every done record is
//! compared with the transform of its source.

mod attachments;
mod executions;
mod structure;
mod test_cases;

use crate::VerifyError;
use crate::report::{KindReport, Mismatch};
use futures::{StreamExt, TryStreamExt};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use ztoq_http::ApiError;
use ztoq_model::RecordKind;
use ztoq_model::settings::RunSettings;
use ztoq_qtest::QtestClient;
use ztoq_store::records::{self, Record};

/// qTest reads in flight at once (paced by the shared rate limit when one is set).
const FETCHES: usize = 16;
/// Done records compared per page.
const PAGE: i64 = 1000;

/// A done record with the records it depends on.
type Done = (Record, Vec<Record>);

struct Ctx<'a> {
    pool: &'a sqlx::PgPool,
    qtest: &'a QtestClient,
    settings: &'a RunSettings,
    run_id: i64,
    kinds: &'a mut BTreeMap<RecordKind, KindReport>,
    out: &'a mut Vec<Mismatch>,
}

impl Ctx<'_> {
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

    fn kind(&mut self, kind: RecordKind) -> &mut KindReport {
        self.kinds.entry(kind).or_default()
    }

    /// The next page of done records of `kind` after record id `*after` (moved past it), with
    /// their parents; `None` after the last.
    async fn next_page(
        &self,
        kind: RecordKind,
        after: &mut i64,
    ) -> Result<Option<Vec<Done>>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let page = records::done_page(&mut conn, self.run_id, kind, *after, PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(None);
        };
        *after = last.id;
        let ids: Vec<i64> = page.iter().map(|r| r.id).collect();
        let mut parents = records::parents_of(&mut conn, &ids).await?;
        Ok(Some(
            page.into_iter()
                .map(|r| {
                    let p = parents.remove(&r.id).unwrap_or_default();
                    (r, p)
                })
                .collect(),
        ))
    }
}

/// Reads `fetch(key)` for every key, up to [`FETCHES`] at once; the first error wins.
async fn fetch_each<K, V, F, Fut>(
    keys: impl IntoIterator<Item = K>,
    fetch: F,
) -> Result<Vec<(K, V)>, ApiError>
where
    K: Clone,
    F: Fn(K) -> Fut,
    Fut: Future<Output = Result<V, ApiError>>,
{
    futures::stream::iter(keys)
        .map(|key| {
            let read = fetch(key.clone());
            async move { read.await.map(|value| (key, value)) }
        })
        .buffer_unordered(FETCHES)
        .try_collect()
        .await
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
fn duplicates<K: std::hash::Hash + Eq + Clone>(
    cx: &mut Ctx<'_>,
    kind: RecordKind,
    source: &HashMap<K, (usize, Record)>,
    target: &HashMap<K, usize>,
) -> u64 {
    let mut found = 0;
    for (key, (n, r)) in source {
        let t = target.get(key).copied().unwrap_or(0);
        found += t.min(*n) as u64;
        if t > *n {
            let r = r.clone();
            cx.mismatch(
                &r,
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
