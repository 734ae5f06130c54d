//! `/v2` attachment handlers of test cases and executions: the reference list
//! (`{"attachments":[{id,name}]}`, 404 when there are none, as the real API does) and the
//! content (raw bytes with their `Content-Type`).

use super::ZephyrState;
use super::executions::execution_index;
use super::hostile;
use super::paging::MockError;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use ztoq_model::zephyr::{AttachmentList, AttachmentRef};

type Result<T = Response> = std::result::Result<T, MockError>;

fn list(owner: &str, refs: Vec<(i64, String)>) -> Result {
    if refs.is_empty() {
        return Err(MockError::not_found(format!(
            "'{owner}' exists but has no attachment metadata"
        )));
    }
    let attachments = refs
        .into_iter()
        .map(|(id, name)| AttachmentRef {
            id,
            name: Some(name),
        })
        .collect();
    Ok(Json(AttachmentList { attachments }).into_response())
}

fn content(
    state: &ZephyrState,
    owner: &str,
    refs: &[(i64, String)],
    attachment_id: &str,
) -> Result {
    let id = attachment_id
        .parse::<i64>()
        .ok()
        .filter(|id| refs.iter().any(|(a, _)| a == id));
    if state.is_hostile()
        && let Some(response) = id.and_then(|id| state.data.hostile_attachment_content(id))
    {
        return Ok(response);
    }
    let found = id.and_then(|id| state.data.attachment_content(id));
    let (bytes, content_type) = found.ok_or_else(|| {
        MockError::not_found(format!(
            "Attachment '{attachment_id}' of '{owner}' does not exist"
        ))
    })?;
    Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
}

fn case_refs(state: &ZephyrState, key: &str) -> Result<Vec<(i64, String)>> {
    if state.is_hostile()
        && let Some(j) = state.data.hostile_case_of(key)
    {
        return Ok(state.data.hostile_attachments(j));
    }
    let i = state
        .data
        .test_case_index(key)
        .ok_or_else(|| MockError::not_found(format!("Test case '{key}' does not exist")))?;
    Ok(state.data.test_case_attachments(i))
}

fn execution_refs(state: &ZephyrState, id_or_key: &str) -> Result<Vec<(i64, String)>> {
    if state.is_hostile() && state.data.hostile_execution_of(id_or_key).is_some() {
        return Err(hostile::not_found(id_or_key));
    }
    Ok(state
        .data
        .execution_attachments(execution_index(state, id_or_key)?))
}

/// `GET /testcases/{testCaseKey}/attachments`.
pub(crate) async fn list_test_case(
    State(state): State<Arc<ZephyrState>>,
    Path(key): Path<String>,
) -> Result {
    list(&key, case_refs(&state, &key)?)
}

/// `GET /testcases/{testCaseKey}/attachments/{attachmentId}`.
pub(crate) async fn get_test_case(
    State(state): State<Arc<ZephyrState>>,
    Path((key, attachment_id)): Path<(String, String)>,
) -> Result {
    content(&state, &key, &case_refs(&state, &key)?, &attachment_id)
}

/// `GET /testexecutions/{testExecutionIdOrKey}/attachments`.
pub(crate) async fn list_execution(
    State(state): State<Arc<ZephyrState>>,
    Path(id): Path<String>,
) -> Result {
    list(&id, execution_refs(&state, &id)?)
}

/// `GET /testexecutions/{testExecutionIdOrKey}/attachments/{attachmentId}`.
pub(crate) async fn get_execution(
    State(state): State<Arc<ZephyrState>>,
    Path((id, attachment_id)): Path<(String, String)>,
) -> Result {
    content(&state, &id, &execution_refs(&state, &id)?, &attachment_id)
}
