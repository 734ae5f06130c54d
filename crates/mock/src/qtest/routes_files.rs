//! Attachment routes: raw-body upload to `…/{objectType}/{objectId}/blob-handles` (headers
//! `File-Name` and `Content-Type`, 50 MB cap), `…/{objectType}/{objectId}/attachments`, and
//! `DELETE …/{objectType}/{objectId}/blob-handles/{blobHandleId}`.
//!
//! Only metadata is kept (name, type, time): the bytes are counted and dropped, so the mock's
//! memory does not grow with uploaded content.

use super::QtestState;
use super::error::{MockError, MockResult};
use super::routes_design::{check_project, render};
use super::state::{MAX_ATTACHMENT_BYTES, Target};
use super::wire::AttachmentOut;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use std::sync::Arc;

/// The Swagger's attachment owner types; the mock holds objects of the first four only.
fn target(object_type: &str, id: i64) -> MockResult<Target> {
    match object_type {
        "test-cases" => Ok(Target::Case),
        "test-logs" => Ok(Target::Log),
        "test-steps" => Ok(Target::Step),
        "test-step-logs" => Ok(Target::StepLog),
        "releases" | "builds" | "requirements" | "defects" => Err(MockError::not_found(format!(
            "{object_type} object {id} does not exist"
        ))),
        other => Err(MockError::bad_request(format!(
            "Invalid object type '{other}' for attachments"
        ))),
    }
}

fn existing_target(state: &QtestState, object_type: &str, id: i64) -> MockResult<Target> {
    let t = target(object_type, id)?;
    if state.read().target_exists(t, id) {
        Ok(t)
    } else {
        Err(MockError::not_found(format!(
            "{object_type} object {id} does not exist"
        )))
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> MockResult<&'a str> {
    headers
        .get(name)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| MockError::bad_request(format!("Header {name} is required")))
}

/// `POST …/{objectType}/{objectId}/blob-handles` → 201.
pub(crate) async fn upload(
    State(state): State<Arc<QtestState>>,
    Path((project, object_type, id)): Path<(i64, String, i64)>,
    headers: HeaderMap,
    body: Bytes,
) -> MockResult<(StatusCode, Json<AttachmentOut>)> {
    check_project(&state, project)?;
    let t = existing_target(&state, &object_type, id)?;
    let name = header(&headers, "File-Name")?;
    let content_type = header(&headers, CONTENT_TYPE.as_str())?;
    if body.len() > MAX_ATTACHMENT_BYTES {
        return Err(MockError::too_large(format!(
            "Attachment {name} is larger than 50 MB"
        )));
    }
    let mut store = state.write();
    let attachment_id = store.add_attachment(t, id, name, content_type);
    let store = &*store;
    let rec = store
        .attachments
        .get(&(t, id))
        .and_then(|list| list.iter().find(|a| a.id == attachment_id))
        .ok_or_else(|| MockError::not_found("attachment vanished"))?;
    Ok((
        StatusCode::CREATED,
        Json(render(&state, store).attachment(rec, id)),
    ))
}

/// `DELETE …/{objectType}/{objectId}/blob-handles/{blobHandleId}` → 200 `Message`; 404 when
/// the owner or the attachment does not exist.
pub(crate) async fn delete(
    State(state): State<Arc<QtestState>>,
    Path((project, object_type, id, attachment_id)): Path<(i64, String, i64, i64)>,
) -> MockResult<Json<super::delete::DeletedOut>> {
    check_project(&state, project)?;
    let t = existing_target(&state, &object_type, id)?;
    state.write().delete_attachment(t, id, attachment_id)?;
    Ok(super::delete::deleted(format!(
        "Attachment {attachment_id} deleted"
    )))
}

/// `GET …/{objectType}/{objectId}/attachments`.
pub(crate) async fn list(
    State(state): State<Arc<QtestState>>,
    Path((project, object_type, id)): Path<(i64, String, i64)>,
) -> MockResult<Json<Vec<AttachmentOut>>> {
    check_project(&state, project)?;
    let t = existing_target(&state, &object_type, id)?;
    let store = state.read();
    let r = render(&state, &store);
    Ok(Json(
        store
            .attachments
            .get(&(t, id))
            .into_iter()
            .flatten()
            .map(|a| r.attachment(a, id))
            .collect(),
    ))
}
