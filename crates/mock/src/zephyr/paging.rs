//! Request context and the two paging styles of Zephyr v2: offset pages
//! (`startAt`/`maxResults`, default 10, clamped to 1000 and echoed, absolute `next`) and
//! NextGen cursor pages (`limit`/`startAtId`, ascending ids, `nextStartAtId`), plus the
//! `{errorCode, message}` error response.
//!
//! Invariant: a page is built from an index range, so serving any page costs O(page size).

use super::ZephyrState;
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::{StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Json, Response};
use serde::Serialize;
use std::convert::Infallible;
use std::ops::Range;
use std::sync::Arc;
use ztoq_model::zephyr::{CursorPage, ErrorBody, Page};

/// Largest page the mock serves, as the real service documents.
pub(crate) const MAX_PAGE: u64 = 1000;
/// Page size when none is asked.
pub(crate) const DEFAULT_PAGE: u64 = 10;
/// Largest accepted `startAt`.
pub(crate) const MAX_START_AT: u64 = 1_000_000;

/// A `{errorCode, message}` error response.
#[derive(Debug)]
pub(crate) struct MockError {
    pub status: StatusCode,
    pub message: String,
}

impl MockError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        MockError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        MockError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

impl IntoResponse for MockError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error_code: Some(i64::from(self.status.as_u16())),
            message: Some(self.message),
            error: None,
        };
        (self.status, Json(body)).into_response()
    }
}

/// What every handler needs from the request: the absolute API base, the original path and
/// the query pairs.
pub(crate) struct Ctx {
    /// Absolute `…/v2` base for `self` and `next` URLs.
    pub api: String,
    /// Absolute server origin (no `/v2`).
    origin: String,
    /// The request path as sent (with `/v2`).
    path: String,
    query: Vec<(String, String)>,
}

impl FromRequestParts<Arc<ZephyrState>> for Ctx {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ZephyrState>,
    ) -> Result<Self, Self::Rejection> {
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map_or(&parts.uri, |o| &o.0);
        let origin = match &state.config.base_url {
            Some(base) => base
                .trim_end_matches('/')
                .trim_end_matches("/v2")
                .to_string(),
            None => {
                let host = parts
                    .headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok());
                format!("http://{}", host.unwrap_or("127.0.0.1"))
            }
        };
        let query = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
        Ok(Ctx {
            api: format!("{origin}/v2"),
            origin,
            path: uri.path().to_string(),
            query,
        })
    }
}

