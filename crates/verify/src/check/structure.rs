//! Folders, cycle folders and cycles: the module tree and the test-cycle tree are each read
//! once, whole, and every done record is compared with its item by qTest id, and identities
//! (parent, name) are counted for duplicates.

use super::{Ctx, duplicates, parent_qid};
use crate::VerifyError;
use std::collections::HashMap;
use ztoq_model::RecordKind;
use ztoq_model::qtest::{Module, TestCycle};
use ztoq_qtest::CycleParent;
use ztoq_store::records::Record;
use ztoq_store::snapshot;

/// Folders (modules), cycle folders and cycles (qTest's test-cycle tree).
pub(super) async fn check(cx: &mut Ctx<'_>) -> Result<(), VerifyError> {
    // Modules.
    let mut modules = HashMap::new();
    flatten_modules(cx.qtest.modules(None, true).await?, None, &mut modules);
    let mut source: HashMap<(Option<i64>, String), (usize, Record)> = HashMap::new();
    let mut conn = cx.pool.acquire().await?;
    let mut after = 0;
    while let Some(page) = cx.next_page(RecordKind::Folder, &mut after).await? {
        for (r, parents) in page {
            let Some(folder) = snapshot::folder(&mut conn, cx.run_id, r.source_id).await? else {
                continue;
            };
            let Ok(expected) = ztoq_transform::module(&folder) else {
                continue;
            };
            let parent = parent_qid(&parents, RecordKind::Folder);
            let name = expected.name.unwrap_or_default();
            let e = source
                .entry((parent, name.clone()))
                .or_insert((0, r.clone()));
            e.0 += 1;
            match r.qtest_id.and_then(|id| modules.get(&id)) {
                None => cx.mismatch(&r, "missing", "a module", "none"),
                Some((p, n)) => {
                    let ok = cx.compare(&r, "name", Some(name.as_str()), n.as_deref())
                        & cx.compare(&r, "parent_id", parent, *p);
                    if ok {
                        cx.kind(RecordKind::Folder).verified += 1;
                    }
                }
            }
        }
    }
    let mut target: HashMap<(Option<i64>, String), usize> = HashMap::new();
    for (p, n) in modules.values() {
        *target
            .entry((*p, n.clone().unwrap_or_default()))
            .or_default() += 1;
    }
    duplicates(cx, RecordKind::Folder, &source, &target);

    // Cycles (folders and cycles share qTest's test-cycle tree).
    let mut cycles = HashMap::new();
    flatten_cycles(
        cx.qtest.test_cycles(CycleParent::Root, true).await?,
        None,
        &mut cycles,
    );
    let mut target: HashMap<(Option<i64>, String), usize> = HashMap::new();
    for (p, c) in cycles.values() {
        *target
            .entry((*p, c.name.clone().unwrap_or_default()))
            .or_default() += 1;
    }
    for kind in [RecordKind::CycleFolder, RecordKind::TestCycle] {
        let mut source: HashMap<(Option<i64>, String), (usize, Record)> = HashMap::new();
        let mut after = 0;
        while let Some(page) = cx.next_page(kind, &mut after).await? {
            for (r, parents) in page {
                let expected = match kind {
                    RecordKind::CycleFolder => {
                        match snapshot::folder(&mut conn, cx.run_id, r.source_id).await? {
                            Some(f) => ztoq_transform::cycle_folder(&f).ok(),
                            None => None,
                        }
                    }
                    _ => match snapshot::test_cycle(&mut conn, cx.run_id, r.source_id).await? {
                        Some(c) => ztoq_transform::test_cycle(&c).ok(),
                        None => None,
                    },
                };
                let Some(expected) = expected else { continue };
                let parent = parent_qid(&parents, RecordKind::CycleFolder);
                let e = source
                    .entry((parent, expected.name.clone().unwrap_or_default()))
                    .or_insert((0, r.clone()));
                e.0 += 1;
                match r.qtest_id.and_then(|id| cycles.get(&id)) {
                    None => cx.mismatch(&r, "missing", "a test cycle", "none"),
                    Some((p, c)) => {
                        let ok =
                            cx.compare(&r, "name", expected.name.as_deref(), c.name.as_deref())
                                & cx.compare(
                                    &r,
                                    "description",
                                    expected.description.as_deref(),
                                    c.description.as_deref(),
                                )
                                & cx.compare(&r, "parent", parent, *p);
                        if ok {
                            cx.kind(kind).verified += 1;
                        }
                    }
                }
            }
        }
        duplicates(cx, kind, &source, &target);
    }
    Ok(())
}

fn flatten_modules(
    list: Vec<Module>,
    parent: Option<i64>,
    out: &mut HashMap<i64, (Option<i64>, Option<String>)>,
) {
    for m in list {
        if let Some(id) = m.id {
            out.insert(id, (m.parent_id.or(parent), m.name.clone()));
            flatten_modules(m.children.unwrap_or_default(), Some(id), out);
        }
    }
}

fn flatten_cycles(
    list: Vec<TestCycle>,
    parent: Option<i64>,
    out: &mut HashMap<i64, (Option<i64>, TestCycle)>,
) {
    for mut c in list {
        let children = c.test_cycles.take().unwrap_or_default();
        if let Some(id) = c.id {
            out.insert(id, (parent, c));
            flatten_cycles(children, Some(id), out);
        }
    }
}
