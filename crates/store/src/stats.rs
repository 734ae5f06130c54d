//! Planner statistics of the tables the workers query per record, kept current while a run
//! grows faster than autovacuum looks at it.
//!
//! Autovacuum analyzes a table at most once per `autovacuum_naptime` (1 min by default). An
//! enqueue writes tens of thousands of records and edges in a few seconds, so the workers can
//! start on tables whose statistics still describe them as (nearly) empty. The planner then
//! hashes the whole `records` table for each record's parents and scans `apalis.jobs`
//! sequentially for each of apalis's acks: O(records) per record until autovacuum's next
//! visit (measured, 10k records on a private cluster with `auto_explain`: every slow parents
//! read was a hash join over a sequential scan of `records`, ~430 buffers instead of ~10).
//! Whether that visit came during the enqueue or only a minute into the worker phase made the
//! same 50k project run at ~660 or ~395 records/s.
//!
//! [`analyze_if_stale`] analyzes those tables when they hold far more rows than their
//! statistics say; the worker calls it at start and every few seconds (a cheap catalog read
//! when nothing is stale).

use sqlx::{PgConnection, Row};

/// The tables read per record: their statistics decide the per-record plans.
const TABLES: [&str; 3] = ["records", "record_deps", "apalis.jobs"];

/// Whether a table whose statistics count `reltuples` rows (-1: never analyzed) but which
/// holds about `live` rows now needs `ANALYZE`: never analyzed and not empty, or grown to
/// more than twice what the statistics say (and by at least 5,000 rows, so small tables are
/// left to autovacuum). Doubling keeps the number of analyzes of a growing table
/// logarithmic in its size (each one reads a sample of up to 30,000 rows).
pub fn is_stale(reltuples: f64, live: i64) -> bool {
    let live = live as f64;
    if reltuples < 0.0 {
        return live > 0.0;
    }
    live - reltuples > 5000.0 && live > reltuples * 2.0
}

/// Advisory lock key (single `bigint` space) that makes one session at a time refresh the
/// statistics: the other workers skip their check meanwhile and find them fresh next time.
const ANALYZE_LOCK: i64 = 0x7a74_6f71_5f73_7473; // "ztoq_sts"

/// Analyzes each of the per-record tables whose statistics are stale (see [`is_stale`]).
/// Returns the names of the tables analyzed. Tables the current role may not analyze are
/// skipped by Postgres with a warning, not an error.
pub async fn analyze_if_stale(conn: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let mine: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(ANALYZE_LOCK)
        .fetch_one(&mut *tx)
        .await?;
    if !mine {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "SELECT t.name, c.reltuples::float8 AS reltuples, coalesce(s.n_live_tup, 0) AS live
         FROM unnest($1::text[]) AS t(name)
         JOIN pg_class c ON c.oid = to_regclass(t.name)
         LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid",
    )
    .bind(TABLES)
    .fetch_all(&mut *tx)
    .await?;
    let mut analyzed = Vec::new();
    for row in &rows {
        let name: String = row.try_get("name")?;
        let reltuples: f64 = row.try_get("reltuples")?;
        let live: i64 = row.try_get("live")?;
        if !is_stale(reltuples, live) {
            continue;
        }
        // `name` is one of TABLES, never input.
        sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {name}")))
            .execute(&mut *tx)
            .await?;
        analyzed.push(name);
    }
    tx.commit().await?;
    Ok(analyzed)
}

#[cfg(test)]
mod tests {
    use super::is_stale;

    #[test]
    fn stale_only_when_grown_well_beyond_the_statistics() {
        assert!(is_stale(-1.0, 10));
        assert!(!is_stale(-1.0, 0));
        assert!(is_stale(0.0, 48_000));
        assert!(is_stale(4_966.0, 10_000));
        assert!(!is_stale(4_966.0, 9_000));
        assert!(!is_stale(48_000.0, 50_000));
        assert!(!is_stale(100.0, 4_900));
        assert!(!is_stale(500_000.0, 600_000));
    }
}
