//! Pure functions from Zephyr Scale items to qTest Manager request bodies.
//!
//! Invariant: no I/O, no clock, no randomness. The worker calls these to build what it writes,
//! and `ztoq verify` calls the same functions to know what qTest must hold, so the two can
//! never disagree about the mapping. Field-by-field mapping notes live in `docs/mapping.md`.
//!
//! What is not mapped yet is degraded, never dropped silently: a call-to-test step becomes a
//! text step naming the called case.
#![warn(missing_docs)]

mod execution;
mod structure;
mod test_case;

pub use execution::{LogContext, exe_dates, execution_marker, test_log, test_run};
pub use structure::{cycle_folder, module, test_cycle};
pub use test_case::{TestCaseContext, TestCaseOut, test_case, test_step};

/// Why an item cannot be transformed (a permanent error: the source must change).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransformError {
    /// A required value is missing or empty.
    #[error("{0} is missing or empty")]
    Missing(&'static str),
    /// A value has no mapping in the target.
    #[error("{what} {value} has no qTest mapping")]
    Unmapped {
        /// What kind of value.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// A value cannot be parsed.
    #[error("{what} {value:?} is invalid: {reason}")]
    Invalid {
        /// What kind of value.
        what: &'static str,
        /// The value.
        value: String,
        /// Why.
        reason: String,
    },
}

/// Text with NUL characters removed (Postgres text and many HTTP stacks refuse them) and
/// surrounding white space trimmed.
pub fn clean(text: &str) -> String {
    text.replace('\u{0}', "").trim().to_string()
}

/// `Some(cleaned)` when the text has content.
pub fn non_empty(text: Option<&str>) -> Option<String> {
    text.map(clean).filter(|t| !t.is_empty())
}
