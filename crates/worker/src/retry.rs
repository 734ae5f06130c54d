//! [`RetryPolicy`]: exponential backoff with full jitter, honouring `Retry-After` (defined in
//! `ztoq-http`, which the crawl shares; re-exported here, where the worker applies it).
//!
//! apalis-postgres retries a failed job at once and ignores any requested delay, so ztoq owns
//! the policy: a transient failure is recorded and a new job is pushed with its `run_at`
//! moved by [`RetryPolicy::delay`].

pub use ztoq_http::RetryPolicy;
