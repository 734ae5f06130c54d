//! Wire types of the Zephyr Scale Cloud REST API v2 (read side), after SmartBear's OpenAPI
//! (`shared/specs/zephyr-scale-v2.openapi.yml`) and the facts in `shared/zephyr-api.md`.
//!
//! Both ztoq's client (deserialising) and its mock (serialising) use these types; the
//! conformance test checks what the mock serialises against the vendor's schemas, so the
//! shapes cannot drift into a private fiction. Every optional field is `Option` and is
//! serialised as an explicit `null`, as the real service does.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An offset-paged list: `{next, startAt, maxResults, total, isLast, values}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// URL of the next page, `null` on the last.
    #[serde(default)]
    pub next: Option<String>,
    /// Index of the first item of this page.
    pub start_at: i64,
    /// The page size the server actually used (it may clamp what was asked).
    pub max_results: i64,
    /// Total number of items (a hint only).
    #[serde(default)]
    pub total: Option<i64>,
    /// Whether this is the last page.
    #[serde(default)]
    pub is_last: Option<bool>,
    /// The items.
    #[serde(default = "Vec::new")]
    pub values: Vec<T>,
}

/// A cursor-paged ("NextGen") list: `{next, nextStartAtId, limit, values}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CursorPage<T> {
    /// URL of the next page, `null` at the end.
    #[serde(default)]
    pub next: Option<String>,
    /// Pass back as `startAtId`; `null` when there is nothing more.
    #[serde(default)]
    pub next_start_at_id: Option<i64>,
    /// The page size the server used.
    pub limit: i64,
    /// The items.
    #[serde(default = "Vec::new")]
    pub values: Vec<T>,
}

/// A reference to another entity: `{id, self}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ref {
    /// The referenced entity's id.
    pub id: i64,
    /// Absolute URL of the entity.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_url: Option<String>,
}

/// A Jira user reference: `{self, accountId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRef {
    /// Jira REST URL of the user.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_url: Option<String>,
    /// Atlassian account id.
    #[serde(default)]
    pub account_id: Option<String>,
}

/// A Zephyr project (`GET /projects/{key}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    /// Zephyr project id.
    pub id: i64,
    /// Jira project id.
    pub jira_project_id: i64,
    /// Project key, e.g. `ACME`.
    pub key: String,
    /// Whether Zephyr is enabled for the project.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A folder in one of the three trees (`TEST_CASE`, `TEST_PLAN`, `TEST_CYCLE`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Folder {
    /// Folder id.
    pub id: i64,
    /// Parent folder id; `null` for a root folder.
    #[serde(default)]
    pub parent_id: Option<i64>,
    /// Folder name.
    pub name: String,
    /// Position among siblings.
    #[serde(default)]
    pub index: i64,
    /// `TEST_CASE`, `TEST_PLAN` or `TEST_CYCLE`.
    pub folder_type: String,
    /// Owning project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<Ref>,
}

/// A status, priority or environment (`OptionValue` plus the extras each adds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OptionValue {
    /// Id.
    pub id: i64,
    /// Owning project.
    pub project: Ref,
    /// Display name.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Display order.
    #[serde(default)]
    pub index: i64,
    /// Hex colour (statuses, priorities).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// Archived (statuses, environments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived: Option<bool>,
    /// Default value (statuses, priorities).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
}

/// Links embedded in a test case, cycle or execution.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Links {
    /// URL of the links resource.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_url: Option<String>,
    /// Jira issue links.
    #[serde(default)]
    pub issues: Vec<Value>,
    /// Web links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_links: Option<Vec<Value>>,
}

