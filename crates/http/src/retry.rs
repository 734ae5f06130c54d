//! [`RetryPolicy`]: bounded attempts with exponential backoff and full jitter, honouring
//! `Retry-After`. Pure (apart from the jitter's randomness): the worker uses it to schedule a
//! record's next job, the crawl to wait before fetching a list page again.

use std::time::Duration;

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
