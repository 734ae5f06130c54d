//! Test cases: a page of done records at a time, their source cases and steps read in one
//! statement each, each module's cases read from qTest once (several modules at a time).

use super::{Ctx, duplicates, fetch_each, parent_qid};
use crate::VerifyError;
use std::collections::{HashMap, HashSet};
use ztoq_model::RecordKind;
use ztoq_model::qtest::TestCase;
use ztoq_store::records::Record;
use ztoq_store::snapshot;

/// Test cases: each module's cases are read once; steps, fields and identity compared.
pub(super) async fn check(cx: &mut Ctx<'_>) -> Result<(), VerifyError> {
    let mut by_module: HashMap<Option<i64>, HashMap<i64, TestCase>> = HashMap::new();
    let mut source: HashMap<String, (usize, Record)> = HashMap::new();
    let mut after = 0;
    while let Some(page) = cx.next_page(RecordKind::TestCase, &mut after).await? {
        let ids: Vec<i64> = page.iter().map(|(r, _)| r.source_id).collect();
        let mut conn = cx.pool.acquire().await?;
        let mut cases = snapshot::test_cases_by_id(&mut conn, cx.run_id, &ids).await?;
        let mut steps_by_case = snapshot::test_steps_by_case(&mut conn, cx.run_id, &ids).await?;
        drop(conn);
        let wanted: HashSet<Option<i64>> = page
            .iter()
            .map(|(_, parents)| parent_qid(parents, RecordKind::Folder))
            .filter(|m| !by_module.contains_key(m))
            .collect();
        let qtest = cx.qtest;
        for (module, list) in fetch_each(wanted, |m| qtest.all_test_cases(m)).await? {
            by_module.insert(
                module,
                list.into_iter()
                    .filter_map(|c| c.id.map(|id| (id, c)))
                    .collect(),
            );
        }
        for (r, parents) in page {
            let Some(case) = cases.remove(&r.source_id) else {
                continue;
            };
            let steps = steps_by_case.remove(&r.source_id).unwrap_or_default();
            let module = parent_qid(&parents, RecordKind::Folder);
            let ctx = ztoq_transform::TestCaseContext {
                module_id: module,
                zephyr_key_field_id: cx.settings.test_case_key_field_id,
            };
            let Ok(expected) = ztoq_transform::test_case(&case, &steps, ctx) else {
                continue;
            };
            source.entry(case.key.clone()).or_insert((0, r.clone())).0 += 1;
            let actual = r
                .qtest_id
                .and_then(|id| by_module.get(&module).and_then(|m| m.get(&id)))
                .cloned();
            let Some(actual) = actual else {
                cx.mismatch(&r, "missing", "a test case", "none");
                continue;
            };
            let e = expected.body;
            let key_of = |c: &TestCase| {
                c.properties
                    .iter()
                    .find(|p| p.field_id == cx.settings.test_case_key_field_id)
                    .and_then(|p| p.field_value.clone())
            };
            let steps_of = |c: &TestCase| -> Vec<(String, String)> {
                c.test_steps
                    .iter()
                    .flatten()
                    .map(|s| (s.description.clone(), s.expected.clone()))
                    .collect()
            };
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
                & cx.compare(&r, "Zephyr Key", key_of(&e), key_of(&actual))
                & cx.compare(&r, "test_steps", steps_of(&e), steps_of(&actual));
            if ok {
                cx.kind(RecordKind::TestCase).verified += 1;
            }
        }
    }
    let mut target: HashMap<String, usize> = HashMap::new();
    let key_field = cx.settings.test_case_key_field_id;
    for c in by_module.values().flat_map(|m| m.values()) {
        if let Some(k) = c
            .properties
            .iter()
            .find(|p| p.field_id == key_field)
            .and_then(|p| p.field_value.clone())
        {
            *target.entry(k).or_default() += 1;
        }
    }
    duplicates(cx, RecordKind::TestCase, &source, &target);
    Ok(())
}
