//! The bearer-token check in front of every `/v2` route: a missing header answers 401
//! `{"error": …}`, a wrong token 401 `{"errorCode": 401, "message": …}` (the two styles the
//! real service uses).

use super::ZephyrState;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use ztoq_model::zephyr::ErrorBody;

/// Middleware: pass the request on only when `Authorization: Bearer <token>` matches.
pub(crate) async fn require_bearer(
    State(state): State<Arc<ZephyrState>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        let body = ErrorBody {
            error: Some("Authorization header is missing".into()),
            ..ErrorBody::default()
        };
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    };
    let token = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer "));
    if token.map(str::trim) != Some(state.config.token.as_str()) {
        let body = ErrorBody {
            error_code: Some(401),
            message: Some("The access token is invalid or has expired".into()),
            error: None,
        };
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    next.run(request).await
}
