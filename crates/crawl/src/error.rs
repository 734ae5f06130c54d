//! [`EnqueueError`]: why an enqueue stopped.

use ztoq_http::{ApiError, ErrorClass};

/// Why an enqueue stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnqueueError {
    /// An API refused the credentials.
    #[error("{api} refused the credentials: {source}")]
    Auth {
        /// `Zephyr` or `qTest`.
        api: &'static str,
        /// The refusal.
        source: ApiError,
    },
    /// An API call failed.
    #[error("{api}: {source}")]
    Api {
        /// `Zephyr` or `qTest`.
        api: &'static str,
        /// The failure.
        source: ApiError,
    },
    /// The target cannot take this source as it is.
    #[error("preflight: {0}")]
    Preflight(String),
    /// The task reading a list ahead failed (a bug: reading is lenient).
    #[error("reading the Zephyr lists: {0}")]
    Reader(String),
    /// Postgres failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

impl EnqueueError {
    fn api(api: &'static str, source: ApiError) -> Self {
        if source.class() == ErrorClass::Auth {
            EnqueueError::Auth { api, source }
        } else {
            EnqueueError::Api { api, source }
        }
    }
    pub(crate) fn zephyr(source: ApiError) -> Self {
        Self::api("Zephyr", source)
    }
    pub(crate) fn qtest(source: ApiError) -> Self {
        Self::api("qTest", source)
    }
}
