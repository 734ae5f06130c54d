//! The comparisons, kind by kind. Each reads the qTest side once per parent (a module's test
//! cases, a cycle's runs, a run's logs, an owner's attachments) and compares every done
//! record with the transform of its source.

use crate::VerifyError;
use crate::report::{KindReport, Mismatch};
use std::collections::{BTreeMap, HashMap};
use ztoq_model::RecordKind;
use ztoq_model::qtest::{Module, TestCase, TestCycle, TestLog, TestRun};
use ztoq_model::settings::RunSettings;
use ztoq_qtest::{CycleParent, QtestClient, RunParent};
use ztoq_store::records::{self, Record};
use ztoq_store::snapshot;

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

    async fn done(&self, kind: RecordKind) -> Result<Vec<(Record, Vec<Record>)>, sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = records::done_page(&mut conn, self.run_id, kind, after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            let ids: Vec<i64> = page.iter().map(|r| r.id).collect();
            let mut parents = records::parents_of(&mut conn, &ids).await?;
            out.extend(page.into_iter().map(|r| {
                let p = parents.remove(&r.id).unwrap_or_default();
                (r, p)
            }));
        }
        Ok(out)
    }
}

fn parent_qid(parents: &[Record], kind: RecordKind) -> Option<i64> {
    parents
        .iter()
        .find(|p| p.kind == kind)
        .and_then(|p| p.qtest_id)
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
    structure(&mut cx).await?;
    test_cases(&mut cx).await?;
    executions(&mut cx).await?;
    attachments(&mut cx).await?;
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

async fn structure(cx: &mut Ctx<'_>) -> Result<(), VerifyError> {
    // Modules.
    let mut modules = HashMap::new();
    flatten_modules(cx.qtest.modules(None, true).await?, None, &mut modules);
    let mut source: HashMap<(Option<i64>, String), (usize, Record)> = HashMap::new();
    let mut conn = cx.pool.acquire().await?;
    for (r, parents) in cx.done(RecordKind::Folder).await? {
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
        for (r, parents) in cx.done(kind).await? {
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
        duplicates(cx, kind, &source, &target);
    }
    Ok(())
}

async fn test_cases(cx: &mut Ctx<'_>) -> Result<(), VerifyError> {
    let mut by_module: HashMap<Option<i64>, HashMap<i64, TestCase>> = HashMap::new();
    let mut source: HashMap<String, (usize, Record)> = HashMap::new();
    let mut conn = cx.pool.acquire().await?;
    for (r, parents) in cx.done(RecordKind::TestCase).await? {
        let Some(case) = snapshot::test_case(&mut conn, cx.run_id, r.source_id).await? else {
            continue;
        };
        let steps = snapshot::test_steps(&mut conn, cx.run_id, r.source_id).await?;
        let module = parent_qid(&parents, RecordKind::Folder);
        let ctx = ztoq_transform::TestCaseContext {
            module_id: module,
            zephyr_key_field_id: cx.settings.test_case_key_field_id,
        };
        let Ok(expected) = ztoq_transform::test_case(&case, &steps, ctx) else {
            continue;
        };
        source.entry(case.key.clone()).or_insert((0, r.clone())).0 += 1;
        if let std::collections::hash_map::Entry::Vacant(v) = by_module.entry(module) {
            let list = cx.qtest.all_test_cases(module).await?;
            v.insert(
                list.into_iter()
                    .filter_map(|c| c.id.map(|id| (id, c)))
                    .collect(),
            );
        }
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

async fn executions(cx: &mut Ctx<'_>) -> Result<(), VerifyError> {
    let mut runs_by_cycle: HashMap<i64, Vec<TestRun>> = HashMap::new();
    let mut logs_by_run: HashMap<i64, Vec<TestLog>> = HashMap::new();
    let mut source: HashMap<(i64, String), (usize, Record)> = HashMap::new();
    let mut conn = cx.pool.acquire().await?;
    let settings = cx.settings.clone();
    for (r, parents) in cx.done(RecordKind::Execution).await? {
        let Some(exec) = snapshot::execution(&mut conn, cx.run_id, r.source_id).await? else {
            continue;
        };
        let steps = snapshot::execution_steps(&mut conn, cx.run_id, r.source_id).await?;
        let (Some(cycle), Some(case)) = (
            parent_qid(&parents, RecordKind::TestCycle),
            parents.iter().find(|p| p.kind == RecordKind::TestCase),
        ) else {
            continue;
        };
        let data = r.qtest_data.clone().unwrap_or_default();
        let run_id = data.get("run_id").and_then(|v| v.as_i64());
        let log_id = data.get("log_id").and_then(|v| v.as_i64());
        if let std::collections::hash_map::Entry::Vacant(v) = runs_by_cycle.entry(cycle) {
            v.insert(cx.qtest.all_test_runs(RunParent::TestCycle(cycle)).await?);
        }
        let run = run_id.and_then(|id| {
            runs_by_cycle[&cycle]
                .iter()
                .find(|x| x.id == Some(id))
                .cloned()
        });
        let Some(run) = run else {
            cx.mismatch(&r, "missing", "a test run", "none");
            continue;
        };
        let mut ok = cx.compare(
            &r,
            "test_run.test_case",
            case.qtest_id,
            Some(run.test_case.id),
        );
        let case_data = case.qtest_data.clone().unwrap_or_default();
        let step_ids: Vec<Option<i64>> = case_data
            .get("step_ids")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        let expected = ztoq_transform::test_log(
            &exec,
            &steps,
            ztoq_transform::LogContext {
                status_map: &settings.status_map,
                unexecuted_status_id: settings.unexecuted_status_id,
                step_ids: &step_ids,
                test_case_version_id: case_data.get("version_id").and_then(|v| v.as_i64()),
                zephyr_key_field_id: settings.test_run_key_field_id,
            },
        );
        let Ok(expected) = expected else { continue };
        let rid = run.id.unwrap_or_default();
        if let std::collections::hash_map::Entry::Vacant(v) = logs_by_run.entry(rid) {
            v.insert(cx.qtest.all_test_logs(rid).await?);
        }
        match expected {
            None => {
                // Never ran: the run alone says so.
                ok &= cx.compare(&r, "test_log", None, log_id);
                cx.kind(RecordKind::Execution).in_qtest += 1;
            }
            Some(e) => {
                let marker = ztoq_transform::execution_marker(&exec);
                source.entry((rid, marker)).or_insert((0, r.clone())).0 += 1;
                let actual = log_id
                    .and_then(|id| logs_by_run[&rid].iter().find(|l| l.id == Some(id)).cloned());
                match actual {
                    None => {
                        cx.mismatch(&r, "missing", "a test log", "none");
                        continue;
                    }
                    Some(a) => {
                        let steps_of =
                            |l: &TestLog| -> Vec<(Option<i64>, Option<i64>, Option<String>)> {
                                l.test_step_logs
                                    .iter()
                                    .flatten()
                                    .map(|s| {
                                        (
                                            s.test_step_id,
                                            s.status.as_ref().map(|x| x.id),
                                            s.actual_result.clone(),
                                        )
                                    })
                                    .collect()
                            };
                        let marker_of = |l: &TestLog| {
                            l.properties
                                .iter()
                                .flatten()
                                .find(|p| p.field_id == settings.test_run_key_field_id)
                                .and_then(|p| p.field_value.clone())
                        };
                        ok &= cx.compare(&r, "status", e.status.id, a.status.id)
                            & cx.compare(
                                &r,
                                "exe_start_date",
                                &e.exe_start_date,
                                &a.exe_start_date,
                            )
                            & cx.compare(&r, "exe_end_date", &e.exe_end_date, &a.exe_end_date)
                            & cx.compare(
                                &r,
                                "note",
                                e.note.as_deref().unwrap_or(""),
                                a.note.as_deref().unwrap_or(""),
                            )
                            & cx.compare(&r, "Zephyr Key", marker_of(&e), marker_of(&a))
                            & cx.compare(&r, "test_step_logs", steps_of(&e), steps_of(&a));
                    }
                }
            }
        }
        if ok {
            cx.kind(RecordKind::Execution).verified += 1;
        }
    }
    let mut target: HashMap<(i64, String), usize> = HashMap::new();
    for (rid, logs) in &logs_by_run {
        for l in logs {
            if let Some(m) = l
                .properties
                .iter()
                .flatten()
                .find(|p| p.field_id == settings.test_run_key_field_id)
                .and_then(|p| p.field_value.clone())
            {
                *target.entry((*rid, m)).or_default() += 1;
            }
        }
    }
    duplicates(cx, RecordKind::Execution, &source, &target);
    Ok(())
}

async fn attachments(cx: &mut Ctx<'_>) -> Result<(), VerifyError> {
    let mut by_owner: HashMap<(&'static str, i64), Vec<ztoq_model::qtest::Attachment>> =
        HashMap::new();
    let mut source: HashMap<(&'static str, i64, String), (usize, Record)> = HashMap::new();
    let mut conn = cx.pool.acquire().await?;
    for (r, parents) in cx.done(RecordKind::Attachment).await? {
        let Some(att) = snapshot::attachment(&mut conn, cx.run_id, r.source_id).await? else {
            continue;
        };
        let owner = if att.owner_kind == "execution" {
            parents
                .iter()
                .find(|p| p.kind == RecordKind::Execution)
                .and_then(|p| p.qtest_data.as_ref())
                .and_then(|d| d.get("log_id"))
                .and_then(|v| v.as_i64())
                .map(|id| ("test-logs", id))
        } else {
            parent_qid(&parents, RecordKind::TestCase).map(|id| ("test-cases", id))
        };
        let Some(owner) = owner else { continue };
        source
            .entry((owner.0, owner.1, att.name.clone()))
            .or_insert((0, r.clone()))
            .0 += 1;
        if let std::collections::hash_map::Entry::Vacant(v) = by_owner.entry(owner) {
            v.insert(cx.qtest.attachments(owner.0, owner.1).await?);
        }
        let actual = r
            .qtest_id
            .and_then(|id| by_owner[&owner].iter().find(|a| a.id == Some(id)).cloned());
        match actual {
            None => cx.mismatch(&r, "missing", "an attachment", "none"),
            Some(a) => {
                if cx.compare(&r, "name", Some(att.name.as_str()), a.name.as_deref()) {
                    cx.kind(RecordKind::Attachment).verified += 1;
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
