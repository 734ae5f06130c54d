//! [`Failure`]: why migrating a record did not succeed, classified for the retry policy.

use ztoq_http::{ApiError, ErrorClass};
use ztoq_transform::TransformError;

/// A failed attempt at one record.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// An API call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The source item cannot be mapped.
    #[error("cannot transform: {0}")]
    Transform(#[from] TransformError),
    /// The source is inconsistent (a dependency's data is missing, …).
    #[error("{0}")]
    Source(String),
    /// Postgres failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

impl Failure {
    /// How to treat it.
    pub fn class(&self) -> ErrorClass {
        match self {
            Failure::Api(e) => e.class(),
            Failure::Transform(_) | Failure::Source(_) => ErrorClass::Permanent,
            Failure::Db(_) => ErrorClass::Transient,
        }
    }

    /// `Retry-After` from the server, if any.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            Failure::Api(e) => e.retry_after(),
            _ => None,
        }
    }

    /// A short label for metrics.
    pub fn reason_label(&self) -> &'static str {
        match self {
            Failure::Api(e) => match e.status() {
                Some(429) => "rate_limited",
                Some(s) if s >= 500 => "server_error",
                Some(_) => "client_error",
                None => "transport",
            },
            Failure::Transform(_) => "transform",
            Failure::Source(_) => "source",
            Failure::Db(_) => "database",
        }
    }
}

/// A source-consistency failure.
pub fn source(msg: impl Into<String>) -> Failure {
    Failure::Source(msg.into())
}
