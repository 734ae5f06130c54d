//! Reading ahead, so that Postgres, the qTest reads and the comparison use the cores at the
//! same time instead of taking turns:
//!
//! - [`Pages`]: a task of its own reads the done records of one kind a page at a time, and
//!   tasks of their own read their parents and their source items (the kind's loader),
//!   [`LOADS`] pages at a time, up to [`AHEAD`] pages before the comparison asks for them;
//! - [`drive`]: while one page is compared, the qTest reads of the next one are in flight;
//! - [`fetch_each`]: each qTest read is a task of its own (its answer is decoded on whichever
//!   core is free), at most [`FETCHES`] at once, retried on transient failures.
//!
//! Invariant: nothing is lost on the way: a reader that fails hands its error on, one that
//! panics makes the comparison panic too, and a task whose result is no longer wanted is
//! aborted, not left running.

use super::{Ctx, Done};
use crate::VerifyError;
use futures::{StreamExt, TryStreamExt};
use sqlx::PgPool;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use ztoq_http::{Api, ApiError, CALL_RETRY, RetryPolicy};
use ztoq_model::RecordKind;
use ztoq_store::records::{self, Record};

/// Retries of a qTest read that failed transiently: ztoq-http's [`CALL_RETRY`] (8 attempts,
/// backoff from 250 ms to 30 s with full jitter, `Retry-After` honoured), as the enqueue's.
pub(crate) const READ_RETRY: RetryPolicy = CALL_RETRY;
/// qTest reads in flight at once (paced by the shared rate limit when one is set).
pub(super) const FETCHES: usize = 16;
/// Done records compared per page.
pub(super) const PAGE: i64 = 1000;
/// Pages read from Postgres before the comparison asks for them.
const AHEAD: usize = 2;
/// Pages whose parents and sources are read at the same time.
const LOADS: usize = 2;

/// A spawned task, aborted when dropped before it finished.
pub(super) struct Task<T>(Option<JoinHandle<T>>);

impl<T: Send + 'static> Task<T> {
    pub(super) fn spawn(future: impl Future<Output = T> + Send + 'static) -> Self {
        Task(Some(tokio::spawn(future)))
    }

    /// Its output; `None` if it was cancelled (the runtime is shutting down). A panic in the
    /// task is resumed here.
    pub(super) async fn join(&mut self) -> Option<T> {
        let handle = self.0.as_mut()?;
        let result = handle.await;
        self.0 = None;
        match result {
            Ok(value) => Some(value),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => None,
        }
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
            handle.abort();
        }
    }
}

fn cancelled(operation: &'static str) -> ApiError {
    ApiError::Transport {
        api: Api::Qtest.as_str(),
        operation,
        message: "the read was cancelled".to_string(),
        maybe_applied: false,
    }
}

/// Reads `fetch(&key)` for every key, each as a task of its own, up to [`FETCHES`] at once,
/// each retried on transient failures ([`READ_RETRY`]); the first error that stays wins (the
/// reads still in flight are aborted).
pub(super) async fn fetch_each<K, V, F, Fut>(
    keys: impl IntoIterator<Item = K>,
    fetch: F,
) -> Result<Vec<(K, V)>, ApiError>
where
    V: Send + 'static,
    F: Fn(&K) -> Fut,
    Fut: Future<Output = Result<V, ApiError>> + Send + 'static,
{
    let fetch = &fetch;
    futures::stream::iter(keys)
        .map(|key| async move {
            let mut failures = 0;
            loop {
                let mut task = Task::spawn(fetch(&key));
                match task.join().await.ok_or_else(|| cancelled("verify read"))? {
                    Ok(value) => return Ok((key, value)),
                    Err(e) => {
                        failures =
                            ztoq_http::backoff(&READ_RETRY, "verify read", failures, e).await?
                    }
                }
            }
        })
        .buffer_unordered(FETCHES)
        .try_collect()
        .await
}

/// A page of done records (with their parents) and what the kind's loader read for them.
pub(super) struct Page<S> {
    pub done: Vec<Done>,
    pub source: S,
}

/// The pages of done records of one kind, read ahead by a task of its own.
pub(super) struct Pages<S> {
    rx: mpsc::Receiver<Result<Page<S>, sqlx::Error>>,
    reader: Task<()>,
}

