//! Executions: a page of done records at a time, their source executions and step results
//! read in one statement each (ahead of time), the runs of each cycle and the logs of each run
//! read from qTest once (several at a time, while the previous page is compared).

use super::pages::{Check, Page, Pages, drive, fetch_each};
use super::wire::{self, prop};
use super::{Ctx, Done, Who, duplicates, parent_qid};
use crate::VerifyError;
use serde::Deserialize;
use sqlx::PgPool;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use ztoq_http::ApiError;
use ztoq_model::RecordKind;
use ztoq_model::settings::RunSettings;
use ztoq_model::zephyr::{ExecutionStep, TestExecution};
use ztoq_qtest::{QtestClient, RunParent};
use ztoq_store::records::Record;
use ztoq_store::snapshot;

/// A page's source executions and their step results, by source id.
struct Source {
    executions: HashMap<i64, TestExecution>,
    steps: HashMap<i64, Vec<ExecutionStep>>,
}

async fn load(pool: PgPool, run: i64, ids: Vec<i64>) -> Result<Source, sqlx::Error> {
    let executions = async {
        let mut conn = pool.acquire().await?;
        snapshot::executions_by_id(&mut conn, run, &ids).await
    };
    let steps = async {
        let mut conn = pool.acquire().await?;
        snapshot::execution_steps_by_execution(&mut conn, run, &ids).await
    };
    let (executions, steps) = tokio::try_join!(executions, steps)?;
    Ok(Source { executions, steps })
}

/// What a page's qTest reads returned: the runs of cycles, the logs of runs.
#[derive(Default)]
struct Reads {
    runs: Vec<(i64, Vec<wire::TestRun>)>,
    logs: Vec<(i64, Vec<wire::TestLog>)>,
}

struct Executions {
    lists: QtestClient,
    settings: RunSettings,
    /// Cycles whose runs were read.
    cycles: HashSet<i64>,
    /// Every run read, by id, with its cycle.
    runs: HashMap<i64, (i64, wire::TestRun)>,
    /// The logs of each run read.
    logs: HashMap<i64, Vec<wire::TestLog>>,
    source: HashMap<(i64, String), (usize, Who)>,
}

/// Executions: each cycle's runs and each run's logs are read once; the run's test case, the
/// log's status, dates, note, marker and step logs compared.
pub(super) async fn check(cx: &mut Ctx<'_>) -> Result<(), VerifyError> {
    let mut pages = Pages::start(cx.pool, cx.run_id, RecordKind::Execution, load);
    let mut execs = Executions {
        lists: cx.lists.clone(),
        settings: cx.settings.clone(),
        cycles: HashSet::new(),
        runs: HashMap::new(),
        logs: HashMap::new(),
        source: HashMap::new(),
    };
    drive(cx, &mut pages, &mut execs).await?;
    let mut target: HashMap<(i64, String), usize> = HashMap::new();
    let key = execs.settings.test_run_key_field_id;
    for (rid, logs) in &execs.logs {
        for l in logs {
            if let Some(m) = prop(l.properties.as_deref().unwrap_or_default(), key) {
                *target.entry((*rid, m.to_string())).or_default() += 1;
            }
        }
    }
    duplicates(cx, RecordKind::Execution, &execs.source, &target);
    Ok(())
}

/// The qTest run an execution record points at (`qtest_data.run_id`), and its cycle.
fn run_of(r: &Record, parents: &[Record]) -> Option<(i64, i64)> {
    let cycle = parent_qid(parents, RecordKind::TestCycle)?;
    let id = r.qtest_data.as_ref()?.get("run_id")?.as_i64()?;
    Some((cycle, id))
}

impl Check for Executions {
    type Source = Source;
    type Reads = Reads;

    /// The runs of the page's cycles not read yet, then the logs of the runs its records point
    /// at (runs that exist in their cycle) not read yet.
    fn reads(
        &self,
        page: &Page<Source>,
    ) -> impl Future<Output = Result<Reads, ApiError>> + Send + 'static {
        let new_cycles: HashSet<i64> = page
            .done
            .iter()
            .filter_map(|(_, parents)| parent_qid(parents, RecordKind::TestCycle))
            .filter(|c| !self.cycles.contains(c))
            .collect();
        let mut known_runs = HashSet::new();
        let mut new_runs = HashSet::new();
        for (cycle, id) in page.done.iter().filter_map(|(r, p)| run_of(r, p)) {
            if new_cycles.contains(&cycle) {
                new_runs.insert((cycle, id));
            } else if self.runs.get(&id).is_some_and(|(c, _)| *c == cycle)
                && !self.logs.contains_key(&id)
            {
                known_runs.insert(id);
            }
        }
        let lists = self.lists.clone();
        async move {
            let runs = fetch_each(new_cycles, |c| {
                let (lists, c) = (lists.clone(), *c);
                async move {
                    lists
                        .all_test_runs_as::<wire::TestRun>(RunParent::TestCycle(c))
                        .await
                }
            })
            .await?;
            let exists: HashSet<(i64, i64)> = runs
                .iter()
                .flat_map(|(c, list)| list.iter().filter_map(|x| Some((*c, x.id?))))
                .collect();
            let wanted = known_runs
                .into_iter()
                .chain(new_runs.intersection(&exists).map(|(_, id)| *id))
                .collect::<HashSet<i64>>();
            let logs = fetch_each(wanted, |id| {
                let (lists, id) = (lists.clone(), *id);
                async move { lists.all_test_logs_as::<wire::TestLog>(id).await }
            })
            .await?;
            Ok(Reads { runs, logs })
        }
    }

    fn merge(&mut self, reads: Reads) {
        for (cycle, list) in reads.runs {
            self.cycles.insert(cycle);
            for run in list {
                if let Some(id) = run.id {
                    self.runs.insert(id, (cycle, run));
                }
            }
        }
        self.logs.extend(reads.logs);
    }

    fn compare(&mut self, cx: &mut Ctx<'_>, page: Page<Source>) {
        let Page { done, source } = page;
        let Source {
            mut executions,
            mut steps,
        } = source;
        for (r, parents) in done {
            let Some(exec) = executions.remove(&r.source_id) else {
                continue;
            };
            let steps = steps.remove(&r.source_id).unwrap_or_default();
            self.compare_one(cx, (r, parents), &exec, &steps);
        }
    }
}

