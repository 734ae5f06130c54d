//! [`Prefetch`]: a list read ahead by a task of its own, so that Zephyr's next page is
//! requested and decoded while the current one is written to Postgres (before, the crawl
//! waited for each in turn). At most two pages are held besides the one being written: the
//! channel holds one, the task the next; memory stays flat.

use crate::error::EnqueueError;
use crate::retry::next_items;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use ztoq_http::RetryPolicy;
use ztoq_zephyr::{PageItems, Pager};

/// The pages of one list, read ahead.
pub(crate) struct Prefetch<T> {
    /// Pages, then `Ok(None)` at the end of the list (or an error, which ends it too).
    pages: mpsc::Receiver<Result<Option<PageItems<T>>, EnqueueError>>,
    task: JoinHandle<()>,
    ended: bool,
}

impl<T: DeserializeOwned + Send + 'static> Prefetch<T> {
    /// Starts reading `pager`'s pages (each retried per `retry`, as [`next_items`] does).
    pub(crate) fn start(mut pager: Pager<T>, retry: RetryPolicy) -> Self {
        let (tx, pages) = mpsc::channel(1);
        let task = tokio::spawn(async move {
            loop {
                let page = next_items(&mut pager, &retry).await;
                let last = !matches!(page, Ok(Some(_)));
                if tx.send(page).await.is_err() || last {
                    break;
                }
            }
        });
        Prefetch {
            pages,
            task,
            ended: false,
        }
    }

    /// The next page, `None` once the list is exhausted; an error ends the list.
    pub(crate) async fn next(&mut self) -> Result<Option<PageItems<T>>, EnqueueError> {
        if self.ended {
            return Ok(None);
        }
        match self.pages.recv().await {
            Some(Ok(Some(page))) => Ok(Some(page)),
            Some(other) => {
                self.ended = true;
                other
            }
            // The task ended without saying the list was over: it panicked.
            None => {
                self.ended = true;
                let why = match (&mut self.task).await {
                    Err(e) => e.to_string(),
                    Ok(()) => "it stopped early".to_string(),
                };
                Err(EnqueueError::Reader(why))
            }
        }
    }
}

impl<T> Drop for Prefetch<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}
