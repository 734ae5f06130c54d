//! The per-record work lock: at most one live worker works on a record at a time.
//!
//! apalis's liveness is per worker (heartbeats), not per job: a worker that misses its
//! heartbeats while still running (a stalled Postgres, a long pause) has its jobs handed to
//! another, and a job re-run after an orphan rescue may meet the retry job of the same record.
//! Two live attempts on one record would race to create the same qTest item. The handler
//! therefore holds a transaction-scoped advisory lock on the record for the whole attempt:
//! it is released when that transaction ends (commit, rollback, or the connection dying with
//! its process), so a crashed worker never leaves a record locked.
//!
//! The lock uses Postgres's two-`int4` advisory lock space, keyed by the record id's high and
//! low halves: distinct for every record, and separate from single-`bigint` advisory locks.

use sqlx::PgConnection;

/// Tries to take the work lock of `record_id` for the current transaction of `conn`. Returns
/// false when another session holds it (another attempt at the same record is in flight).
pub async fn try_lock_record(conn: &mut PgConnection, record_id: i64) -> Result<bool, sqlx::Error> {
    let (high, low) = lock_key(record_id);
    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1, $2)")
        .bind(high)
        .bind(low)
        .fetch_one(conn)
        .await
}

/// The two `int4` halves of a record id (bit patterns preserved, so every id has its own key).
fn lock_key(record_id: i64) -> (i32, i32) {
    ((record_id >> 32) as i32, record_id as i32)
}

#[cfg(test)]
mod tests {
    use super::lock_key;

    #[test]
    fn keys_are_distinct_halves() {
        assert_eq!(lock_key(1), (0, 1));
        assert_eq!(lock_key((1 << 32) + 1), (1, 1));
        assert_ne!(lock_key(u32::MAX as i64), lock_key(-1));
    }
}
