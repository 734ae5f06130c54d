//! Mock-only controls under `/__mock` (no auth): the project summary, the switch that
//! makes a test case's `/teststeps` answer a complete but invalid body, and hostile mode.

use super::{HostilePlan, Summary, ZephyrState};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use std::sync::Arc;

/// `GET /__mock/summary`.
pub(crate) async fn summary(State(state): State<Arc<ZephyrState>>) -> Json<Summary> {
    Json(state.summary())
}

/// Body of `POST /__mock/corrupt`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CorruptRequest {
    test_case_key: String,
}

/// `POST /__mock/corrupt` `{"testCaseKey": "P-T5"}`.
pub(crate) async fn corrupt(
    State(state): State<Arc<ZephyrState>>,
    Json(request): Json<CorruptRequest>,
) -> StatusCode {
    state.corrupt_test_steps(&request.test_case_key);
    StatusCode::NO_CONTENT
}

/// `DELETE /__mock/corrupt`: clears every corruption.
pub(crate) async fn clear(State(state): State<Arc<ZephyrState>>) -> StatusCode {
    state.clear_corruptions();
    StatusCode::NO_CONTENT
}

/// Body of `GET /__mock/hostile`.
#[derive(Debug, serde::Serialize)]
pub(crate) struct HostileView {
    enabled: bool,
    plan: HostilePlan,
}

/// `GET /__mock/hostile`: whether it is on, and what it plants.
pub(crate) async fn hostile_plan(State(state): State<Arc<ZephyrState>>) -> Json<HostileView> {
    Json(HostileView {
        enabled: state.is_hostile(),
        plan: state.hostile_plan(),
    })
}

/// `POST /__mock/hostile`: hostile mode on.
pub(crate) async fn hostile_on(State(state): State<Arc<ZephyrState>>) -> StatusCode {
    state.set_hostile(true);
    StatusCode::NO_CONTENT
}

/// `DELETE /__mock/hostile`: hostile mode off.
pub(crate) async fn hostile_off(State(state): State<Arc<ZephyrState>>) -> StatusCode {
    state.set_hostile(false);
    StatusCode::NO_CONTENT
}
