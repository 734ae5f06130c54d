//! What ztoq's two API clients (Zephyr and qTest) have in common: one error type that says what
//! a retry policy needs to know, the retry policy itself (backoff with full jitter, shared by
//! the worker and the crawl), `Retry-After` parsing, a secret wrapper that never prints its
//! value, the shared reqwest client set-up, the per-request metrics, and pacing to a rate shared
//! across processes ([`pace`]).
//!
//! Invariant: an [`ApiError`] is classified once, here, from the HTTP outcome; callers decide
//! what to do from [`ErrorClass`] alone.
#![warn(missing_docs)]

mod error;
pub mod pace;
mod retry;
mod secret;
mod send;

pub use error::{ApiError, ErrorClass, classify_status, parse_retry_after};
pub use retry::{CALL_RETRY, RetryPolicy, backoff, retrying};
pub use secret::{Secret, credential_variables};
pub use send::{Api, ClientOptions, build_client, error_chain, read_json, send};
