//! Retrying Zephyr and qTest requests that fail transiently: the crawl's policy
//! ([`CRAWL_RETRY`]), [`retrying`] for one call, and [`next_items`] for the next page of a
//! list.

use crate::error::EnqueueError;
use serde::de::DeserializeOwned;
use std::time::Duration;
use tracing::warn;
use ztoq_http::{ApiError, ErrorClass, RetryPolicy};
use ztoq_zephyr::{PageItems, Pager};

/// The crawl's retries of a request that failed transiently (timeouts, resets, 5xx, 429):
/// 8 attempts in all, backoff from 250 ms to 30 s with full jitter, `Retry-After` honoured.
pub const CRAWL_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 8,
    base: Duration::from_millis(250),
    max: Duration::from_secs(30),
};

/// Runs `call` until it succeeds, fails for good, or `retry` allows no more attempts.
pub(crate) async fn retrying<T, F, Fut>(
    retry: &RetryPolicy,
    operation: &str,
    mut call: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let mut failures = 0;
    loop {
        match call().await {
            Err(e) => failures = backoff(retry, operation, failures, e).await?,
            Ok(v) => return Ok(v),
        }
    }
}

/// After a failure: waits and returns the new failure count when another attempt is due,
/// else gives the error back.
async fn backoff(
    retry: &RetryPolicy,
    operation: &str,
    failures: u32,
    e: ApiError,
) -> Result<u32, ApiError> {
    let failures = failures + 1;
    if e.class() != ErrorClass::Transient || !retry.allows_another(failures) {
        return Err(e);
    }
    let delay = retry.delay(failures, e.retry_after());
    warn!(
        operation,
        attempt = failures,
        delay_ms = delay.as_millis() as u64,
        error = %e,
        "transient failure; retrying"
    );
    tokio::time::sleep(delay).await;
    Ok(failures)
}

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
