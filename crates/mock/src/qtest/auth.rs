//! Authentication: `POST /oauth/token` (password and refresh-token grants, Basic client header),
//! `GET /oauth/status`, and the bearer-token check in front of every `/api/v3` route.
//!
//! Invariant: the only token accepted is the configured one, which is also what login hands out.

use super::QtestState;
use super::error::{MockError, MockResult};
use super::wire::OAuthOut;
use axum::Json;
use axum::extract::{Form, Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use serde::Deserialize;
use std::sync::Arc;

/// The refresh token handed out with every login.
const REFRESH_TOKEN: &str = "mock-refresh-token";

/// Seconds a token is said to live.
const EXPIRES_IN: i64 = 30 * 24 * 3600;

/// The login form.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenForm {
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
}

/// `Basic base64("<site>:")`: any client name, then a colon (the password part is ignored).
fn check_basic(headers: &HeaderMap) -> MockResult<()> {
    let missing = || MockError::unauthorized("Missing or invalid Authorization header value");
    let value = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(missing)?;
    let (scheme, encoded) = value.trim().split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(missing());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| missing())?;
    let decoded = String::from_utf8(decoded).map_err(|_| missing())?;
    match decoded.split_once(':') {
        Some((client, _)) if !client.is_empty() => Ok(()),
        _ => Err(missing()),
    }
}

/// `POST /oauth/token`.
pub(crate) async fn token(
    State(state): State<Arc<QtestState>>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, axum::extract::rejection::FormRejection>,
) -> MockResult<Json<OAuthOut>> {
    check_basic(&headers)?;
    let Form(form) =
        form.map_err(|e| MockError::bad_request(format!("Invalid login form: {e}")))?;
    let config = state.config();
    match form.grant_type.as_deref().unwrap_or("password") {
        "password" => {
            let ok = form.username.as_deref() == Some(config.username.as_str())
                && form.password.as_deref() == Some(config.password.as_str());
            if !ok {
                return Err(MockError::unauthorized("Invalid username or password"));
            }
        }
        "refresh_token" => {
            if form.refresh_token.as_deref() != Some(REFRESH_TOKEN) {
                return Err(MockError::bad_request("Invalid refresh token"));
            }
        }
        other => {
            return Err(MockError::bad_request(format!(
                "Unsupported grant type '{other}'"
            )));
        }
    }
    Ok(Json(OAuthOut {
        access_token: config.token.clone(),
        token_type: "bearer",
        refresh_token: REFRESH_TOKEN.to_string(),
        scope: "read create delete write",
        expires_in: EXPIRES_IN,
    }))
}

/// Whether the request carries `Authorization: Bearer <configured token>`.
fn bearer_ok(state: &QtestState, headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    match value.trim().split_once(' ') {
        Some((scheme, token)) => {
            scheme.eq_ignore_ascii_case("bearer") && token.trim() == state.config().token
        }
        None => false,
    }
}

/// `GET /oauth/status`.
pub(crate) async fn status(
    State(state): State<Arc<QtestState>>,
    headers: HeaderMap,
) -> MockResult<Json<serde_json::Value>> {
    if !bearer_ok(&state, &headers) {
        return Err(MockError::unauthorized("Invalid or expired access token"));
    }
    let expiration = chrono::Utc::now() + chrono::Duration::seconds(EXPIRES_IN);
    Ok(Json(serde_json::json!({
        "expiration": expiration.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        "validityInMilliseconds": EXPIRES_IN * 1000,
    })))
}

/// Middleware: 401 `{message}` unless the bearer token is the configured one.
pub(crate) async fn require_bearer(
    State(state): State<Arc<QtestState>>,
    request: Request,
    next: Next,
) -> Result<Response, MockError> {
    if !bearer_ok(&state, request.headers()) {
        return Err(MockError::unauthorized("Invalid or missing access token"));
    }
    Ok(next.run(request).await)
}
