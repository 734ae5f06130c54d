//! Executions: a page of done records at a time, their source executions and step results
//! read in one statement each, the runs of each cycle and the logs of each run read from
//! qTest once (several at a time).

use super::{Ctx, Done, duplicates, fetch_each, parent_qid};
use crate::VerifyError;
use std::collections::{HashMap, HashSet};
use ztoq_http::ApiError;
use ztoq_model::RecordKind;
use ztoq_model::qtest::{TestLog, TestRun};
use ztoq_qtest::{QtestClient, RunParent};
use ztoq_store::records::Record;
use ztoq_store::snapshot;

/// Executions: each cycle's runs and each run's logs are read once; the run's test case, the
/// log's status, dates, note, marker and step logs compared.
pub(super) async fn check(cx: &mut Ctx<'_>) -> Result<(), VerifyError> {
    let mut runs_by_cycle: HashMap<i64, Vec<TestRun>> = HashMap::new();
    let mut logs_by_run: HashMap<i64, Vec<TestLog>> = HashMap::new();
    let mut source: HashMap<(i64, String), (usize, Record)> = HashMap::new();
    let settings = cx.settings.clone();
    let mut after = 0;
    while let Some(page) = cx.next_page(RecordKind::Execution, &mut after).await? {
        let ids: Vec<i64> = page.iter().map(|(r, _)| r.source_id).collect();
        let mut conn = cx.pool.acquire().await?;
        let mut execs = snapshot::executions_by_id(&mut conn, cx.run_id, &ids).await?;
        let mut steps_by_exec =
            snapshot::execution_steps_by_execution(&mut conn, cx.run_id, &ids).await?;
        drop(conn);
        prefetch(cx.qtest, &page, &mut runs_by_cycle, &mut logs_by_run).await?;
        for (r, parents) in page {
            let Some(exec) = execs.remove(&r.source_id) else {
                continue;
            };
            let steps = steps_by_exec.remove(&r.source_id).unwrap_or_default();
            let (Some(cycle), Some(case)) = (
                parent_qid(&parents, RecordKind::TestCycle),
                parents.iter().find(|p| p.kind == RecordKind::TestCase),
            ) else {
                continue;
            };
            let data = r.qtest_data.clone().unwrap_or_default();
            let run_id = data.get("run_id").and_then(|v| v.as_i64());
            let log_id = data.get("log_id").and_then(|v| v.as_i64());
            let run = run_id.and_then(|id| {
                runs_by_cycle
                    .get(&cycle)?
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
            match expected {
                None => {
                    // Never ran: the run alone says so.
                    ok &= cx.compare(&r, "test_log", None, log_id);
                    cx.kind(RecordKind::Execution).in_qtest += 1;
                }
                Some(e) => {
                    let marker = ztoq_transform::execution_marker(&exec);
                    source.entry((rid, marker)).or_insert((0, r.clone())).0 += 1;
                    let actual = log_id.and_then(|id| {
                        logs_by_run
                            .get(&rid)?
                            .iter()
                            .find(|l| l.id == Some(id))
                            .cloned()
                    });
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

/// Reads what the page needs from qTest and was not read yet: the runs of its cycles, then the
/// logs of the runs its records point at.
async fn prefetch(
    qtest: &QtestClient,
    page: &[Done],
    runs_by_cycle: &mut HashMap<i64, Vec<TestRun>>,
    logs_by_run: &mut HashMap<i64, Vec<TestLog>>,
) -> Result<(), ApiError> {
    let cycles: HashSet<i64> = page
        .iter()
        .filter_map(|(_, parents)| parent_qid(parents, RecordKind::TestCycle))
        .filter(|c| !runs_by_cycle.contains_key(c))
        .collect();
    let read = fetch_each(cycles, |c| qtest.all_test_runs(RunParent::TestCycle(c))).await?;
    runs_by_cycle.extend(read);
    let runs: HashSet<i64> = page
        .iter()
        .filter_map(|(r, parents)| {
            let cycle = parent_qid(parents, RecordKind::TestCycle)?;
            let id = r.qtest_data.as_ref()?.get("run_id")?.as_i64()?;
            runs_by_cycle
                .get(&cycle)?
                .iter()
                .any(|x| x.id == Some(id))
                .then_some(id)
        })
        .filter(|id| !logs_by_run.contains_key(id))
        .collect();
    logs_by_run.extend(fetch_each(runs, |id| qtest.all_test_logs(id)).await?);
    Ok(())
}
