//! Test cases: a page of done records at a time, their source cases and steps read in one
//! statement each (ahead of time), each module's cases read from qTest once (several modules
//! at a time, while the previous page is compared).

use super::pages::{Check, Page, Pages, drive, fetch_each};
use super::wire::{self, prop};
use super::{Ctx, Who, duplicates, parent_qid};
use crate::VerifyError;
use sqlx::PgPool;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use ztoq_http::ApiError;
use ztoq_model::RecordKind;
use ztoq_model::zephyr::{TestCase, TestStep};
use ztoq_qtest::QtestClient;
use ztoq_store::snapshot;

/// A page's source cases and their steps, by source id.
struct Source {
    cases: HashMap<i64, TestCase>,
    steps: HashMap<i64, Vec<TestStep>>,
}

async fn load(pool: PgPool, run: i64, ids: Vec<i64>) -> Result<Source, sqlx::Error> {
    let cases = async {
        let mut conn = pool.acquire().await?;
        snapshot::test_cases_by_id(&mut conn, run, &ids).await
    };
    let steps = async {
        let mut conn = pool.acquire().await?;
        snapshot::test_steps_by_case(&mut conn, run, &ids).await
    };
    let (cases, steps) = tokio::try_join!(cases, steps)?;
    Ok(Source { cases, steps })
}

/// Cases of a module, by qTest id.
type ModuleCases = HashMap<i64, wire::TestCase>;

struct Cases {
    qtest: QtestClient,
    key_field: i64,
    by_module: HashMap<Option<i64>, ModuleCases>,
    source: HashMap<String, (usize, Who)>,
}

/// Test cases: each module's cases are read once; steps, fields and identity compared.
pub(super) async fn check(cx: &mut Ctx<'_>) -> Result<(), VerifyError> {
    let mut pages = Pages::start(cx.pool, cx.run_id, RecordKind::TestCase, load);
    let mut cases = Cases {
        qtest: cx.qtest.clone(),
        key_field: cx.settings.test_case_key_field_id,
        by_module: HashMap::new(),
        source: HashMap::new(),
    };
    drive(cx, &mut pages, &mut cases).await?;
    let mut target: HashMap<String, usize> = HashMap::new();
    for c in cases.by_module.values().flat_map(|m| m.values()) {
        if let Some(k) = prop(&c.properties, cases.key_field) {
            *target.entry(k.to_string()).or_default() += 1;
        }
    }
    duplicates(cx, RecordKind::TestCase, &cases.source, &target);
    Ok(())
}

impl Check for Cases {
    type Source = Source;
    type Reads = Vec<(Option<i64>, Vec<wire::TestCase>)>;

    fn reads(
        &self,
        page: &Page<Source>,
    ) -> impl Future<Output = Result<Self::Reads, ApiError>> + Send + 'static {
        let wanted: HashSet<Option<i64>> = page
            .done
            .iter()
            .map(|(_, parents)| parent_qid(parents, RecordKind::Folder))
            .filter(|m| !self.by_module.contains_key(m))
            .collect();
        let qtest = self.qtest.clone();
        async move {
            fetch_each(wanted, |m| {
                let (qtest, m) = (qtest.clone(), *m);
                async move { qtest.all_test_cases_as::<wire::TestCase>(m).await }
            })
            .await
        }
    }

    fn merge(&mut self, reads: Self::Reads) {
        for (module, list) in reads {
            self.by_module.insert(
                module,
                list.into_iter()
                    .filter_map(|c| c.id.map(|id| (id, c)))
                    .collect(),
            );
        }
    }

    fn compare(&mut self, cx: &mut Ctx<'_>, page: Page<Source>) {
        let Page { done, source } = page;
        let Source {
            mut cases,
            mut steps,
        } = source;
        for (r, parents) in done {
            let Some(case) = cases.remove(&r.source_id) else {
                continue;
            };
            let steps = steps.remove(&r.source_id).unwrap_or_default();
            let module = parent_qid(&parents, RecordKind::Folder);
            let ctx = ztoq_transform::TestCaseContext {
                module_id: module,
                zephyr_key_field_id: self.key_field,
            };
            let Ok(expected) = ztoq_transform::test_case(&case, &steps, ctx) else {
                continue;
            };
            self.source
                .entry(case.key.clone())
                .or_insert_with(|| (0, Who::of(&r)))
                .0 += 1;
            let actual = r
                .qtest_id
                .and_then(|id| self.by_module.get(&module).and_then(|m| m.get(&id)));
            let Some(actual) = actual else {
                cx.mismatch(&r, "missing", "a test case", "none");
                continue;
            };
            let e = expected.body;
            let key = self.key_field;
            let expected_key = e
                .properties
                .iter()
                .find(|p| p.field_id == key)
                .and_then(|p| p.field_value.as_deref());
            let expected_steps = e
                .test_steps
                .iter()
                .flatten()
                .map(|s| (s.description.as_str(), s.expected.as_str()));
            let actual_steps = actual
                .test_steps
                .iter()
                .flatten()
                .map(|s| (s.description.as_str(), s.expected.as_str()));
            let ok = cx.compare(&r, "name", e.name.as_deref(), actual.name.as_deref())
                & cx.compare(&r, "parent_id", e.parent_id, actual.parent_id)
                & cx.compare(
                    &r,
                    "description",
                    e.description.as_deref().unwrap_or(""),
                    actual.description.as_deref().unwrap_or(""),
                )
                & cx.compare(
                    &r,
                    "precondition",
                    e.precondition.as_deref().unwrap_or(""),
                    actual.precondition.as_deref().unwrap_or(""),
                )
                & cx.compare(
                    &r,
                    "Zephyr Key",
                    expected_key,
                    prop(&actual.properties, key),
                )
                & cx.compare_seq(&r, "test_steps", expected_steps, actual_steps);
            if ok {
                cx.kind(RecordKind::TestCase).verified += 1;
            }
        }
    }
}
