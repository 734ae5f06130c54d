//! Executions: the test run of a (cycle, test case) pair, and one test log per execution with
//! its step results, so that the execution history survives as the run's log history.

use crate::{TransformError, clean, name_text, rich_text, text_note};
use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::HashMap;
use ztoq_model::{qtest, zephyr};

/// The test run for a test case in a cycle (created by the pair's first execution).
pub fn test_run(
    case_name: &str,
    test_case_id: i64,
    test_case_version_id: Option<i64>,
) -> qtest::TestRun {
    qtest::TestRun {
        id: None,
        pid: None,
        name: Some(name_text(case_name)),
        properties: Vec::new(),
        test_case: qtest::TestCaseRef {
            id: test_case_id,
            properties: Some(Vec::new()),
        },
        test_case_version_id,
        parent_id: None,
        parent_type: None,
    }
}

/// What a test log needs from the target besides its source.
#[derive(Debug, Clone, Copy)]
pub struct LogContext<'a> {
    /// Zephyr execution-status id → qTest execution-status id.
    pub status_map: &'a HashMap<i64, i64>,
    /// The qTest status for a step with no status.
    pub unexecuted_status_id: i64,
    /// For each source step of the test case (by index), the qTest step id, `None` for a step
    /// that was dropped.
    pub step_ids: &'a [Option<i64>],
    /// The qTest test-case version the run uses.
    pub test_case_version_id: Option<i64>,
    /// The "Zephyr Key" test-run field (logs carry test-run fields): the marker.
    pub zephyr_key_field_id: i64,
}

/// The marker value of an execution: its key, or `#id` when the API gave no key.
pub fn execution_marker(execution: &zephyr::TestExecution) -> String {
    execution
        .key
        .as_deref()
        .map(clean)
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| format!("#{}", execution.id))
}

/// What [`test_log`] will cut from an execution's own fields.
pub fn execution_notes(execution: &zephyr::TestExecution) -> Vec<String> {
    text_note("comment", execution.comment.as_deref())
        .into_iter()
        .collect()
}

fn parse_date(value: &str) -> Result<DateTime<Utc>, TransformError> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| TransformError::Invalid {
            what: "actualEndDate",
            value: value.to_string(),
            reason: e.to_string(),
        })
}

/// Start and end of an execution as qTest wants them (RFC 3339, UTC): the end is
/// `actualEndDate`, the start is the end less `executionTime` (the API has no start date).
/// `None` when the execution never ran (no `actualEndDate`).
pub fn exe_dates(
    execution: &zephyr::TestExecution,
) -> Result<Option<(String, String)>, TransformError> {
    let Some(end) = execution
        .actual_end_date
        .as_deref()
        .filter(|d| !d.trim().is_empty())
    else {
        return Ok(None);
    };
    let end = parse_date(end)?;
    let took = chrono::Duration::milliseconds(execution.execution_time.unwrap_or(0).max(0));
    let start = end - took;
    Ok(Some((
        start.to_rfc3339_opts(SecondsFormat::Secs, true),
        end.to_rfc3339_opts(SecondsFormat::Secs, true),
    )))
}

