//! ztoq's Postgres state: runs, the canonical source snapshot, records with their dependency
//! edges, and the queue jobs that make ready records run.
//!
//! Only this crate writes SQL. Functions that must commit together take a
//! `&mut PgConnection` (pass `&mut *tx`), so callers see the transaction boundary in the
//! signature: "store the qTest id, mark done, release dependents, push their jobs" is one unit
//! ([`records::mark_done_and_release`]).
//!
//! The queue is apalis-postgres's `apalis.jobs` table; ztoq pushes into it with its own SQL
//! (`INSERT … ON CONFLICT DO NOTHING` on the idempotency key) so that a job is created in the
//! same transaction as the state change that makes its record ready.
#![warn(missing_docs)]

pub mod jobs;
pub mod lease;
pub mod ratelimit;
pub mod records;
pub mod report;
pub mod rollback;
pub mod runs;
pub mod snapshot;
pub mod stats;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};
use std::str::FromStr;
use std::time::Duration;

pub use sqlx::{PgConnection, Postgres, Transaction};

/// ztoq's own migrations (`migrations/` at the repository root).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Opens a pool. Statement logging is at debug level; the URL's password never reaches a log.
pub async fn connect(database_url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    let options = PgConnectOptions::from_str(database_url)?
        .log_statements(log::LevelFilter::Trace)
        .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(2));
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await
}

/// Brings a database up to date: apalis-postgres's schema first, then ztoq's (which replaces
/// apalis's claim function, so the order matters). Safe to run from several processes: the
/// migrators take an advisory lock.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::Error> {
    apalis_postgres::PostgresStorage::<()>::setup(pool)
        .await
        .map_err(|e| sqlx::Error::Protocol(format!("apalis-postgres migrations: {e}")))?;
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// Whether an error is worth retrying the same transaction for (deadlock, serialization
/// failure, lost connection, a server shutting down or starting up).
pub fn is_retryable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 40P01 deadlock, 40001 serialization failure, 57P01-57P03 administrator or crash
            // shutdown and "cannot connect now", class 08 connection exceptions.
            matches!(
                code.as_ref(),
                "40P01" | "40001" | "57P01" | "57P02" | "57P03"
            ) || code.starts_with("08")
        }),
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        _ => false,
    }
}
