//! Preflight: both APIs answer and accept the credentials, and every source value the run
//! needs has a target: the "Zephyr Key" marker fields exist (created if missing) and every
//! Zephyr execution status maps to a qTest one.

use crate::error::EnqueueError;
use crate::retry::{CRAWL_RETRY, backoff, retrying};
use std::collections::HashMap;
use ztoq_http::RetryPolicy;
use ztoq_model::qtest::{Field, Status};
use ztoq_model::settings::{RunSettings, ZEPHYR_KEY_FIELD};
use ztoq_model::zephyr::OptionValue;
use ztoq_qtest::QtestClient;
use ztoq_zephyr::ZephyrClient;

/// The id of the "Zephyr Key" field of `object_type`, created when missing. A create that
/// fails transiently may still have been applied, so each retry lists the fields again and
/// adopts the field if it is there now: one field, however the requests went.
async fn key_field(
    qtest: &QtestClient,
    object_type: &str,
    retry: &RetryPolicy,
) -> Result<i64, EnqueueError> {
    let mut failures = 0;
    loop {
        let fields = retrying(retry, "list_fields", || qtest.fields(object_type))
            .await
            .map_err(EnqueueError::qtest)?;
        if let Some(id) = fields
            .iter()
            .find(|f| f.label == ZEPHYR_KEY_FIELD)
            .and_then(|f| f.id)
        {
            return Ok(id);
        }
        let field = Field {
            id: None,
            label: ZEPHYR_KEY_FIELD.into(),
            data_type: Some(1),
            required: Some(false),
            constrained: Some(false),
            multiple: Some(false),
            searchable: Some(true),
            system_field: None,
            is_active: Some(true),
            allowed_values: None,
        };
        match qtest.create_field(object_type, &field).await {
            Ok(created) => {
                return created.id.ok_or_else(|| {
                    EnqueueError::Preflight(format!(
                        "qTest created the {object_type} field {ZEPHYR_KEY_FIELD:?} without an id"
                    ))
                });
            }
            Err(e) => {
                failures = backoff(retry, "create_field", failures, e)
                    .await
                    .map_err(EnqueueError::qtest)?;
            }
        }
    }
}

fn normalise(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Maps Zephyr execution statuses to qTest ones by name: the same name first, then the usual
/// equivalents (Pass → Passed, Fail → Failed, Not Executed → Unexecuted, In Progress →
/// Incomplete). Returns the map, or the names that have no match.
pub fn map_statuses(
    zephyr: &[OptionValue],
    qtest: &[Status],
) -> Result<HashMap<i64, i64>, Vec<String>> {
    let by_name: HashMap<String, i64> = qtest
        .iter()
        .filter(|s| s.active != Some(false))
        .filter_map(|s| s.name.as_deref().map(|n| (normalise(n), s.id)))
        .collect();
    let synonyms: &[(&str, &str)] = &[
        ("pass", "passed"),
        ("fail", "failed"),
        ("not executed", "unexecuted"),
        ("in progress", "incomplete"),
        ("blocked", "blocked"),
    ];
    let mut map = HashMap::new();
    let mut missing = Vec::new();
    for status in zephyr {
        let name = normalise(&status.name);
        let target = by_name.get(&name).or_else(|| {
            synonyms
                .iter()
                .find(|(z, _)| *z == name)
                .and_then(|(_, q)| by_name.get(*q))
        });
        match target {
            Some(id) => {
                map.insert(status.id, *id);
            }
            None => missing.push(status.name.clone()),
        }
    }
    if missing.is_empty() {
        Ok(map)
    } else {
        Err(missing)
    }
}

/// Checks both APIs and resolves the run's settings against the target (reads retried per
/// [`CRAWL_RETRY`]).
pub async fn resolve_settings(
    zephyr: &ZephyrClient,
    qtest: &QtestClient,
    project_key: &str,
) -> Result<(ztoq_model::zephyr::Project, RunSettings, Vec<OptionValue>), EnqueueError> {
    resolve_settings_with(zephyr, qtest, project_key, &CRAWL_RETRY).await
}

/// [`resolve_settings`], retrying every read per `retry` (the field creation is not retried:
/// it is not idempotent).
pub async fn resolve_settings_with(
    zephyr: &ZephyrClient,
    qtest: &QtestClient,
    project_key: &str,
    retry: &RetryPolicy,
) -> Result<(ztoq_model::zephyr::Project, RunSettings, Vec<OptionValue>), EnqueueError> {
    let project = retrying(retry, "get_project", || zephyr.project(project_key))
        .await
        .map_err(EnqueueError::zephyr)?;
    retrying(retry, "get_project", || qtest.project())
        .await
        .map_err(EnqueueError::qtest)?;
    let zephyr_statuses = retrying(retry, "list_statuses", || {
        zephyr.statuses(project_key, "TEST_EXECUTION")
    })
    .await
    .map_err(EnqueueError::zephyr)?;
    let qtest_statuses = retrying(retry, "execution_statuses", || qtest.execution_statuses())
        .await
        .map_err(EnqueueError::qtest)?;
    let status_map = map_statuses(&zephyr_statuses, &qtest_statuses).map_err(|missing| {
        EnqueueError::Preflight(format!(
            "these Zephyr execution statuses have no qTest execution status of the same name: {}",
            missing.join(", ")
        ))
    })?;
    let unexecuted_status_id = qtest_statuses
        .iter()
        .find(|s| s.name.as_deref().map(normalise).as_deref() == Some("unexecuted"))
        .or_else(|| qtest_statuses.iter().find(|s| s.is_default == Some(true)))
        .map(|s| s.id)
        .ok_or_else(|| {
            EnqueueError::Preflight(
                "qTest has no 'Unexecuted' (or default) execution status".into(),
            )
        })?;
    let settings = RunSettings {
        test_case_key_field_id: key_field(qtest, "test-cases", retry).await?,
        test_run_key_field_id: key_field(qtest, "test-runs", retry).await?,
        status_map,
        unexecuted_status_id,
    };
    Ok((project, settings, zephyr_statuses))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn z(id: i64, name: &str) -> OptionValue {
        serde_json::from_value(
            serde_json::json!({"id": id, "project": {"id": 1}, "name": name, "index": 0}),
        )
        .unwrap()
    }

    fn q(id: i64, name: &str) -> Status {
        Status {
            id,
            name: Some(name.into()),
            is_default: None,
            color: None,
            active: Some(true),
        }
    }

    #[test]
    fn maps_by_name_and_synonym() {
        let qs = [
            q(601, "Passed"),
            q(602, "Failed"),
            q(603, "Incomplete"),
            q(604, "Blocked"),
            q(605, "Unexecuted"),
        ];
        let map = map_statuses(
            &[
                z(1, "Pass"),
                z(2, "fail"),
                z(3, "Not Executed"),
                z(4, "In Progress"),
                z(5, "Blocked"),
            ],
            &qs,
        )
        .unwrap();
        assert_eq!(
            map,
            HashMap::from([(1, 601), (2, 602), (3, 605), (4, 603), (5, 604)])
        );
        assert_eq!(
            map_statuses(&[z(9, "Flaky")], &qs),
            Err(vec!["Flaky".to_string()])
        );
    }
}
