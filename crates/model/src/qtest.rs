//! Wire types of the qTest Manager REST API v3, after Tricentis' Swagger
//! (`shared/specs/qtest-manager-v3.swagger.yaml`) and the facts in `shared/qtest-api.md`.
//!
//! One type serves as request and response where the Swagger does the same (it reuses
//! `TestCaseWithCustomFieldResource` for both). Absent values are omitted, never `null`:
//! Swagger 2.0 has no nullable, and the conformance test validates both directions.

use serde::{Deserialize, Serialize};

/// A `{rel, href}` link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Relation, e.g. `self`, `next`.
    pub rel: String,
    /// Absolute URL.
    pub href: String,
}

/// `OAuthResponse` from `POST /oauth/token`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuthResponse {
    /// The bearer token.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Seconds until expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
}

/// `ProjectResource` (the fields ztoq reads).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// Project id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `PropertyResource`: one field value on a test case, run or log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Property {
    /// Field id (from field settings).
    pub field_id: i64,
    /// Field label (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_name: Option<String>,
    /// The value, always as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_value: Option<String>,
    /// Display of the value (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_value_name: Option<String>,
}

impl Property {
    /// A property to send: field id and value.
    pub fn new(field_id: i64, value: impl Into<String>) -> Self {
        Property {
            field_id,
            field_name: None,
            field_value: Some(value.into()),
            field_value_name: None,
        }
    }
}

/// `AllowedValueResource`: one choice of a constrained field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllowedValue {
    /// The value id (sent as a string in properties).
    pub value: i64,
    /// Display label.
    pub label: String,
    /// Active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    /// Default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
}

/// `FieldResource`: a field setting of an object type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// Field id (absent on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Label, e.g. `Zephyr Key`.
    pub label: String,
    /// Data type code (1 text, 3 combo, 7 number, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<i64>,
    /// Required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// Constrained to allowed values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constrained: Option<bool>,
    /// Multi-valued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiple: Option<bool>,
    /// Searchable (Data Query).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub searchable: Option<bool>,
    /// A system field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_field: Option<bool>,
    /// Active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    /// Choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_values: Option<Vec<AllowedValue>>,
}

/// `ModuleResource`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Module {
    /// Id (absent on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Display id, `MD-3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Parent module id (absent for a root module).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<i64>,
    /// Order among siblings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<i64>,
    /// Child modules (with `expand=descendants`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<Module>>,
}

/// `TestStepResource`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TestStep {
    /// Id (absent on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// What to do (HTML).
    pub description: String,
    /// Expected result (HTML).
    pub expected: String,
    /// 1-based order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<i64>,
    /// A called test case (call-to-test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub called_test_case_id: Option<i64>,
}

/// `TestCaseWithCustomFieldResource`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TestCase {
    /// Id (absent on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Display id, `TC-12`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Module id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<i64>,
    /// Description (HTML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Precondition (HTML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precondition: Option<String>,
    /// Field values (required by the Swagger: send `[]` if none).
    #[serde(default)]
    pub properties: Vec<Property>,
    /// Steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_steps: Option<Vec<TestStep>>,
    /// Version id (output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_case_version_id: Option<i64>,
    /// Version, e.g. `0.1` (output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Link to the UI (output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_url: Option<String>,
}

/// `TestCycleResource`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TestCycle {
    /// Id (absent on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Display id, `CL-2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description (HTML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Target release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_release_id: Option<i64>,
    /// Nested cycles (with `expand=descendants`).
    #[serde(
        rename = "test-cycles",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub test_cycles: Option<Vec<TestCycle>>,
    /// Web URL (output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_url: Option<String>,
}

/// A `{id}` reference to a test case inside a test run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCaseRef {
    /// Test case id.
    pub id: i64,
    /// Properties (the Swagger's resource requires them; omitted on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Vec<Property>>,
}

/// `TestRunWithCustomFieldResource`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestRun {
    /// Id (absent on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Display id, `TR-5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Field values (test-run fields).
    #[serde(default)]
    pub properties: Vec<Property>,
    /// The test case it runs.
    pub test_case: TestCaseRef,
    /// The test-case version it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_case_version_id: Option<i64>,
    /// Parent id (output).
    #[serde(rename = "parentId", default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<i64>,
    /// Parent type (output).
    #[serde(
        rename = "parentType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub parent_type: Option<String>,
}

/// `StatusResource`: an execution status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// Id, e.g. 601.
    pub id: i64,
    /// Name, e.g. `Passed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Default status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
    /// Colour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// Active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

impl Status {
    /// A status reference to send: id only.
    pub fn id(id: i64) -> Self {
        Status {
            id,
            name: None,
            is_default: None,
            color: None,
            active: None,
        }
    }
}

/// `TestStepLogResource`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestStepLog {
    /// The test step it logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_step_id: Option<i64>,
    /// Id (output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_step_log_id: Option<i64>,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// Actual result (HTML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_result: Option<String>,
    /// 1-based order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<i64>,
}

/// `ManualTestLogResource` (request) and `TestLogResource` (response).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestLog {
    /// Id (absent on create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Run id (output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_run_id: Option<i64>,
    /// Status.
    pub status: Status,
    /// Start (ISO-8601 with zone).
    pub exe_start_date: String,
    /// End (ISO-8601 with zone).
    pub exe_end_date: String,
    /// Note (HTML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Test-case version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_case_version_id: Option<i64>,
    /// Field values (test-run fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Vec<Property>>,
    /// Step results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_step_logs: Option<Vec<TestStepLog>>,
}

/// `AttachmentResource`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    /// Id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// File name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// MIME type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Link to the UI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_url: Option<String>,
    /// Creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_date: Option<String>,
}

/// `{links, page, page_size, total, items}`: the paged wrapper of runs, logs and search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paged<T> {
    /// Links, with `rel: "next"` when there is more.
    #[serde(default)]
    pub links: Vec<Link>,
    /// 1-based page number.
    pub page: i64,
    /// Page size.
    pub page_size: i64,
    /// Total number of items.
    #[serde(default)]
    pub total: i64,
    /// The items.
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
}

/// `ArtifactSearchParams` for `POST …/search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchParams {
    /// `test-cases`, `test-runs`, `test-cycles`, …
    pub object_type: String,
    /// Fields to return (`["*"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    /// Data Query text, e.g. `'Zephyr Key' = 'ACME-T1'`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// The error body: `{message}` (sometimes more).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
