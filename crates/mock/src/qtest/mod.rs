//! A stateful mock of qTest Manager's REST API v3, for one site holding one project.
//!
//! It serves the endpoints ztoq writes and reads — OAuth login, project, field settings,
//! execution statuses, modules, test cases with steps, test cycles, test runs, manual test logs
//! with step logs, attachments and Data Query search, and the deletes a rollback needs (module,
//! test case, test cycle, test run, attachment; `force=true` on containers removes what they
//! hold, as qTest does) — with qTest's paths, snake_case JSON,
//! `pid`s, paging shapes and status codes (test case create answers 200, the other creates 201),
//! and it rejects what the real one rejects: a missing parent, test case or run (404), a missing
//! name, `properties`, status or execution date, an unknown field id or choice value, a step log
//! for a step of another case (400), an unknown token (401), an attachment over 50 MB (413).
//! `GET /__mock/summary` (no auth) reports what it holds.
//!
//! Invariant: one project, one token; the store is in memory, compact, and indexed so that
//! every lookup the API offers (by id, by parent, by `pid`, by field value) is O(1).
//! Faults, rate limiting and recording are not here: `faults` and `recorder` wrap this router.

mod auth;
mod create;
mod delete;
mod error;
mod fields;
mod parent;
mod render;
mod routes_design;
mod routes_exec;
mod routes_files;
mod search;
mod state;
mod wire;

pub use error::MockError;
pub use fields::{AllowedValueDef, FieldDef, StatusDef};
pub use state::{MAX_ATTACHMENT_BYTES, QtestMockConfig, QtestState, Summary};

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::{delete, get, post};
use std::sync::Arc;

/// Request bodies above this are refused by axum itself (attachments above 50 MB get a JSON 413
/// from the handler first).
const BODY_LIMIT: usize = MAX_ATTACHMENT_BYTES + 8 * 1024 * 1024;

/// The mock's routes: `/oauth/…`, `/api/v3/…` (bearer token required) and `/__mock/summary`.
pub fn router(state: Arc<QtestState>) -> Router {
    let p = "/api/v3/projects/{projectId}";
    let api = Router::new()
        .route("/api/v3/projects", get(routes_design::projects))
        .route(p, get(routes_design::project))
        .route(
            &format!("{p}/settings/{{objectType}}/fields"),
            get(routes_design::fields).post(routes_design::create_field),
        )
        .route(
            &format!("{p}/test-runs/execution-statuses"),
            get(routes_design::execution_statuses),
        )
        .route(
            &format!("{p}/modules"),
            get(routes_design::modules).post(routes_design::create_module),
        )
        .route(
            &format!("{p}/modules/{{moduleId}}"),
            get(routes_design::module).delete(delete::module),
        )
        .route(
            &format!("{p}/test-cases"),
            get(routes_design::cases).post(routes_design::create_case),
        )
        .route(
            &format!("{p}/test-cases/{{idOrPid}}"),
            get(routes_design::case).delete(delete::case),
        )
        .route(
            &format!("{p}/test-cycles"),
            get(routes_exec::cycles).post(routes_exec::create_cycle),
        )
        .route(
            &format!("{p}/test-cycles/{{testCycleId}}"),
            get(routes_exec::cycle).delete(delete::cycle),
        )
        .route(
            &format!("{p}/test-runs"),
            get(routes_exec::runs).post(routes_exec::create_run),
        )
        .route(
            &format!("{p}/test-runs/{{testRunId}}"),
            get(routes_exec::run).delete(delete::run),
        )
        .route(
            &format!("{p}/test-runs/{{testRunId}}/test-logs"),
            get(routes_exec::logs).post(routes_exec::create_log),
        )
        .route(
            &format!("{p}/test-runs/{{testRunId}}/test-logs/{{id}}"),
            get(routes_exec::log),
        )
        .route(
            &format!("{p}/{{objectType}}/{{objectId}}/blob-handles"),
            post(routes_files::upload),
        )
        .route(
            &format!("{p}/{{objectType}}/{{objectId}}/blob-handles/{{blobHandleId}}"),
            delete(routes_files::delete),
        )
        .route(
            &format!("{p}/{{objectType}}/{{objectId}}/attachments"),
            get(routes_files::list),
        )
        .route(&format!("{p}/search"), post(search::search))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_bearer,
        ));
    Router::new()
        .route("/oauth/token", post(auth::token))
        .route("/oauth/status", get(auth::status))
        .route("/__mock/summary", get(summary))
        .merge(api)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

async fn summary(State(state): State<Arc<QtestState>>) -> axum::Json<Summary> {
    axum::Json(state.summary())
}

async fn not_found() -> MockError {
    MockError::not_found("No such endpoint")
}
