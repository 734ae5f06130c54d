//! What verification reads of qTest's list answers: the compared fields of test cases, test
//! runs and test logs, under the names and with the required-ness of `ztoq_model::qtest`
//! (`status`, `exe_start_date`, `exe_end_date`, a run's `test_case`, a property's `field_id`:
//! an answer without them still fails to decode), and nothing else. Names, colours, links,
//! version labels and the step texts a log repeats are skipped by the decoder instead of being
//! allocated: a 500k-record project has millions of them.

use serde::Deserialize;

/// `{id, …}`: a status, or the test case of a run.
#[derive(Debug, Deserialize)]
pub(super) struct IdRef {
    pub id: i64,
}

/// `{field_id, field_value, …}`.
#[derive(Debug, Deserialize)]
pub(super) struct Prop {
    pub field_id: i64,
    #[serde(default)]
    pub field_value: Option<String>,
}

/// The value of field `field_id` among `props`.
pub(super) fn prop(props: &[Prop], field_id: i64) -> Option<&str> {
    props
        .iter()
        .find(|p| p.field_id == field_id)
        .and_then(|p| p.field_value.as_deref())
}

/// A test step of a listed test case.
#[derive(Debug, Deserialize)]
pub(super) struct Step {
    pub description: String,
    pub expected: String,
}

/// A listed test case (`expandSteps=true&expandProps=true`).
#[derive(Debug, Deserialize)]
pub(super) struct TestCase {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub parent_id: Option<i64>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub precondition: Option<String>,
    #[serde(default)]
    pub properties: Vec<Prop>,
    #[serde(default)]
    pub test_steps: Option<Vec<Step>>,
}

/// A listed test run.
#[derive(Debug, Deserialize)]
pub(super) struct TestRun {
    #[serde(default)]
    pub id: Option<i64>,
    pub test_case: IdRef,
}

/// A step log of a listed test log.
#[derive(Debug, Deserialize)]
pub(super) struct StepLog {
    #[serde(default)]
    pub test_step_id: Option<i64>,
    #[serde(default)]
    pub status: Option<IdRef>,
    #[serde(default)]
    pub actual_result: Option<String>,
}

/// A listed test log.
#[derive(Debug, Deserialize)]
pub(super) struct TestLog {
    #[serde(default)]
    pub id: Option<i64>,
    pub status: IdRef,
    pub exe_start_date: String,
    pub exe_end_date: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub properties: Option<Vec<Prop>>,
    #[serde(default)]
    pub test_step_logs: Option<Vec<StepLog>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_compared_fields_and_skips_the_rest() {
        let log: TestLog = serde_json::from_value(serde_json::json!({
            "id": 9, "test_run_id": 4, "test_case_version_id": 2,
            "status": {"id": 601, "name": "Passed", "color": "#0f0", "is_default": false},
            "exe_start_date": "2024-01-01T00:00:00Z", "exe_end_date": "2024-01-01T00:01:00Z",
            "properties": [{"field_id": 7, "field_name": "Zephyr Key", "field_value": "P-E1",
                            "field_value_name": "P-E1"}],
            "test_step_logs": [{"test_step_log_id": 3, "test_step_id": 11,
                                "status": {"id": 602, "name": "Failed"},
                                "description": "do", "expected_result": "done", "order": 1}]
        }))
        .unwrap();
        assert_eq!(log.id, Some(9));
        assert_eq!(log.status.id, 601);
        assert_eq!(log.note, None);
        assert_eq!(
            prop(log.properties.as_deref().unwrap_or(&[]), 7),
            Some("P-E1")
        );
        assert_eq!(prop(log.properties.as_deref().unwrap_or(&[]), 8), None);
        let steps = log.test_step_logs.unwrap();
        assert_eq!(steps[0].test_step_id, Some(11));
        assert_eq!(steps[0].status.as_ref().map(|s| s.id), Some(602));
        assert_eq!(steps[0].actual_result, None);
    }

    #[test]
    fn a_log_without_its_required_fields_does_not_decode() {
        let no_status = serde_json::json!({
            "exe_start_date": "2024-01-01T00:00:00Z", "exe_end_date": "2024-01-01T00:01:00Z"
        });
        assert!(serde_json::from_value::<TestLog>(no_status).is_err());
        let no_case = serde_json::json!({"id": 3, "name": "run"});
        assert!(serde_json::from_value::<TestRun>(no_case).is_err());
    }
}