impl Ctx {
    /// A query parameter (the first if repeated).
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A non-negative integer parameter; 400 when present but not a number.
    pub(crate) fn number(&self, name: &str) -> Result<Option<u64>, MockError> {
        match self.param(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .ok()
                .and_then(|n| u64::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    MockError::bad_request(format!(
                        "{name} must be a non-negative integer, got '{v}'"
                    ))
                }),
        }
    }

    /// This request's URL with some parameters replaced.
    fn url_with(&self, replace: &[(&str, String)]) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.query {
            if !replace.iter().any(|(r, _)| r == k) {
                ser.append_pair(k, v);
            }
        }
        for (k, v) in replace {
            ser.append_pair(k, v);
        }
        format!("{}{}?{}", self.origin, self.path, ser.finish())
    }

    /// Validated offset paging parameters: `(startAt, maxResults)` with the clamp applied.
    pub(crate) fn offset(&self) -> Result<(u64, u64), MockError> {
        let start = self.number("startAt")?.unwrap_or(0);
        if start > MAX_START_AT {
            return Err(MockError::bad_request(format!(
                "startAt must be at most {MAX_START_AT}"
            )));
        }
        let max = self.number("maxResults")?.unwrap_or(DEFAULT_PAGE);
        if max < 1 {
            return Err(MockError::bad_request("maxResults must be at least 1"));
        }
        Ok((start, max.min(MAX_PAGE)))
    }

    /// Validated cursor parameters: `(startAtId, limit)` with the clamp applied.
    pub(crate) fn cursor(&self) -> Result<(i64, u64), MockError> {
        let start = self.number("startAtId")?.unwrap_or(0);
        let limit = self.number("limit")?.unwrap_or(DEFAULT_PAGE);
        if limit < 1 {
            return Err(MockError::bad_request("limit must be at least 1"));
        }
        let start =
            i64::try_from(start).map_err(|_| MockError::bad_request("startAtId too large"))?;
        Ok((start, limit.min(MAX_PAGE)))
    }

    /// An offset page over `total` items, `item(i)` building item `i`.
    pub(crate) fn offset_page<T: Serialize>(
        &self,
        total: u64,
        item: impl FnMut(u64) -> T,
    ) -> Result<Response, MockError> {
        Ok(Json(self.offset_body(total, 0, item)?).into_response())
    }

    /// The offset page over `total` items; a page after the first also repeats the `repeat`
    /// items before `startAt` (a misbehaving server; the `next`/`isLast` arithmetic still
    /// covers every item when the client advances by what it got).
    pub(crate) fn offset_body<T: Serialize>(
        &self,
        total: u64,
        repeat: u64,
        item: impl FnMut(u64) -> T,
    ) -> Result<Page<T>, MockError> {
        let (start, max) = self.offset()?;
        let first = start.saturating_sub(repeat).min(total);
        let range = first..first.saturating_add(max).min(total);
        let end = range.end;
        let values: Vec<T> = range.map(item).collect();
        let is_last = end >= total;
        Ok(Page {
            next: (!is_last).then(|| {
                self.url_with(&[
                    ("startAt", end.to_string()),
                    ("maxResults", max.to_string()),
                ])
            }),
            start_at: start as i64,
            max_results: max as i64,
            total: Some(total as i64),
            is_last: Some(is_last),
            values,
        })
    }

    /// A cursor page over entities with ids `base + index` for `index` in `0..count`.
    pub(crate) fn cursor_page<T: Serialize>(
        &self,
        base: i64,
        count: u64,
        item: impl FnMut(u64) -> T,
    ) -> Result<Response, MockError> {
        Ok(Json(self.cursor_body(base, count, 0, item)?).into_response())
    }

    /// The cursor page over ids `base + index`; a page after the first also repeats the
    /// `repeat` items before `startAtId`.
    pub(crate) fn cursor_body<T: Serialize>(
        &self,
        base: i64,
        count: u64,
        repeat: u64,
        item: impl FnMut(u64) -> T,
    ) -> Result<CursorPage<T>, MockError> {
        let (start_id, limit) = self.cursor()?;
        let first = u64::try_from(start_id.saturating_sub(base))
            .unwrap_or(0)
            .min(count);
        let range: Range<u64> =
            first.saturating_sub(repeat)..first.saturating_add(limit).min(count);
        let end = range.end;
        let values: Vec<T> = range.map(item).collect();
        let next_id = (end < count).then(|| base + end as i64);
        Ok(CursorPage {
            next: next_id.map(|id| {
                self.url_with(&[("startAtId", id.to_string()), ("limit", limit.to_string())])
            }),
            next_start_at_id: next_id,
            limit: limit as i64,
            values,
        })
    }

    /// A cursor page over a sorted list of entity indices (ids `base + index`).
    pub(crate) fn cursor_page_list<T: Serialize>(
        &self,
        base: i64,
        indices: &[u64],
        mut item: impl FnMut(u64) -> T,
    ) -> Result<Response, MockError> {
        let (start_id, limit) = self.cursor()?;
        let first = u64::try_from(start_id.saturating_sub(base)).unwrap_or(0);
        let from = indices.partition_point(|&i| i < first);
        let to = from.saturating_add(limit as usize).min(indices.len());
        let values: Vec<T> = indices[from..to].iter().map(|&i| item(i)).collect();
        let next_id = indices.get(to).map(|&i| base + i as i64);
        let page = CursorPage {
            next: next_id.map(|id| {
                self.url_with(&[("startAtId", id.to_string()), ("limit", limit.to_string())])
            }),
            next_start_at_id: next_id,
            limit: limit as i64,
            values,
        };
        Ok(Json(page).into_response())
    }
}
