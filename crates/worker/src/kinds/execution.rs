//! Executions: the test run of the (cycle, test case) pair — created by the pair's first
//! execution, reused by the later ones, which wait for it — and one test log per execution.

use super::{Details, Job, Outcome, created_id};
use crate::batch::Source;
use crate::failure::{Failure, source};
use serde_json::json;
use ztoq_model::RecordKind;
use ztoq_qtest::RunParent;
use ztoq_store::snapshot;
use ztoq_transform::{LogContext, execution_marker};

/// An execution → a test log on its pair's test run.
pub async fn migrate(job: &Job<'_>) -> Result<Outcome, Failure> {
    let Source::Execution(execution) = job.source else {
        return Err(job.missing("the execution"));
    };
    let case_record = job.parent(RecordKind::TestCase).ok_or_else(|| {
        source(format!(
            "execution {}: its test case is not in the source",
            job.record.source_key
        ))
    })?;
    let case_id = job.parent_qtest_id(RecordKind::TestCase)?;
    let case_data = case_record.qtest_data.clone().unwrap_or_default();
    let version_id = case_data.get("version_id").and_then(|v| v.as_i64());
    let step_ids: Vec<Option<i64>> = case_data
        .get("step_ids")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let cycle_id = job.parent_qtest_id(RecordKind::TestCycle)?;

    let exec_key = execution.id.to_string();
    // Both reads at once: one round trip of latency per record instead of two.
    let zephyr = &job.run.zephyr;
    let (steps, attachments) = tokio::try_join!(
        zephyr.execution_steps(&exec_key),
        zephyr.execution_attachments(&exec_key)
    )
    .map_err(|e| job.named(e))?;
    let settings = &job.run.settings;
    let log = ztoq_transform::test_log(
        execution,
        &steps,
        LogContext {
            status_map: &settings.status_map,
            unexecuted_status_id: settings.unexecuted_status_id,
            step_ids: &step_ids,
            test_case_version_id: version_id,
            zephyr_key_field_id: settings.test_run_key_field_id,
        },
    )?;

    // The run: the previous execution of the pair made it; else find or create it.
    let previous_run = job
        .parent(RecordKind::Execution)
        .and_then(|p| p.qtest_data.as_ref())
        .and_then(|d| d.get("run_id"))
        .and_then(|v| v.as_i64());
    let mut adopted = false;
    let run_id = match previous_run {
        Some(id) => id,
        None => {
            let mut found = None;
            if job.maybe_applied {
                let runs = job
                    .run
                    .qtest
                    .all_test_runs(RunParent::TestCycle(cycle_id))
                    .await?;
                found = runs
                    .iter()
                    .find(|r| r.test_case.id == case_id)
                    .and_then(|r| r.id);
            }
            match found {
                Some(id) => {
                    adopted = true;
                    id
                }
                None => {
                    // Only the pair's first execution creates the run, named after its test
                    // case (whose record carries the name; read from the snapshot for a case
                    // migrated by an older version).
                    let name = match case_data.get("name").and_then(|v| v.as_str()) {
                        Some(name) => name.to_string(),
                        None => {
                            let mut conn = job.ctx.pool.acquire().await?;
                            snapshot::test_case(&mut conn, job.run.run_id, case_record.source_id)
                                .await?
                                .ok_or_else(|| job.missing("its test case"))?
                                .name
                        }
                    };
                    let body = ztoq_transform::test_run(&name, case_id, version_id);
                    let run = job
                        .run
                        .qtest
                        .create_test_run(RunParent::TestCycle(cycle_id), &body)
                        .await?;
                    created_id(run.id, "test run")?
                }
            }
        }
    };

    let mut log_id = None;
    if let Some(log) = log {
        if job.maybe_applied {
            let marker = execution_marker(execution);
            let logs = job.run.qtest.all_test_logs(run_id).await?;
            log_id = logs
                .iter()
                .find(|l| {
                    l.properties.iter().flatten().any(|p| {
                        p.field_id == settings.test_run_key_field_id
                            && p.field_value.as_deref() == Some(marker.as_str())
                    })
                })
                .and_then(|l| l.id);
            adopted |= log_id.is_some();
        }
        if log_id.is_none() {
            let created = job.run.qtest.create_test_log(run_id, &log).await?;
            log_id = Some(created_id(created.id, "test log")?);
        }
    }
    Ok(Outcome {
        qtest_id: log_id.unwrap_or(run_id),
        qtest_data: Some(json!({ "run_id": run_id, "log_id": log_id })),
        details: Details::Execution { steps, attachments },
        adopted,
    })
}
