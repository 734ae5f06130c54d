//! The mock's error answer (`{"message": …}` with a status, like qTest's `Message`), plus the
//! request helpers that turn malformed JSON, query strings and paging parameters into 400s
//! instead of axum's plain-text rejections.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A failed request: status plus qTest's `{message}` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockError {
    /// HTTP status.
    pub status: StatusCode,
    /// The message put in the body.
    pub message: String,
}

impl MockError {
    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        MockError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// 404 Not Found.
    pub fn not_found(message: impl Into<String>) -> Self {
        MockError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    /// 401 Unauthorized.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        MockError {
            status: StatusCode::UNAUTHORIZED,
            message: message.into(),
        }
    }

    /// 413 Payload Too Large.
    pub fn too_large(message: impl Into<String>) -> Self {
        MockError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: message.into(),
        }
    }
}

#[derive(Serialize)]
struct MessageBody<'a> {
    message: &'a str,
}

impl IntoResponse for MockError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(MessageBody {
                message: &self.message,
            }),
        )
            .into_response()
    }
}

/// Result of a handler.
pub type MockResult<T> = Result<T, MockError>;

/// Parses a JSON request body; a missing or malformed body is a 400 naming the problem.
pub fn parse_body<T: DeserializeOwned>(body: &[u8]) -> MockResult<T> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(MockError::bad_request("Request body is required"));
    }
    serde_json::from_slice(body)
        .map_err(|e| MockError::bad_request(format!("Invalid request body: {e}")))
}

/// Parses an optional integer query parameter; garbage is a 400.
pub fn int_param(params: &[(String, String)], name: &str) -> MockResult<Option<i64>> {
    match param(params, name) {
        None => Ok(None),
        Some("") => Ok(None),
        Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
            MockError::bad_request(format!("Invalid value '{v}' for parameter {name}"))
        }),
    }
}

/// Parses an optional boolean query parameter; garbage is a 400.
pub fn bool_param(params: &[(String, String)], name: &str, default: bool) -> MockResult<bool> {
    match param(params, name) {
        None | Some("") => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(MockError::bad_request(format!(
            "Invalid value '{v}' for parameter {name}"
        ))),
    }
}

/// The first value of a query parameter.
pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A resolved page request: 1-based page and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based page.
    pub page: i64,
    /// Items per page.
    pub size: i64,
}

impl PageRequest {
    /// Reads `page` and `size_param` (default `default_size`, capped at `max_size`).
    /// Page below 1 or size below 1 is a 400.
    pub fn from_params(
        params: &[(String, String)],
        size_param: &str,
        default_size: i64,
        max_size: i64,
    ) -> MockResult<Self> {
        let page = int_param(params, "page")?.unwrap_or(1);
        let size = int_param(params, size_param)?.unwrap_or(default_size);
        if page < 1 {
            return Err(MockError::bad_request("page must be 1 or more"));
        }
        if size < 1 {
            return Err(MockError::bad_request(format!(
                "{size_param} must be 1 or more"
            )));
        }
        Ok(PageRequest {
            page,
            size: size.min(max_size),
        })
    }

    /// The slice of `items` on this page.
    pub fn slice<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let start =
            usize::try_from((self.page - 1).saturating_mul(self.size)).unwrap_or(usize::MAX);
        let size = usize::try_from(self.size).unwrap_or(usize::MAX);
        if start >= items.len() {
            return &[];
        }
        let end = start.saturating_add(size).min(items.len());
        &items[start..end]
    }

    /// Whether a page after this one holds items.
    pub fn has_next(&self, total: usize) -> bool {
        let seen = self.page.saturating_mul(self.size);
        i64::try_from(total).unwrap_or(i64::MAX) > seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn pages_slice_and_cap() {
        let items: Vec<i32> = (1..=7).collect();
        let pr = PageRequest::from_params(
            &p(&[("page", "2"), ("pageSize", "3")]),
            "pageSize",
            100,
            999,
        )
        .unwrap();
        assert_eq!(pr.slice(&items), &[4, 5, 6]);
        assert!(pr.has_next(7));
        let last = PageRequest { page: 3, size: 3 };
        assert_eq!(last.slice(&items), &[7]);
        assert!(!last.has_next(7));
        assert!(PageRequest { page: 9, size: 3 }.slice(&items).is_empty());
        let capped =
            PageRequest::from_params(&p(&[("pageSize", "5000")]), "pageSize", 100, 999).unwrap();
        assert_eq!(capped.size, 999);
        assert!(PageRequest::from_params(&p(&[("page", "0")]), "pageSize", 100, 999).is_err());
        assert!(PageRequest::from_params(&p(&[("page", "x")]), "pageSize", 100, 999).is_err());
    }
}