/// A test case (`GET /testcases`, `/testcases/nextgen`, `/testcases/{key}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestCase {
    /// Id of the current version.
    pub id: i64,
    /// Key, e.g. `ACME-T12`.
    pub key: String,
    /// Name.
    pub name: String,
    /// Owning project.
    pub project: Ref,
    /// Creation time (ISO-8601).
    #[serde(default)]
    pub created_on: Option<String>,
    /// Objective (HTML).
    #[serde(default)]
    pub objective: Option<String>,
    /// Precondition (HTML).
    #[serde(default)]
    pub precondition: Option<String>,
    /// Estimated time in milliseconds.
    #[serde(default)]
    pub estimated_time: Option<i64>,
    /// Labels.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Jira component.
    #[serde(default)]
    pub component: Option<Ref>,
    /// Priority.
    pub priority: Ref,
    /// Test-case status.
    pub status: Ref,
    /// Folder; `null` in the root.
    #[serde(default)]
    pub folder: Option<Ref>,
    /// Owner.
    #[serde(default)]
    pub owner: Option<UserRef>,
    /// Link to the steps or script resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_script: Option<Value>,
    /// Custom fields, keyed by display name; values are any JSON.
    #[serde(default)]
    pub custom_fields: serde_json::Map<String, Value>,
    /// Issue and web links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Links>,
}

/// One step of a test case (`GET /testcases/{key}/teststeps`): inline or call-to-test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestStep {
    /// Step id (undocumented until 2026 but present in real payloads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// An inline step.
    #[serde(default)]
    pub inline: Option<InlineStep>,
    /// A call to another test case.
    #[serde(default)]
    pub test_case: Option<CallToTest>,
}

/// The content of an inline step (HTML fields).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InlineStep {
    /// What to do.
    #[serde(default)]
    pub description: Option<String>,
    /// Test data.
    #[serde(default)]
    pub test_data: Option<String>,
    /// What should happen.
    #[serde(default)]
    pub expected_result: Option<String>,
    /// Step-level custom fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<serde_json::Map<String, Value>>,
    /// AI reference (ignored).
    #[serde(default)]
    pub reflect_ref: Option<String>,
}

/// A call-to-test step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallToTest {
    /// Key of the called test case.
    pub test_case_key: String,
    /// URL of the called case.
    #[serde(rename = "self", default, skip_serializing_if = "Option::is_none")]
    pub self_url: Option<String>,
    /// Parameter values passed to the called case.
    #[serde(default)]
    pub parameters: Option<Vec<Value>>,
}

/// A test cycle (`GET /testcycles`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestCycle {
    /// Id.
    pub id: i64,
    /// Key, e.g. `ACME-R4`.
    pub key: String,
    /// Name.
    pub name: String,
    /// Owning project.
    pub project: Ref,
    /// Jira version ("release").
    #[serde(default)]
    pub jira_project_version: Option<Ref>,
    /// Cycle status.
    pub status: Ref,
    /// Folder in the `TEST_CYCLE` tree; `null` in the root.
    #[serde(default)]
    pub folder: Option<Ref>,
    /// Description (HTML).
    #[serde(default)]
    pub description: Option<String>,
    /// Planned start (ISO-8601).
    #[serde(default)]
    pub planned_start_date: Option<String>,
    /// Planned end (ISO-8601).
    #[serde(default)]
    pub planned_end_date: Option<String>,
    /// Owner.
    #[serde(default)]
    pub owner: Option<UserRef>,
    /// Custom fields.
    #[serde(default)]
    pub custom_fields: serde_json::Map<String, Value>,
    /// Links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Value>,
}

/// A test execution (`GET /testexecutions`, `/testexecutions/nextgen`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestExecution {
    /// Id.
    pub id: i64,
    /// Key, e.g. `ACME-E311` (optional in the API).
    #[serde(default)]
    pub key: Option<String>,
    /// Owning project.
    pub project: Ref,
    /// The executed test-case version: `self` ends in `/testcases/{KEY}/versions/{N}`.
    pub test_case: Ref,
    /// The cycle; `null` for an ad-hoc execution.
    #[serde(default)]
    pub test_cycle: Option<Ref>,
    /// Execution status.
    pub test_execution_status: Ref,
    /// Environment.
    #[serde(default)]
    pub environment: Option<Ref>,
    /// Jira version.
    #[serde(default)]
    pub jira_project_version: Option<Ref>,
    /// When it ended (ISO-8601).
    #[serde(default)]
    pub actual_end_date: Option<String>,
    /// Estimated time, ms.
    #[serde(default)]
    pub estimated_time: Option<i64>,
    /// Execution time, ms.
    #[serde(default)]
    pub execution_time: Option<i64>,
    /// Who executed it (accountId).
    #[serde(default)]
    pub executed_by_id: Option<String>,
    /// Who it was assigned to (accountId).
    #[serde(default)]
    pub assigned_to_id: Option<String>,
    /// Comment (HTML).
    #[serde(default)]
    pub comment: Option<String>,
    /// Whether it was automated.
    #[serde(default)]
    pub automated: Option<bool>,
    /// Custom fields.
    #[serde(default)]
    pub custom_fields: serde_json::Map<String, Value>,
    /// Links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Value>,
}

