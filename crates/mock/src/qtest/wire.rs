//! The mock's own JSON shapes: lenient request bodies (every field optional, so that a missing
//! required field becomes a 400 with a message rather than a parse failure) and the response
//! resources, after the Swagger's `*Resource` definitions.
//!
//! These are deliberately separate from `ztoq_model::qtest`: the mock is an independent reading
//! of the spec, so a client bug in the shared wire types cannot hide behind the same bug here.
//!
//! The resources of test cases, runs and logs borrow their text from the store (`'a`) instead
//! of copying it: a handler serialises them while it holds the store's lock. List answers of
//! a large project are the mock's main cost, and most of it was copying text.

use super::fields::StatusDef;
use serde::{Deserialize, Deserializer, Serialize};
use std::borrow::Cow;

/// `{field_id, field_value}` of a request. `field_value` may arrive as a string or a number.
#[derive(Debug, Deserialize)]
pub struct PropertyIn {
    /// Field id.
    pub field_id: Option<i64>,
    /// Value.
    #[serde(default, deserialize_with = "string_or_number")]
    pub field_value: Option<String>,
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
    })
}

/// An inline attachment `{name, content_type, data /*base64*/}`.
#[derive(Debug, Deserialize)]
pub struct InlineAttachmentIn {
    /// File name.
    pub name: Option<String>,
    /// MIME type.
    pub content_type: Option<String>,
    /// Base64 content.
    pub data: Option<String>,
}

/// Module create body.
#[derive(Debug, Deserialize)]
pub struct ModuleIn {
    /// Name (required).
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Parent (pre-v6 clients put it in the body).
    pub parent_id: Option<i64>,
}

/// Test step in a test case create body.
#[derive(Debug, Deserialize)]
pub struct StepIn {
    /// What to do (required).
    pub description: Option<String>,
    /// Expected result (required).
    pub expected: Option<String>,
    /// A called test case.
    pub called_test_case_id: Option<i64>,
}

/// Test case create body.
#[derive(Debug, Deserialize)]
pub struct CaseIn {
    /// Name (required).
    pub name: Option<String>,
    /// Module id.
    pub parent_id: Option<i64>,
    /// Description.
    pub description: Option<String>,
    /// Precondition.
    pub precondition: Option<String>,
    /// Properties (required by the Swagger).
    pub properties: Option<Vec<PropertyIn>>,
    /// Steps.
    pub test_steps: Option<Vec<StepIn>>,
    /// Inline attachments.
    pub attachments: Option<Vec<InlineAttachmentIn>>,
}

/// Test cycle create body.
#[derive(Debug, Deserialize)]
pub struct CycleIn {
    /// Name (required).
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Target release.
    pub target_release_id: Option<i64>,
}

/// `{id}` of the test case a run is for.
#[derive(Debug, Deserialize)]
pub struct CaseRefIn {
    /// Test case id.
    pub id: Option<i64>,
}

/// Test run create body.
#[derive(Debug, Deserialize)]
pub struct RunIn {
    /// Name (defaults to the case's).
    pub name: Option<String>,
    /// The test case (required).
    pub test_case: Option<CaseRefIn>,
    /// Version of the case.
    pub test_case_version_id: Option<i64>,
    /// Properties (required by the Swagger).
    pub properties: Option<Vec<PropertyIn>>,
}

/// `{id, name?}` status reference.
#[derive(Debug, Deserialize)]
pub struct StatusIn {
    /// Status id.
    pub id: Option<i64>,
}

/// Step log in a test log body.
#[derive(Debug, Deserialize)]
pub struct StepLogIn {
    /// Step of the run's case (required).
    pub test_step_id: Option<i64>,
    /// Status.
    pub status: Option<StatusIn>,
    /// Actual result.
    pub actual_result: Option<String>,
    /// Order.
    pub order: Option<i64>,
}

/// Manual test log body.
#[derive(Debug, Deserialize)]
pub struct LogIn {
    /// Status (required).
    pub status: Option<StatusIn>,
    /// Start (required).
    pub exe_start_date: Option<String>,
    /// End (required).
    pub exe_end_date: Option<String>,
    /// Note.
    pub note: Option<String>,
    /// Case version.
    pub test_case_version_id: Option<i64>,
    /// Test-run field values.
    pub properties: Option<Vec<PropertyIn>>,
    /// Step results.
    pub test_step_logs: Option<Vec<StepLogIn>>,
    /// Inline attachments.
    pub attachments: Option<Vec<InlineAttachmentIn>>,
}

