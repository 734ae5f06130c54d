//! [`Pager`]: walks one Zephyr list, offset (`startAt`/`maxResults`) or NextGen cursor
//! (`startAtId`/`limit`), one page per call.
//!
//! Two ways to read a page:
//! - [`Pager::next_page`] (strict): every item must decode; the first bad one is an error
//!   naming its position. For lists that are all-or-nothing (a test case's steps).
//! - [`Pager::next_items`] (lenient): the page is decoded as JSON values first and each item
//!   on its own, so one bad item becomes a [`BadItem`] (its id or key when readable, its
//!   position, and why) while the others come through. An offset page whose body is not JSON
//!   at all is fetched once more, then narrowed (halving `maxResults` down to 1) until the
//!   unreadable position is isolated. For the crawl.
//!
//! Both drop items that repeat one of the last few thousand ids (a page that repeats records
//! of the previous one) and remove NULs from every string ([`PageItems::notes`] says which
//! items lost some).
//!
//! Invariant (zephyr-api.md §3.1): an offset list advances by the number of items actually
//! returned and ends on `isLast == true`, an empty page, or (without `isLast`) a null `next`;
//! a short page never ends it. A cursor list ends when `nextStartAtId` is null; a cursor that
//! does not advance is a permanent error rather than an endless loop.

use crate::client::ZephyrClient;
use crate::decode::{
    self, Decoded, EXCERPT_CHARS, decode_body, decode_error, excerpt, has_replacement_char,
    strip_nul, synthetic_id,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::{HashSet, VecDeque};
use std::marker::PhantomData;
use url::Url;
use ztoq_http::{Api, ApiError, send};
use ztoq_model::zephyr::{CursorPage, Page};

#[derive(Debug, Clone, Copy)]
enum Position {
    /// Offset paging: the next `startAt`, or `None` when done.
    Offset(Option<u64>),
    /// Cursor paging: the next `startAtId`, or `None` when done.
    Cursor(Option<i64>),
}

/// How many recent ids are remembered to drop repeated items.
const RECENT_IDS: usize = 4096;
/// Consecutive unreadable positions after which a list is given up as broken.
const MAX_CONSECUTIVE_BAD: u32 = 10;

/// An item of a list that could not be decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct BadItem {
    /// Its `id`, when that much was readable.
    pub id: Option<i64>,
    /// Its `key` (or `name`), when readable (an excerpt, NUL-free).
    pub key: Option<String>,
    /// Its `folderType`, when readable (folders only).
    pub folder_type: Option<String>,
    /// Where it was: the operation and the position in the list.
    pub position: String,
    /// Why it could not be read (a bounded excerpt).
    pub reason: String,
}

impl BadItem {
    /// The id to record it under: its own, or a stable negative one derived from its position.
    pub fn source_id(&self) -> i64 {
        self.id.unwrap_or_else(|| synthetic_id(&self.position))
    }

    /// How to name it: its key, `#id`, or its position.
    pub fn label(&self) -> String {
        match (&self.key, self.id) {
            (Some(key), Some(id)) => format!("{key} (#{id})"),
            (Some(key), None) => key.clone(),
            (None, Some(id)) => format!("#{id}"),
            (None, None) => format!("<{}>", self.position),
        }
    }
}

/// Something changed in an item on its way in (the item itself came through).
#[derive(Debug, Clone, PartialEq)]
pub struct ItemNote {
    /// The item's id.
    pub id: Option<i64>,
    /// The item's key (or name), an excerpt.
    pub key: Option<String>,
    /// What changed.
    pub note: String,
}

/// One page read leniently.
#[derive(Debug, Clone, PartialEq)]
pub struct PageItems<T> {
    /// The items that decoded.
    pub items: Vec<T>,
    /// The items that did not.
    pub bad: Vec<BadItem>,
    /// Ids of items dropped because they repeat one already returned.
    pub repeated: Vec<i64>,
    /// Degradations of items that came through.
    pub notes: Vec<ItemNote>,
}

