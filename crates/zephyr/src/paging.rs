//! [`Pager`]: walks one Zephyr list, offset (`startAt`/`maxResults`) or NextGen cursor
//! (`startAtId`/`limit`), one page per [`Pager::next_page`] call.
//!
//! Invariant (zephyr-api.md §3.1): an offset list advances by the number of items actually
//! returned and ends on `isLast == true`, an empty page, or (without `isLast`) a null `next`;
//! a short page never ends it. A cursor list ends when `nextStartAtId` is null; a cursor that
//! does not advance is a permanent error rather than an endless loop.

use crate::client::ZephyrClient;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;
use url::Url;
use ztoq_http::{Api, ApiError, read_json, send};
use ztoq_model::zephyr::{CursorPage, Page};

#[derive(Debug, Clone, Copy)]
enum Position {
    /// Offset paging: the next `startAt`, or `None` when done.
    Offset(Option<u64>),
    /// Cursor paging: the next `startAtId`, or `None` when done.
    Cursor(Option<i64>),
}

/// One list being read page by page. `Send`, so it can cross tasks.
pub struct Pager<T> {
    client: ZephyrClient,
    operation: &'static str,
    /// The list URL with its filters; an error is reported by the first `next_page`.
    url: Result<Url, Option<ApiError>>,
    position: Position,
    pages: u64,
    _items: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Pager<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pager")
            .field("operation", &self.operation)
            .field("position", &self.position)
            .field("pages", &self.pages)
            .finish_non_exhaustive()
    }
}

impl<T> Pager<T> {
    fn new(
        client: ZephyrClient,
        operation: &'static str,
        url: Result<Url, ApiError>,
        position: Position,
    ) -> Self {
        Pager {
            client,
            operation,
            url: url.map_err(Some),
            position,
            pages: 0,
            _items: PhantomData,
        }
    }

    pub(crate) fn offset(
        client: ZephyrClient,
        operation: &'static str,
        url: Result<Url, ApiError>,
    ) -> Self {
        Self::new(client, operation, url, Position::Offset(Some(0)))
    }

    pub(crate) fn cursor(
        client: ZephyrClient,
        operation: &'static str,
        url: Result<Url, ApiError>,
    ) -> Self {
        Self::new(client, operation, url, Position::Cursor(Some(0)))
    }

    /// Starts (or resumes) the list at `position`: a `startAt` index for offset lists, a
    /// `startAtId` for cursor lists (e.g. a checkpoint saved from an earlier run).
    pub fn start_at(mut self, position: u64) -> Self {
        self.position = match self.position {
            Position::Offset(_) => Position::Offset(Some(position)),
            Position::Cursor(_) => {
                Position::Cursor(Some(i64::try_from(position).unwrap_or(i64::MAX)))
            }
        };
        self
    }

    /// Where the next page starts (`startAt` or `startAtId`), or `None` when done: save it
    /// to resume later with [`Pager::start_at`].
    pub fn position(&self) -> Option<u64> {
        match self.position {
            Position::Offset(p) => p,
            Position::Cursor(p) => p.and_then(|p| u64::try_from(p).ok()),
        }
    }

    /// Pages fetched so far.
    pub fn pages_fetched(&self) -> u64 {
        self.pages
    }

    /// Whether the list has been read to its end.
    pub fn is_done(&self) -> bool {
        matches!(
            self.position,
            Position::Offset(None) | Position::Cursor(None)
        )
    }

    fn finish(&mut self) {
        self.position = match self.position {
            Position::Offset(_) => Position::Offset(None),
            Position::Cursor(_) => Position::Cursor(None),
        };
    }
}

impl<T: DeserializeOwned> Pager<T> {
    /// The next page of items, or `None` once the list is exhausted. On error the position is
    /// unchanged, so calling again retries the same page.
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>, ApiError> {
        let url = match &mut self.url {
            Ok(url) => url.clone(),
            Err(e) => {
                let e = e.take();
                self.finish();
                return e.map_or(Ok(None), Err);
            }
        };
        loop {
            let (values, next) = match self.position {
                Position::Offset(None) | Position::Cursor(None) => return Ok(None),
                Position::Offset(Some(start)) => {
                    let page: Page<T> = self.fetch(&url, "startAt", start, "maxResults").await?;
                    let n = page.values.len() as u64;
                    let last = match page.is_last {
                        Some(is_last) => is_last,
                        None => page.next.is_none(),
                    };
                    let next = (!last && n > 0).then_some(start + n);
                    (page.values, Position::Offset(next))
                }
                Position::Cursor(Some(start)) => {
                    let page: CursorPage<T> = self.fetch(&url, "startAtId", start, "limit").await?;
                    if let Some(next) = page.next_start_at_id
                        && next <= start
                    {
                        return Err(ApiError::Decode {
                            api: Api::Zephyr.as_str(),
                            operation: self.operation,
                            message: format!(
                                "cursor did not advance: startAtId {start}, nextStartAtId {next}"
                            ),
                        });
                    }
                    (page.values, Position::Cursor(page.next_start_at_id))
                }
            };
            self.position = next;
            if !values.is_empty() {
                return Ok(Some(values));
            }
            // An empty page ends an offset list; a cursor list ends only on a null cursor.
            if let Position::Offset(_) = self.position {
                self.finish();
            }
        }
    }

    async fn fetch<P: DeserializeOwned, N: ToString>(
        &mut self,
        url: &Url,
        position_param: &str,
        position: N,
        size_param: &str,
    ) -> Result<P, ApiError> {
        let mut url = url.clone();
        url.query_pairs_mut()
            .append_pair(position_param, &position.to_string())
            .append_pair(size_param, &self.client.page_size().to_string());
        tracing::debug!(api = "zephyr", operation = self.operation, %url, "fetching page");
        let request = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json");
        let response = send(Api::Zephyr, self.operation, request).await?;
        let page = read_json(Api::Zephyr, self.operation, response).await?;
        self.pages += 1;
        Ok(page)
    }

    /// Reads every remaining page.
    pub async fn collect_all(mut self) -> Result<Vec<T>, ApiError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }
}
