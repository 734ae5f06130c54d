//! [`PgTempError`]: why a throwaway cluster could not be created, started, restarted or stopped.
//! Every message carries what an operator needs to act: the missing install, or the failing
//! command with its output and the tail of the server log.

/// A failure to set up, restart or tear down a [`crate::TempPostgres`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgTempError {
    /// No PostgreSQL server binaries (`initdb`, `pg_ctl`, `postgres`) were found.
    #[error("{0}")]
    NotInstalled(String),
    /// An external command (`initdb`, `pg_ctl`, `createdb`, `chown`) failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line, for the operator to re-run.
        command: String,
        /// Exit status, its stderr/stdout and, where relevant, the tail of the server log.
        detail: String,
    },
    /// A file-system operation (temp dir, config, log) failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl PgTempError {
    /// Wraps an I/O error with what was being done.
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        PgTempError::Io {
            context: context.into(),
            source,
        }
    }
}