impl<T> Default for PageItems<T> {
    fn default() -> Self {
        PageItems {
            items: Vec::new(),
            bad: Vec::new(),
            repeated: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// Ids seen lately (bounded).
#[derive(Debug, Default)]
struct Recent {
    order: VecDeque<i64>,
    set: HashSet<i64>,
}

impl Recent {
    /// Remembers `id`; false when it was already there.
    fn insert(&mut self, id: i64) -> bool {
        if !self.set.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > RECENT_IDS
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }
}

/// An offset page being narrowed to isolate an unreadable item.
#[derive(Debug, Clone, Copy)]
struct Narrow {
    /// `maxResults` to ask for now.
    size: u64,
    /// The end of the range known to hold the bad item; full pages again after it.
    until: u64,
}

/// One list being read page by page. `Send`, so it can cross tasks.
pub struct Pager<T> {
    client: ZephyrClient,
    operation: &'static str,
    /// The list URL with its filters; an error is reported by the first call.
    url: Result<Url, Option<ApiError>>,
    position: Position,
    pages: u64,
    recent: Recent,
    narrow: Option<Narrow>,
    /// Whether the current page already failed to decode once.
    decode_retried: bool,
    consecutive_bad: u32,
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
            recent: Recent::default(),
            narrow: None,
            decode_retried: false,
            consecutive_bad: 0,
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

    /// The operation name (`list_test_cases`, …).
    pub fn operation(&self) -> &'static str {
        self.operation
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

fn is_decode(e: &ApiError) -> bool {
    matches!(e, ApiError::Decode { .. })
}

impl<T: DeserializeOwned> Pager<T> {
    /// The next page of items, or `None` once the list is exhausted; strict: an item that
    /// does not decode is an error naming its position. On error the position is unchanged,
    /// so calling again retries the same page.
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>, ApiError> {
        let Some(page) = self.read(false).await? else {
            return Ok(None);
        };
        if let Some(bad) = page.bad.first() {
            return Err(decode_error(
                self.operation,
                &format!("{}: {}: {}", bad.position, bad.label(), bad.reason),
            ));
        }
        let path = self.url.as_ref().map_or("", |u| u.path());
        for note in &page.notes {
            tracing::warn!(
                api = "zephyr",
                operation = self.operation,
                path,
                id = note.id,
                key = note.key.as_deref(),
                "source text degraded: {}",
                note.note
            );
        }
        Ok(Some(page.items))
    }

    /// The next page, lenient: items that do not decode come back as [`BadItem`]s instead of
    /// failing the page; an offset page that is not JSON at all is narrowed to isolate the
    /// unreadable position. `None` once the list is exhausted. On error (transient, auth, a
    /// cursor page that is not JSON) the position is unchanged: call again to retry.
    pub async fn next_items(&mut self) -> Result<Option<PageItems<T>>, ApiError> {
        self.read(true).await
    }

    async fn read(&mut self, lenient: bool) -> Result<Option<PageItems<T>>, ApiError> {
        let url = match &mut self.url {
            Ok(url) => url.clone(),
            Err(e) => {
                let e = e.take();
                self.finish();
                return e.map_or(Ok(None), Err);
            }
        };
        let full = u64::from(self.client.page_size());
        loop {
            let out = match self.position {
                Position::Offset(None) | Position::Cursor(None) => return Ok(None),
                Position::Offset(Some(start)) => {
                    let size = self.narrow.map_or(full, |n| n.size);
                    let fetched = self
                        .fetch::<Page<Value>>(&url, "startAt", start, "maxResults", size)
                        .await;
                    let Decoded { value, surrogates } = match fetched {
                        Ok(d) => d,
                        Err(e) if lenient && is_decode(&e) => {
                            if let Some(bad) = self.narrow_on(start, size, full, &e)? {
                                return Ok(Some(PageItems {
                                    bad: vec![bad],
                                    ..PageItems::default()
                                }));
                            }
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    let page = value;
                    let n = page.values.len() as u64;
                    let last = match page.is_last {
                        Some(is_last) => is_last,
                        None => page.next.is_none(),
                    };
                    let next = (!last && n > 0).then_some(start + n);
                    if let Some(narrow) = &mut self.narrow {
                        if next.is_none_or(|p| p >= narrow.until) {
                            self.narrow = None;
                        } else {
                            narrow.size = (narrow.size * 2).min(full);
                        }
                    }
                    self.position = Position::Offset(next);
                    let op = self.operation;
                    self.take(page.values, surrogates, |i| {
                        format!("{op} item at startAt={}", start + i as u64)
                    })
                }
                Position::Cursor(Some(start)) => {
                    let fetched = self
                        .fetch::<CursorPage<Value>>(&url, "startAtId", start, "limit", full)
                        .await;
                    let Decoded { value, surrogates } = match fetched {
                        Ok(d) => d,
                        Err(e) if lenient && is_decode(&e) && !self.decode_retried => {
                            self.decode_retried = true;
                            continue;
                        }
                        Err(ApiError::Decode { message, .. }) if lenient => {
                            self.decode_retried = false;
                            return Err(decode_error(
                                self.operation,
                                &format!(
                                    "the page at startAtId={start} cannot be read (an item of a \
                                     cursor list cannot be skipped): {message}"
                                ),
                            ));
                        }
                        Err(e) => {
                            self.decode_retried = false;
                            return Err(e);
                        }
                    };
                    let page = value;
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
                    self.position = Position::Cursor(page.next_start_at_id);
                    let op = self.operation;
                    self.take(page.values, surrogates, |i| {
                        format!("{op} item {i} of the page at startAtId={start}")
                    })
                }
            };
            self.decode_retried = false;
            if !(out.items.is_empty() && out.bad.is_empty() && out.repeated.is_empty()) {
                return Ok(Some(out));
            }
            // An empty page ends an offset list; a cursor list ends only on a null cursor.
            if let Position::Offset(_) = self.position {
                self.finish();
            }
        }
    }

    /// An offset page failed to decode: retry it once, then halve the page until the bad
    /// position is alone; returns that position as a bad item once isolated.
    fn narrow_on(
        &mut self,
        start: u64,
        size: u64,
        full: u64,
        e: &ApiError,
    ) -> Result<Option<BadItem>, ApiError> {
        if self.narrow.is_none() && size > 1 && !self.decode_retried {
            self.decode_retried = true;
            tracing::warn!(api = "zephyr", operation = self.operation, start, size, error = %e, "page did not decode; fetching it again");
            return Ok(None);
        }
        self.decode_retried = false;
        if size > 1 {
            let until = self.narrow.map_or(start + size.min(full), |n| n.until);
            tracing::warn!(
                api = "zephyr",
                operation = self.operation,
                start,
                size,
                "page still does not decode; narrowing it to isolate the bad item"
            );
            self.narrow = Some(Narrow {
                size: (size / 2).max(1),
                until,
            });
            return Ok(None);
        }
        self.consecutive_bad += 1;
        if self.consecutive_bad > MAX_CONSECUTIVE_BAD {
            return Err(decode_error(
                self.operation,
                &format!(
                    "{MAX_CONSECUTIVE_BAD} consecutive items up to startAt={start} cannot be read; \
                     giving up on the list: {e}"
                ),
            ));
        }
        let next = start + 1;
        if self.narrow.is_some_and(|n| next >= n.until) {
            self.narrow = None;
        }
        self.position = Position::Offset(Some(next));
        let reason = match e {
            ApiError::Decode { message, .. } => message.clone(),
            other => other.to_string(),
        };
        Ok(Some(BadItem {
            id: None,
            key: None,
            folder_type: None,
            position: format!("{} item at startAt={start}", self.operation),
            reason: format!(
                "the response is not valid JSON even when asked for this item alone: {reason}"
            ),
        }))
    }

    /// Decodes each value on its own, dropping repeats and stripping NULs.
    fn take(
        &mut self,
        values: Vec<Value>,
        surrogates: usize,
        position: impl Fn(usize) -> String,
    ) -> PageItems<T> {
        let mut out = PageItems::default();
        for (i, mut value) in values.into_iter().enumerate() {
            let id = value.get("id").and_then(Value::as_i64);
            if let Some(id) = id
                && !self.recent.insert(id)
            {
                out.repeated.push(id);
                continue;
            }
            let nuls = strip_nul(&mut value);
            let text = |field: &str| {
                value
                    .get(field)
                    .and_then(Value::as_str)
                    .map(|s| excerpt(s, 120))
            };
            let key = text("key").or_else(|| text("name"));
            match T::deserialize(&value) {
                Ok(item) => {
                    self.consecutive_bad = 0;
                    if nuls > 0 {
                        out.notes.push(ItemNote {
                            id,
                            key: key.clone(),
                            note: format!("{nuls} NUL character(s) removed from its text"),
                        });
                    }
                    if surrogates > 0 && has_replacement_char(&value) {
                        out.notes.push(ItemNote {
                            id,
                            key: key.clone(),
                            note: "unpaired UTF-16 surrogate escape(s) replaced by U+FFFD"
                                .to_string(),
                        });
                    }
                    out.items.push(item);
                }
                Err(e) => {
                    let what = match &value {
                        Value::Object(_) => String::new(),
                        Value::Null => "null: ".to_string(),
                        Value::Array(_) => "an array, not an object: ".to_string(),
                        _ => "not an object: ".to_string(),
                    };
                    out.bad.push(BadItem {
                        id,
                        folder_type: text("folderType"),
                        key,
                        position: position(i),
                        reason: format!("{what}{}", excerpt(&e.to_string(), EXCERPT_CHARS)),
                    });
                }
            }
        }
        out
    }

    async fn fetch<P: DeserializeOwned>(
        &mut self,
        url: &Url,
        position_param: &str,
        position: impl ToString,
        size_param: &str,
        size: u64,
    ) -> Result<Decoded<P>, ApiError> {
        let mut url = url.clone();
        url.query_pairs_mut()
            .append_pair(position_param, &position.to_string())
            .append_pair(size_param, &size.to_string());
        tracing::debug!(api = "zephyr", operation = self.operation, %url, "fetching page");
        let request = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json");
        let response = send(Api::Zephyr, self.operation, request).await?;
        let bytes = decode::read_body(self.operation, response).await?;
        let page = decode_body(self.operation, &bytes)?;
        self.pages += 1;
        Ok(page)
    }

    /// Reads every remaining page (strict).
    pub async fn collect_all(mut self) -> Result<Vec<T>, ApiError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }
}
