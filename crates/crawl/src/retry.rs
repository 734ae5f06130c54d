//! Retrying Zephyr and qTest requests that fail transiently: the crawl's policy
//! ([`CRAWL_RETRY`]), [`retrying`] for one call (ztoq-http's loop), and [`next_items`] for the
//! next page of a list.

use crate::error::EnqueueError;
use serde::de::DeserializeOwned;
use ztoq_http::{CALL_RETRY, RetryPolicy};
pub(crate) use ztoq_http::{backoff, retrying};
use ztoq_zephyr::{PageItems, Pager};

/// The crawl's retries of a request that failed transiently: ztoq-http's [`CALL_RETRY`] (8
/// attempts, backoff from 250 ms to 30 s with full jitter, `Retry-After` honoured).
pub const CRAWL_RETRY: RetryPolicy = CALL_RETRY;

/// The next page of a list (lenient: bad items come back as such), retried on transient
/// failures (the pager keeps its position, so the same page is asked again).
pub(crate) async fn next_items<T: DeserializeOwned>(
    pager: &mut Pager<T>,
    retry: &RetryPolicy,
) -> Result<Option<PageItems<T>>, EnqueueError> {
    let mut failures = 0;
    loop {
        match pager.next_items().await {
            Ok(page) => return Ok(page),
            Err(e) => {
                failures = backoff(retry, pager.operation(), failures, e)
                    .await
                    .map_err(EnqueueError::zephyr)?;
            }
        }
    }
}