/// Allowed value in a custom field create body.
#[derive(Debug, Deserialize)]
pub struct AllowedValueIn {
    /// Value id (assigned when absent).
    pub value: Option<i64>,
    /// Label (required).
    pub label: Option<String>,
    /// Default.
    pub is_default: Option<bool>,
    /// Active.
    pub is_active: Option<bool>,
}

/// Custom field create body.
#[derive(Debug, Deserialize)]
pub struct FieldIn {
    /// Label (required, unique per object type).
    pub label: Option<String>,
    /// Data type code (required).
    pub data_type: Option<i64>,
    /// Required.
    pub required: Option<bool>,
    /// Multi-valued (data types 8 and 17).
    pub multiple: Option<bool>,
    /// Searchable.
    pub searchable: Option<bool>,
    /// Choices.
    pub allowed_values: Option<Vec<AllowedValueIn>>,
}

/// `ArtifactSearchParams`.
#[derive(Debug, Deserialize)]
pub struct SearchIn {
    /// Object type (required).
    pub object_type: Option<String>,
    /// Data Query.
    pub query: Option<String>,
}

/// `{rel, href}`.
#[derive(Debug, Clone, Serialize)]
pub struct LinkOut {
    /// Relation.
    pub rel: &'static str,
    /// URL.
    pub href: String,
}

/// `PropertyResource`.
#[derive(Debug, Clone, Serialize)]
pub struct PropertyOut<'a> {
    /// Field id.
    pub field_id: i64,
    /// Field label.
    pub field_name: &'a str,
    /// Stored value.
    pub field_value: &'a str,
    /// Display value.
    pub field_value_name: Cow<'a, str>,
}

/// `ModuleResource`.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleOut {
    /// Id.
    pub id: i64,
    /// `MD-n`.
    pub pid: String,
    /// Name.
    pub name: String,
    /// Order among siblings.
    pub order: i64,
    /// Parent module.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<i64>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Created.
    pub created_date: String,
    /// Modified.
    pub last_modified_date: String,
    /// Sub-modules (with `expand=descendants`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub children: Option<Vec<ModuleOut>>,
}

/// `TestStepResource`.
#[derive(Debug, Clone, Serialize)]
pub struct StepOut<'a> {
    /// Id.
    pub id: i64,
    /// Description.
    pub description: &'a str,
    /// Expected result.
    pub expected: &'a str,
    /// 1-based order.
    pub order: i64,
    /// Called test case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub called_test_case_id: Option<i64>,
}

/// `TestCaseWithCustomFieldResource`.
#[derive(Debug, Clone, Serialize)]
pub struct CaseOut<'a> {
    /// Id.
    pub id: i64,
    /// `TC-n`.
    pub pid: String,
    /// Name.
    pub name: &'a str,
    /// Order in its module.
    pub order: i64,
    /// Module id.
    pub parent_id: i64,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<&'a str>,
    /// Precondition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precondition: Option<&'a str>,
    /// Version label.
    pub version: &'static str,
    /// Version id.
    pub test_case_version_id: i64,
    /// Created.
    pub created_date: String,
    /// Modified.
    pub last_modified_date: String,
    /// Field values.
    pub properties: Vec<PropertyOut<'a>>,
    /// Steps (when expanded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_steps: Option<Vec<StepOut<'a>>>,
    /// UI link.
    pub web_url: String,
}

/// The short test case inside a test run.
#[derive(Debug, Clone, Serialize)]
pub struct RunCaseOut<'a> {
    /// Id.
    pub id: i64,
    /// `TC-n`.
    pub pid: String,
    /// Name.
    pub name: &'a str,
    /// Required by the Swagger's resource; left empty.
    pub properties: Vec<PropertyOut<'a>>,
}