impl Executions {
    fn compare_one(
        &mut self,
        cx: &mut Ctx<'_>,
        (r, parents): Done,
        exec: &TestExecution,
        steps: &[ExecutionStep],
    ) {
        let settings = &self.settings;
        let (Some(cycle), Some(case)) = (
            parent_qid(&parents, RecordKind::TestCycle),
            parents.iter().find(|p| p.kind == RecordKind::TestCase),
        ) else {
            return;
        };
        let data = r.qtest_data.as_ref();
        let log_id = data.and_then(|d| d.get("log_id")).and_then(|v| v.as_i64());
        let run = data
            .and_then(|d| d.get("run_id"))
            .and_then(|v| v.as_i64())
            .and_then(|id| self.runs.get(&id))
            .filter(|(c, _)| *c == cycle)
            .map(|(_, run)| run);
        let Some(run) = run else {
            cx.mismatch(&r, "missing", "a test run", "none");
            return;
        };
        let mut ok = cx.compare(
            &r,
            "test_run.test_case",
            case.qtest_id,
            Some(run.test_case.id),
        );
        let case_data = case.qtest_data.as_ref();
        let step_ids: Vec<Option<i64>> = case_data
            .and_then(|d| d.get("step_ids"))
            .and_then(|v| Vec::<Option<i64>>::deserialize(v).ok())
            .unwrap_or_default();
        let expected = ztoq_transform::test_log(
            exec,
            steps,
            ztoq_transform::LogContext {
                status_map: &settings.status_map,
                unexecuted_status_id: settings.unexecuted_status_id,
                step_ids: &step_ids,
                test_case_version_id: case_data
                    .and_then(|d| d.get("version_id"))
                    .and_then(|v| v.as_i64()),
                zephyr_key_field_id: settings.test_run_key_field_id,
            },
        );
        let Ok(expected) = expected else { return };
        let rid = run.id.unwrap_or_default();
        match expected {
            None => {
                // Never ran: the run alone says so.
                ok &= cx.compare(&r, "test_log", None, log_id);
                cx.kind(RecordKind::Execution).in_qtest += 1;
            }
            Some(e) => {
                let marker = ztoq_transform::execution_marker(exec);
                self.source
                    .entry((rid, marker))
                    .or_insert_with(|| (0, Who::of(&r)))
                    .0 += 1;
                let actual =
                    log_id.and_then(|id| self.logs.get(&rid)?.iter().find(|l| l.id == Some(id)));
                let Some(a) = actual else {
                    cx.mismatch(&r, "missing", "a test log", "none");
                    return;
                };
                let key = settings.test_run_key_field_id;
                let expected_marker = e
                    .properties
                    .iter()
                    .flatten()
                    .find(|p| p.field_id == key)
                    .and_then(|p| p.field_value.as_deref());
                let actual_marker = prop(a.properties.as_deref().unwrap_or_default(), key);
                let expected_steps = e.test_step_logs.iter().flatten().map(|s| {
                    (
                        s.test_step_id,
                        s.status.as_ref().map(|x| x.id),
                        s.actual_result.as_deref(),
                    )
                });
                let actual_steps = a.test_step_logs.iter().flatten().map(|s| {
                    (
                        s.test_step_id,
                        s.status.as_ref().map(|x| x.id),
                        s.actual_result.as_deref(),
                    )
                });
                ok &= cx.compare(&r, "status", e.status.id, a.status.id)
                    & cx.compare(&r, "exe_start_date", &e.exe_start_date, &a.exe_start_date)
                    & cx.compare(&r, "exe_end_date", &e.exe_end_date, &a.exe_end_date)
                    & cx.compare(
                        &r,
                        "note",
                        e.note.as_deref().unwrap_or(""),
                        a.note.as_deref().unwrap_or(""),
                    )
                    & cx.compare(&r, "Zephyr Key", expected_marker, actual_marker)
                    & cx.compare_seq(&r, "test_step_logs", expected_steps, actual_steps);
            }
        }
        if ok {
            cx.kind(RecordKind::Execution).verified += 1;
        }
    }
}
