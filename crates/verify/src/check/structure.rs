//! Folders, cycle folders and cycles: the module tree and the test-cycle tree are each read
//! once, whole, and every done record is compared with its item by qTest id, and identities
//! (parent, name) are counted for duplicates. The source items of a page are read (and
//! transformed) in one statement per page, ahead of the comparison.

use super::pages::{Page, Pages, READ_RETRY};
use super::{Ctx, Who, duplicates, parent_qid};
use crate::VerifyError;
use sqlx::PgPool;
use std::collections::HashMap;
use ztoq_http::retrying;
use ztoq_model::RecordKind;
use ztoq_model::qtest::{Module, TestCycle};
use ztoq_model::zephyr::Folder;
use ztoq_qtest::CycleParent;
use ztoq_store::snapshot;
use ztoq_transform::TransformError;

/// Expected items of a page, by source id (items the transform refuses are absent).
type Expected<T> = HashMap<i64, T>;

/// The folders of `ids` as `transform` makes them (modules or cycle folders).
async fn folders_as<T>(
    pool: PgPool,
    run: i64,
    ids: Vec<i64>,
    transform: fn(&Folder) -> Result<T, TransformError>,
) -> Result<Expected<T>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let folders = snapshot::folders_by_id(&mut conn, run, &ids).await?;
    Ok(folders
        .into_iter()
        .filter_map(|(id, f)| Some((id, transform(&f).ok()?)))
        .collect())
}

async fn cycles_of(
    pool: PgPool,
    run: i64,
    ids: Vec<i64>,
) -> Result<Expected<TestCycle>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let cycles = snapshot::test_cycles_by_id(&mut conn, run, &ids).await?;
    Ok(cycles
        .into_iter()
        .filter_map(|(id, c)| Some((id, ztoq_transform::test_cycle(&c).ok()?)))
        .collect())
}

/// Folders (modules), cycle folders and cycles (qTest's test-cycle tree).
pub(super) async fn check(cx: &mut Ctx<'_>) -> Result<(), VerifyError> {
    // Modules.
    let mut pages = Pages::start(cx.pool, cx.run_id, RecordKind::Folder, |pool, run, ids| {
        folders_as(pool, run, ids, ztoq_transform::module)
    });
    let mut modules = HashMap::new();
    let tree = retrying(&READ_RETRY, "list modules", || cx.qtest.modules(None, true)).await?;
    flatten_modules(tree, None, &mut modules);
    let mut source: HashMap<(Option<i64>, String), (usize, Who)> = HashMap::new();
    while let Some(Page {
        done,
        source: mut expected,
    }) = pages.next().await?
    {
        for (r, parents) in done {
            let Some(expected) = expected.remove(&r.source_id) else {
                continue;
            };
            let parent = parent_qid(&parents, RecordKind::Folder);
            let name = expected.name.unwrap_or_default();
            let e = source
                .entry((parent, name.clone()))
                .or_insert_with(|| (0, Who::of(&r)));
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
    let mut folder_pages = Pages::start(
        cx.pool,
        cx.run_id,
        RecordKind::CycleFolder,
        |pool, run, ids| folders_as(pool, run, ids, ztoq_transform::cycle_folder),
    );
    let mut cycles = HashMap::new();
    flatten_cycles(
        retrying(&READ_RETRY, "list test cycles", || {
            cx.qtest.test_cycles(CycleParent::Root, true)
        })
        .await?,
        None,
        &mut cycles,
    );
    let mut target: HashMap<(Option<i64>, String), usize> = HashMap::new();
    for (p, c) in cycles.values() {
        *target
            .entry((*p, c.name.clone().unwrap_or_default()))
            .or_default() += 1;
    }
    compare_cycles(
        cx,
        &mut folder_pages,
        RecordKind::CycleFolder,
        &cycles,
        &target,
    )
    .await?;
    let mut cycle_pages = Pages::start(cx.pool, cx.run_id, RecordKind::TestCycle, cycles_of);
    compare_cycles(
        cx,
        &mut cycle_pages,
        RecordKind::TestCycle,
        &cycles,
        &target,
    )
    .await
}

/// Cycle folders or cycles: each done record against its test cycle.
async fn compare_cycles(
    cx: &mut Ctx<'_>,
    pages: &mut Pages<Expected<TestCycle>>,
    kind: RecordKind,
    cycles: &HashMap<i64, (Option<i64>, TestCycle)>,
    target: &HashMap<(Option<i64>, String), usize>,
) -> Result<(), VerifyError> {
    let mut source: HashMap<(Option<i64>, String), (usize, Who)> = HashMap::new();
    while let Some(Page {
        done,
        source: mut expected,
    }) = pages.next().await?
    {
        for (r, parents) in done {
            let Some(expected) = expected.remove(&r.source_id) else {
                continue;
            };
            let parent = parent_qid(&parents, RecordKind::CycleFolder);
            let e = source
                .entry((parent, expected.name.clone().unwrap_or_default()))
                .or_insert_with(|| (0, Who::of(&r)));
            e.0 += 1;
            match r.qtest_id.and_then(|id| cycles.get(&id)) {
                None => cx.mismatch(&r, "missing", "a test cycle", "none"),
                Some((p, c)) => {
                    let ok = cx.compare(&r, "name", expected.name.as_deref(), c.name.as_deref())
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
    duplicates(cx, kind, &source, target);
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
