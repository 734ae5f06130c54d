//! [`RetryPolicy`]: bounded attempts with exponential backoff and full jitter, honouring
//! `Retry-After`. The policy is pure (apart from the jitter's randomness): the worker uses it
//! to schedule a record's next job. [`retrying`] and [`backoff`] are the in-process loop around
//! one idempotent call (the crawl's page reads, the preflight, the verifier's qTest reads).

use crate::{ApiError, ErrorClass};
use std::time::Duration;
use tracing::warn;

/// When and how often a failed operation is tried again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all (the first included) before giving up.
    pub max_attempts: u32,
    /// The backoff's first step.
    pub base: Duration,
    /// The backoff's cap.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base: Duration::from_millis(500),
            max: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Whether an operation that has failed `failures` times (this one included) may try
    /// again.
    pub fn allows_another(&self, failures: u32) -> bool {
        failures < self.max_attempts
    }

    /// The wait before the attempt after `failures` failures: uniform in
    /// `[0, min(max, base·2^(failures-1))]` (full jitter), and at least the server's
    /// `Retry-After` when it sent a non-zero one.
    pub fn delay(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        let ceiling = self.base.saturating_mul(1u32 << exp).min(self.max);
        let jitter = ceiling.mul_f64(rand::random_range(0.0..=1.0));
        match retry_after {
            Some(after) if !after.is_zero() => after.min(self.max * 10) + jitter.min(self.base),
            _ => jitter,
        }
    }
}

/// Retries of one call that failed transiently, in process (timeouts, resets, 5xx, 429): 8
/// attempts in all, backoff from 250 ms to 30 s with full jitter, `Retry-After` honoured. The
/// enqueue's requests and the verifier's qTest reads use it.
pub const CALL_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 8,
    base: Duration::from_millis(250),
    max: Duration::from_secs(30),
};

/// Runs `call` until it succeeds, fails for good (not [`ErrorClass::Transient`]), or
/// `retry` allows no more attempts; waits [`RetryPolicy::delay`] between attempts. Only for
/// calls that may be repeated (reads; writes that are adopted when already applied).
pub async fn retrying<T, F, Fut>(
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

/// After a failure of `operation` (which had failed `failures` times before): when another
/// attempt is due, logs it, waits, and returns the new failure count; else gives the error
/// back.
pub async fn backoff(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let p = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        for _ in 0..200 {
            assert!(p.delay(1, None) <= Duration::from_millis(100));
            assert!(p.delay(3, None) <= Duration::from_millis(400));
            assert!(p.delay(20, None) <= Duration::from_secs(1));
        }
        let samples: Vec<Duration> = (0..50).map(|_| p.delay(4, None)).collect();
        assert!(
            samples.iter().any(|d| *d != samples[0]),
            "full jitter varies the delay"
        );
    }

    #[test]
    fn honours_retry_after() {
        let p = RetryPolicy::default();
        let d = p.delay(1, Some(Duration::from_secs(7)));
        assert!(d >= Duration::from_secs(7) && d <= Duration::from_secs(7) + p.base);
        assert!(
            p.delay(1, Some(Duration::ZERO)) <= p.base,
            "Retry-After: 0 falls back to backoff"
        );
    }

    #[test]
    fn attempts_are_bounded() {
        let p = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        assert!(p.allows_another(2));
        assert!(!p.allows_another(3));
    }
}
