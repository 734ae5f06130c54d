//! Sending one request: timing it, recording `ztoq_api_requests_total` and
//! `ztoq_api_request_duration_seconds`, and turning every failure into a classified
//! [`ApiError`].

use crate::{ApiError, parse_retry_after};
use serde::de::DeserializeOwned;
use std::time::{Duration, Instant};

/// Which API a client speaks; used in errors and metric labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// Zephyr Scale Cloud v2 (source).
    Zephyr,
    /// qTest Manager v3 (sink).
    Qtest,
}

impl Api {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Api::Zephyr => "zephyr",
            Api::Qtest => "qtest",
        }
    }
}

/// Settings shared by both clients.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Idle connections kept per host.
    pub pool_max_idle_per_host: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            pool_max_idle_per_host: 64,
        }
    }
}

/// Builds the reqwest client both APIs use (rustls with the ring provider, pooled connections).
pub fn build_client(api: Api, options: &ClientOptions) -> Result<reqwest::Client, ApiError> {
    // Installing twice is harmless; the first provider wins.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(options.timeout)
        .connect_timeout(options.connect_timeout)
        .pool_max_idle_per_host(options.pool_max_idle_per_host)
        .user_agent(concat!("ztoq/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ApiError::Config {
            api: api.as_str(),
            message: e.to_string(),
        })
}

/// Sends `request`, returning the response when its status is 2xx and a classified error
/// otherwise. Records the request count and duration by api, operation and status class.
pub async fn send(
    api: Api,
    operation: &'static str,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, ApiError> {
    let started = Instant::now();
    let result = request.send().await;
    let elapsed = started.elapsed().as_secs_f64();
    let api_name = api.as_str();
    match result {
        Ok(response) => {
            let status = response.status().as_u16();
            let class = status_class(status);
            metrics::counter!("ztoq_api_requests_total", "api" => api_name, "operation" => operation, "status_class" => class).increment(1);
            metrics::histogram!("ztoq_api_request_duration_seconds", "api" => api_name, "operation" => operation).record(elapsed);
            if response.status().is_success() {
                return Ok(response);
            }
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            let body = response.text().await.unwrap_or_default();
            Err(ApiError::Status {
                api: api_name,
                operation,
                status,
                message: error_message(&body),
                retry_after,
            })
        }
        Err(e) => {
            metrics::counter!("ztoq_api_requests_total", "api" => api_name, "operation" => operation, "status_class" => "error").increment(1);
            metrics::histogram!("ztoq_api_request_duration_seconds", "api" => api_name, "operation" => operation).record(elapsed);
            // A connect failure never reached the server; anything later may have.
            let maybe_applied = !e.is_connect();
            Err(ApiError::Transport {
                api: api_name,
                operation,
                message: error_chain(&e),
                maybe_applied,
            })
        }
    }
}

/// Reads a 2xx body as JSON. A body cut short is transient; a complete body that does not
/// parse is a permanent decode error.
pub async fn read_json<T: DeserializeOwned>(
    api: Api,
    operation: &'static str,
    response: reqwest::Response,
) -> Result<T, ApiError> {
    let bytes = response.bytes().await.map_err(|e| ApiError::Transport {
        api: api.as_str(),
        operation,
        message: format!("reading body: {}", error_chain(&e)),
        maybe_applied: true,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        if e.is_eof() {
            ApiError::Transport {
                api: api.as_str(),
                operation,
                message: format!("truncated body: {e}"),
                maybe_applied: true,
            }
        } else {
            ApiError::Decode {
                api: api.as_str(),
                operation,
                message: e.to_string(),
            }
        }
    })
}

fn status_class(status: u16) -> &'static str {
    match status {
        200..=299 => "2xx",
        300..=399 => "3xx",
        429 => "429",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The `message` (or `error`) of a JSON error body, else the body's first 300 characters.
fn error_message(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        for key in ["message", "error"] {
            if let Some(m) = v.get(key).and_then(|m| m.as_str()) {
                return m.to_string();
            }
        }
    }
    body.chars().take(300).collect()
}

/// An error followed by its source chain (`a: b: c`), for messages that say what really
/// failed (a reqwest error alone often says only "error sending request").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_prefers_json_message() {
        assert_eq!(
            error_message(r#"{"errorCode":404,"message":"no such case"}"#),
            "no such case"
        );
        assert_eq!(error_message(r#"{"error":"bad token"}"#), "bad token");
        assert_eq!(error_message("plain"), "plain");
    }
}
