//! [`ApiError`] and its classification into what a retry policy needs: transient (retry with
//! backoff, honouring `Retry-After`), permanent (fail the record now), auth (pause the work).

use std::time::Duration;

/// How a failed request should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Timeouts, resets, 5xx, 429, truncated bodies: retry with backoff.
    Transient,
    /// 400/404/409/413/422 and undecodable bodies: retrying cannot help.
    Permanent,
    /// 401/403: the credentials are wrong or lack permission; pause rather than burn attempts.
    Auth,
}

/// A failed API call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The server answered with a non-success status.
    #[error("{api} {operation}: HTTP {status}: {message}")]
    Status {
        /// `zephyr` or `qtest`.
        api: &'static str,
        /// The operation, e.g. `create_test_case`.
        operation: &'static str,
        /// The HTTP status.
        status: u16,
        /// The server's message (or the start of its body).
        message: String,
        /// `Retry-After`, when the server sent one.
        retry_after: Option<Duration>,
    },
    /// The request did not complete: connect error, reset, timeout, truncated body.
    #[error("{api} {operation}: {message}")]
    Transport {
        /// `zephyr` or `qtest`.
        api: &'static str,
        /// The operation.
        operation: &'static str,
        /// What went wrong.
        message: String,
        /// Whether the request may have reached the server (it was sent before it failed).
        maybe_applied: bool,
    },
    /// The server answered 2xx but the body is not what the API promises.
    #[error("{api} {operation}: invalid response body: {message}")]
    Decode {
        /// `zephyr` or `qtest`.
        api: &'static str,
        /// The operation.
        operation: &'static str,
        /// The parse error.
        message: String,
    },
    /// ztoq itself could not build the request (bad base URL, …).
    #[error("{api}: {message}")]
    Config {
        /// `zephyr` or `qtest`.
        api: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl ApiError {
    /// How to treat this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            ApiError::Status { status, .. } => classify_status(*status),
            ApiError::Transport { .. } => ErrorClass::Transient,
            ApiError::Decode { .. } | ApiError::Config { .. } => ErrorClass::Permanent,
        }
    }

    /// `Retry-After` sent with the error, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Which API failed.
    pub fn api(&self) -> &'static str {
        match self {
            ApiError::Status { api, .. }
            | ApiError::Transport { api, .. }
            | ApiError::Decode { api, .. }
            | ApiError::Config { api, .. } => api,
        }
    }
}

/// Classifies an HTTP status.
pub fn classify_status(status: u16) -> ErrorClass {
    match status {
        401 | 403 => ErrorClass::Auth,
        408 | 425 | 429 => ErrorClass::Transient,
        500..=599 => ErrorClass::Transient,
        _ => ErrorClass::Permanent,
    }
}

/// Parses `Retry-After`: delay-seconds or an HTTP-date. `0` is kept as zero (callers then use
/// their own backoff).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statuses() {
        assert_eq!(classify_status(401), ErrorClass::Auth);
        assert_eq!(classify_status(403), ErrorClass::Auth);
        assert_eq!(classify_status(429), ErrorClass::Transient);
        assert_eq!(classify_status(503), ErrorClass::Transient);
        assert_eq!(classify_status(400), ErrorClass::Permanent);
        assert_eq!(classify_status(404), ErrorClass::Permanent);
        assert_eq!(classify_status(422), ErrorClass::Permanent);
    }

    #[test]
    fn parses_retry_after() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("0"), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