impl<S: Send + 'static> Pages<S> {
    /// Starts reading the done records of `kind`; `load(pool, run_id, source_ids)` reads the
    /// source items of each page (at the same time as the page's parents, and as the next
    /// page's records).
    pub(super) fn start<L, F>(pool: &PgPool, run_id: i64, kind: RecordKind, load: L) -> Self
    where
        L: Fn(PgPool, i64, Vec<i64>) -> F + Send + Sync + 'static,
        F: Future<Output = Result<S, sqlx::Error>> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(AHEAD);
        let pool = pool.clone();
        let load = Arc::new(load);
        let reader = Task::spawn(async move {
            let mut after = 0;
            let mut loading: VecDeque<Task<Result<Page<S>, sqlx::Error>>> = VecDeque::new();
            let mut more = true;
            loop {
                while more && loading.len() < LOADS {
                    match next_records(&pool, run_id, kind, &mut after).await {
                        Ok(Some(done)) => loading.push_back(Task::spawn(load_page(
                            pool.clone(),
                            run_id,
                            done,
                            load.clone(),
                        ))),
                        Ok(None) => more = false,
                        Err(e) => {
                            let _ = tx.send(Err(e)).await;
                            return;
                        }
                    }
                }
                let Some(mut front) = loading.pop_front() else {
                    return;
                };
                let page = front.join().await.unwrap_or_else(|| {
                    Err(sqlx::Error::Protocol("a page read was cancelled".into()))
                });
                let failed = page.is_err();
                if tx.send(page).await.is_err() || failed {
                    return;
                }
            }
        });
        Pages { rx, reader }
    }

    /// Pages handed over by `source` (a stand-in for the reader, for tests).
    #[cfg(test)]
    pub(super) fn from_reader(
        source: impl Future<Output = Vec<Result<Page<S>, sqlx::Error>>> + Send + 'static,
    ) -> Self {
        let (tx, rx) = mpsc::channel(AHEAD);
        let reader = Task::spawn(async move {
            for page in source.await {
                if tx.send(page).await.is_err() {
                    return;
                }
            }
        });
        Pages { rx, reader }
    }

    /// The next page; `None` after the last.
    pub(super) async fn next(&mut self) -> Result<Option<Page<S>>, sqlx::Error> {
        match self.rx.recv().await {
            Some(page) => page.map(Some),
            None => {
                // The reader has finished (or panicked: `join` resumes the panic).
                self.reader.join().await;
                Ok(None)
            }
        }
    }
}

/// The done records of `kind` after record id `*after` (moved past them); `None` after the
/// last.
async fn next_records(
    pool: &PgPool,
    run_id: i64,
    kind: RecordKind,
    after: &mut i64,
) -> Result<Option<Vec<Record>>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let page = records::done_page(&mut conn, run_id, kind, *after, PAGE).await?;
    let Some(last) = page.last() else {
        return Ok(None);
    };
    *after = last.id;
    Ok(Some(page))
}

/// A page of records with their parents and sources.
async fn load_page<S, L, F>(
    pool: PgPool,
    run_id: i64,
    page: Vec<Record>,
    load: Arc<L>,
) -> Result<Page<S>, sqlx::Error>
where
    L: Fn(PgPool, i64, Vec<i64>) -> F,
    F: Future<Output = Result<S, sqlx::Error>>,
{
    let ids: Vec<i64> = page.iter().map(|r| r.id).collect();
    let source_ids: Vec<i64> = page.iter().map(|r| r.source_id).collect();
    let parents = async {
        let mut conn = pool.acquire().await?;
        records::parents_of(&mut conn, &ids).await
    };
    let (mut parents, source) = tokio::try_join!(parents, load(pool.clone(), run_id, source_ids))?;
    let done = page
        .into_iter()
        .map(|r| {
            let p = parents.remove(&r.id).unwrap_or_default();
            (r, p)
        })
        .collect();
    Ok(Page { done, source })
}

/// One kind's comparison, page by page.
pub(super) trait Check {
    /// What the loader reads from the snapshot for a page.
    type Source: Send + 'static;
    /// What a page's qTest reads return.
    type Reads: Send + 'static;

    /// The qTest reads `page` needs that were not done yet (it may not depend on reads still
    /// in flight: [`drive`] merges a page's reads before it starts the next page's).
    fn reads(
        &self,
        page: &Page<Self::Source>,
    ) -> impl Future<Output = Result<Self::Reads, ApiError>> + Send + 'static;

    /// Keeps what a page's reads returned.
    fn merge(&mut self, reads: Self::Reads);

    /// Compares every record of `page` (its reads merged).
    fn compare(&mut self, cx: &mut Ctx<'_>, page: Page<Self::Source>);
}

/// A page whose qTest reads are in flight.
type Pending<C> = (
    Page<<C as Check>::Source>,
    Task<Result<<C as Check>::Reads, ApiError>>,
);

/// Runs `check` over every page: page N is compared while the qTest reads of page N + 1 are in
/// flight and page N + 2 is read from Postgres.
pub(super) async fn drive<C: Check>(
    cx: &mut Ctx<'_>,
    pages: &mut Pages<C::Source>,
    check: &mut C,
) -> Result<(), VerifyError> {
    let mut pending: Option<Pending<C>> = None;
    loop {
        let next = pages.next().await?;
        let ready = match pending.take() {
            Some((page, mut reads)) => {
                let reads = reads
                    .join()
                    .await
                    .ok_or_else(|| cancelled("verify read"))??;
                check.merge(reads);
                Some(page)
            }
            None => None,
        };
        if let Some(page) = next {
            let reads = Task::spawn(check.reads(&page));
            pending = Some((page, reads));
        }
        match ready {
            Some(page) => check.compare(cx, page),
            None if pending.is_none() => return Ok(()),
            None => {}
        }
    }
}

#[cfg(test)]
#[path = "pages_tests.rs"]
mod tests;