/// `TestCycleResource`.
#[derive(Debug, Clone, Serialize)]
pub struct CycleOut {
    /// Id.
    pub id: i64,
    /// `CL-n`.
    pub pid: String,
    /// Name.
    pub name: String,
    /// Order.
    pub order: i64,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Target release.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_release_id: Option<i64>,
    /// Created.
    pub created_date: String,
    /// Modified.
    pub last_modified_date: String,
    /// UI link.
    pub web_url: String,
    /// Sub-cycles (with `expand=descendants`).
    #[serde(rename = "test-cycles", skip_serializing_if = "Option::is_none")]
    pub test_cycles: Option<Vec<CycleOut>>,
}

/// `TestRunWithCustomFieldResource`.
#[derive(Debug, Clone, Serialize)]
pub struct RunOut<'a> {
    /// Id.
    pub id: i64,
    /// `TR-n`.
    pub pid: String,
    /// Name.
    pub name: &'a str,
    /// Order under its parent.
    pub order: i64,
    /// Created.
    pub created_date: String,
    /// Modified.
    pub last_modified_date: String,
    /// Field values (incl. Status).
    pub properties: Vec<PropertyOut<'a>>,
    /// The case.
    pub test_case: RunCaseOut<'a>,
    /// The case id.
    #[serde(rename = "testCaseId")]
    pub test_case_id: i64,
    /// The case version id.
    pub test_case_version_id: i64,
    /// The case version label.
    pub test_case_version: &'static str,
    /// Parent id (0 for root).
    #[serde(rename = "parentId")]
    pub parent_id: i64,
    /// Parent type.
    #[serde(rename = "parentType")]
    pub parent_type: &'static str,
    /// UI link.
    pub web_url: String,
}

/// `TestStepLogResource`.
#[derive(Debug, Clone, Serialize)]
pub struct StepLogOut<'a> {
    /// Id.
    pub test_step_log_id: i64,
    /// Step id.
    pub test_step_id: i64,
    /// Status.
    pub status: Cow<'a, StatusDef>,
    /// The step's description.
    pub description: &'a str,
    /// The step's expected result.
    pub expected_result: &'a str,
    /// Actual result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_result: Option<&'a str>,
    /// Order.
    pub order: i64,
}

/// `TestLogResource`.
#[derive(Debug, Clone, Serialize)]
pub struct LogOut<'a> {
    /// Id.
    pub id: i64,
    /// Run id.
    pub test_run_id: i64,
    /// Case version id.
    pub test_case_version_id: i64,
    /// Status.
    pub status: Cow<'a, StatusDef>,
    /// Start.
    pub exe_start_date: &'a str,
    /// End.
    pub exe_end_date: &'a str,
    /// Note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'a str>,
    /// Test-run field values.
    pub properties: Vec<PropertyOut<'a>>,
    /// Step results.
    pub test_step_logs: Vec<StepLogOut<'a>>,
}

/// `AttachmentAuthor`.
#[derive(Debug, Clone, Serialize)]
pub struct AuthorOut {
    /// User id.
    pub id: i64,
    /// Login.
    pub email: String,
    /// First name.
    pub first_name: &'static str,
    /// Last name.
    pub last_name: &'static str,
}

/// `AttachmentResource`.
#[derive(Debug, Clone, Serialize)]
pub struct AttachmentOut {
    /// Id.
    pub id: i64,
    /// File name.
    pub name: String,
    /// MIME type.
    pub content_type: String,
    /// UI link.
    pub web_url: String,
    /// Created.
    pub created_date: String,
    /// Uploader.
    pub author: AuthorOut,
    /// The object it belongs to.
    pub artifact_id: i64,
}

/// `{links, page, page_size, total, items}`.
#[derive(Debug, Clone, Serialize)]
pub struct PagedOut<T> {
    /// `self`, and `next` when more pages exist.
    pub links: Vec<LinkOut>,
    /// 1-based page.
    pub page: i64,
    /// Page size.
    pub page_size: i64,
    /// Total items.
    pub total: i64,
    /// This page's items.
    pub items: Vec<T>,
}

/// `ProjectResource`.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectOut {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Status (101 active).
    pub status_id: i64,
}

/// `OAuthResponse`.
#[derive(Debug, Clone, Serialize)]
pub struct OAuthOut {
    /// Bearer token.
    pub access_token: String,
    /// `bearer`.
    pub token_type: &'static str,
    /// Refresh token.
    pub refresh_token: String,
    /// Scope.
    pub scope: &'static str,
    /// Seconds to expiry.
    pub expires_in: i64,
}