/// One execution as a test log; `None` for an execution that never ran (the run alone says
/// "not executed").
pub fn test_log(
    execution: &zephyr::TestExecution,
    steps: &[zephyr::ExecutionStep],
    ctx: LogContext<'_>,
) -> Result<Option<qtest::TestLog>, TransformError> {
    let Some((start, end)) = exe_dates(execution)? else {
        return Ok(None);
    };
    let status_id = execution.test_execution_status.id;
    let status = *ctx
        .status_map
        .get(&status_id)
        .ok_or(TransformError::Unmapped {
            what: "execution status",
            value: status_id.to_string(),
        })?;
    let mut step_logs = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let Some(Some(test_step_id)) = ctx.step_ids.get(i) else {
            continue; // a step the case no longer has, or one dropped as empty
        };
        let inline = step.inline.clone().unwrap_or_default();
        let step_status = match inline.status.as_ref().map(|s| s.id) {
            Some(id) => *ctx.status_map.get(&id).ok_or(TransformError::Unmapped {
                what: "step status",
                value: id.to_string(),
            })?,
            None => ctx.unexecuted_status_id,
        };
        step_logs.push(qtest::TestStepLog {
            test_step_id: Some(*test_step_id),
            test_step_log_id: None,
            status: Some(qtest::Status::id(step_status)),
            actual_result: rich_text(inline.actual_result.as_deref()),
            order: Some(step_logs.len() as i64 + 1),
        });
    }
    Ok(Some(qtest::TestLog {
        id: None,
        test_run_id: None,
        status: qtest::Status::id(status),
        exe_start_date: start,
        exe_end_date: end,
        note: rich_text(execution.comment.as_deref()),
        test_case_version_id: ctx.test_case_version_id,
        properties: Some(vec![qtest::Property::new(
            ctx.zephyr_key_field_id,
            execution_marker(execution),
        )]),
        test_step_logs: Some(step_logs),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn execution(end: Option<&str>, status: i64) -> zephyr::TestExecution {
        serde_json::from_value(serde_json::json!({
            "id": 90, "key": "P-E1", "project": {"id": 1},
            "testCase": {"id": 7, "self": "http://x/v2/testcases/P-T1/versions/1"},
            "testExecutionStatus": {"id": status},
            "actualEndDate": end, "executionTime": 90000, "comment": "<p>ok</p>"
        }))
        .unwrap()
    }

    fn step(status: Option<i64>, actual: Option<&str>) -> zephyr::ExecutionStep {
        serde_json::from_value(serde_json::json!({
            "inline": {"actualResult": actual, "status": status.map(|s| serde_json::json!({"id": s}))}
        }))
        .unwrap()
    }

    #[test]
    fn maps_an_execution_to_a_log() {
        let map = HashMap::from([(1, 601), (2, 602)]);
        let ids = [Some(11), None, Some(13)];
        let ctx = LogContext {
            status_map: &map,
            unexecuted_status_id: 605,
            step_ids: &ids,
            test_case_version_id: Some(4),
            zephyr_key_field_id: 77,
        };
        let steps = [
            step(Some(1), Some("fine")),
            step(Some(2), None),
            step(None, None),
        ];
        let log = test_log(&execution(Some("2024-05-08T10:42:00Z"), 2), &steps, ctx)
            .unwrap()
            .unwrap();
        assert_eq!(log.status.id, 602);
        assert_eq!(log.exe_start_date, "2024-05-08T10:40:30Z");
        assert_eq!(log.exe_end_date, "2024-05-08T10:42:00Z");
        assert_eq!(log.note.as_deref(), Some("<p>ok</p>"));
        assert_eq!(log.properties, Some(vec![qtest::Property::new(77, "P-E1")]));
        let sl = log.test_step_logs.unwrap();
        assert_eq!(sl.len(), 2, "the dropped step's result is skipped");
        assert_eq!(sl[0].test_step_id, Some(11));
        assert_eq!(sl[0].status.as_ref().map(|s| s.id), Some(601));
        assert_eq!(sl[0].actual_result.as_deref(), Some("fine"));
        assert_eq!(sl[1].test_step_id, Some(13));
        assert_eq!(sl[1].status.as_ref().map(|s| s.id), Some(605));
        assert_eq!(sl[1].order, Some(2));
    }

    #[test]
    fn not_executed_has_no_log_and_bad_input_is_named() {
        let map = HashMap::from([(1, 601)]);
        let ctx = LogContext {
            status_map: &map,
            unexecuted_status_id: 605,
            step_ids: &[],
            test_case_version_id: None,
            zephyr_key_field_id: 1,
        };
        assert_eq!(test_log(&execution(None, 1), &[], ctx).unwrap(), None);
        assert!(matches!(
            test_log(&execution(Some("yesterday"), 1), &[], ctx),
            Err(TransformError::Invalid {
                what: "actualEndDate",
                ..
            })
        ));
        assert_eq!(
            test_log(&execution(Some("2024-05-08T10:42:00+02:00"), 9), &[], ctx),
            Err(TransformError::Unmapped {
                what: "execution status",
                value: "9".into()
            })
        );
    }

    #[test]
    fn offsets_are_normalised_to_utc() {
        let (s, e) = exe_dates(&execution(Some("2024-05-08T12:42:00+02:00"), 1))
            .unwrap()
            .unwrap();
        assert_eq!(e, "2024-05-08T10:42:00Z");
        assert_eq!(s, "2024-05-08T10:40:30Z");
    }
}