impl TestExecution {
    /// The executed test case's key and version number, parsed from `testCase.self`
    /// (`…/testcases/{KEY}/versions/{N}`), the only place the API gives them.
    pub fn test_case_key_and_version(&self) -> Option<(String, i64)> {
        parse_test_case_version_url(self.test_case.self_url.as_deref()?)
    }
}

/// Parses `…/testcases/{KEY}/versions/{N}` into the key and the version number.
pub fn parse_test_case_version_url(url: &str) -> Option<(String, i64)> {
    let mut parts = url.trim_end_matches('/').rsplit('/');
    let version = parts.next()?.parse().ok()?;
    if parts.next()? != "versions" {
        return None;
    }
    let key = parts.next()?;
    if parts.next()? != "testcases" || key.is_empty() {
        return None;
    }
    Some((key.to_string(), version))
}

/// One step result of an execution (`GET /testexecutions/{id}/teststeps`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionStep {
    /// Step result id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The step as executed, with its result.
    #[serde(default)]
    pub inline: Option<ExecutionStepInline>,
}

/// The content of an execution step.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionStepInline {
    /// What was done.
    #[serde(default)]
    pub description: Option<String>,
    /// Test data.
    #[serde(default)]
    pub test_data: Option<String>,
    /// What should have happened.
    #[serde(default)]
    pub expected_result: Option<String>,
    /// What happened.
    #[serde(default)]
    pub actual_result: Option<String>,
    /// Test-data row.
    #[serde(default)]
    pub test_data_row_number: Option<i64>,
    /// AI reference (ignored).
    #[serde(default)]
    pub reflect_ref: Option<String>,
    /// The step's status.
    #[serde(default)]
    pub status: Option<Ref>,
}

/// An attachment list: `{attachments: [{id, name}]}` (404 means none).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AttachmentList {
    /// The attachments.
    #[serde(default)]
    pub attachments: Vec<AttachmentRef>,
}

/// One entry of an attachment list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachmentRef {
    /// Attachment id.
    pub id: i64,
    /// File name.
    #[serde(default)]
    pub name: Option<String>,
}

/// The error body: `{errorCode, message}` (some 401s send `{error}` instead).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// HTTP status repeated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i64>,
    /// Human-readable reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The other 401 style.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_version_url() {
        assert_eq!(
            parse_test_case_version_url(
                "https://api.zephyrscale.smartbear.com/v2/testcases/ACME-T12/versions/3"
            ),
            Some(("ACME-T12".to_string(), 3))
        );
        assert_eq!(
            parse_test_case_version_url("https://x/v2/testcases/ACME-T12"),
            None
        );
        assert_eq!(parse_test_case_version_url("versions/3"), None);
    }

    #[test]
    fn tolerates_nulls_and_unknown_keys() {
        let step: TestStep = serde_json::from_str(
            r#"{"id":1,"inline":{"description":null,"testData":null,"expectedResult":"x",
                "reflectRef":null,"whatever":1},"testCase":null,"extra":true}"#,
        )
        .unwrap();
        assert_eq!(step.inline.unwrap().expected_result.as_deref(), Some("x"));
        let folder: Folder = serde_json::from_str(
            r#"{"id":3,"parentId":null,"name":"Root","index":0,"folderType":"TEST_CASE"}"#,
        )
        .unwrap();
        assert_eq!(folder.parent_id, None);
    }
}
