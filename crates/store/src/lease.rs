//! The per-record work lock: at most one live attempt works on a record's job generation at a
//! time.
//!
//! apalis's liveness is per worker (heartbeats), not per job: a worker that misses its
//! heartbeats while still running (a stalled Postgres, a long pause) has its jobs handed to
//! another. Two live attempts on one record would race to create the same qTest item. A worker
//! therefore holds an advisory lock on `(record, job generation)` for the whole attempt, taken
//! before the record is read (so the read sees the outcome of any attempt that held the lock
//! before) and released after the outcome commits.
//!
//! The locks are session-level and taken in batches on one connection per worker process (the
//! worker's lock connection): a killed worker's connection dies with it and its locks go too,
//! and holding them costs no transaction per record. Session locks are re-entrant for their
//! session, so the caller must not lock a key it already holds (the worker keeps the set of
//! keys it holds). Keying by generation matters: the commit that finishes an attempt may push
//! the record's next job (a retry) before the lock is released, and that job, of the next
//! generation, must not meet the finished attempt's lock.
//!
//! Keys live in Postgres's two-`int4` advisory space (separate from single-`bigint` locks such
//! as sqlx's migration lock): the low 32 bits of the record id, and the generation's low 20
//! bits mixed with the id's high bits. Two in-flight keys could only collide for record ids
//! more than 2^32 apart or generations 2^20 apart; a collision would only make one attempt wait
//! for the other.

use sqlx::PgConnection;

/// A lock key: a record and the job generation being worked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WorkKey {
    /// Record id.
    pub record_id: i64,
    /// Job generation (`records.job_seq` the job was pushed for).
    pub job_seq: i32,
}

impl WorkKey {
    /// The two `int4` halves of the advisory lock key.
    fn halves(self) -> (i32, i32) {
        let low = self.record_id as i32;
        let high = ((self.record_id >> 32) as i32).wrapping_shl(20);
        (low, high ^ (self.job_seq & 0xF_FFFF))
    }
}

fn split(keys: &[WorkKey]) -> (Vec<i32>, Vec<i32>) {
    keys.iter().map(|k| k.halves()).unzip()
}

/// Tries to take the work lock of each key for the session of `conn`, in one statement.
/// Returns, in the order of `keys`, whether each was taken (false: another session holds it).
/// `keys` must not contain duplicates, nor keys this session already holds.
pub async fn try_lock_many(
    conn: &mut PgConnection,
    keys: &[WorkKey],
) -> Result<Vec<bool>, sqlx::Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let (a, b) = split(keys);
    let taken: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_try_advisory_lock(k.a, k.b)
         FROM unnest($1::int4[], $2::int4[]) WITH ORDINALITY AS k(a, b, i) ORDER BY k.i",
    )
    .bind(&a)
    .bind(&b)
    .fetch_all(conn)
    .await?;
    Ok(taken)
}

/// Releases work locks this session holds, in one statement. Returns how many it held.
pub async fn unlock_many(conn: &mut PgConnection, keys: &[WorkKey]) -> Result<u64, sqlx::Error> {
    if keys.is_empty() {
        return Ok(0);
    }
    let (a, b) = split(keys);
    let released: i64 = sqlx::query_scalar(
        "SELECT count(*) FILTER (WHERE pg_advisory_unlock(k.a, k.b))
         FROM unnest($1::int4[], $2::int4[]) AS k(a, b)",
    )
    .bind(&a)
    .bind(&b)
    .fetch_one(conn)
    .await?;
    Ok(released as u64)
}

#[cfg(test)]
mod tests {
    use super::WorkKey;

    fn key(record_id: i64, job_seq: i32) -> (i32, i32) {
        WorkKey { record_id, job_seq }.halves()
    }

    #[test]
    fn keys_differ_by_record_and_by_generation() {
        assert_eq!(key(1, 1), (1, 1));
        assert_ne!(key(1, 1), key(1, 2));
        assert_ne!(key(1, 1), key(2, 1));
        assert_ne!(key(1, 1), key((1 << 32) + 1, 1));
        assert_ne!(key(u32::MAX as i64, 3), key(-1, 3));
    }
}
