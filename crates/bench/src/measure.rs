//! Figures of a finished ztoq run, read from its database: per kind, how many records were
//! done, over which window, and how long each waited from "ready" to "done"; and the
//! database's size, its queue rows and whether the apalis weak spots are handled there.

use serde::Serialize;
use sqlx::{PgPool, Row};
use std::collections::BTreeMap;

/// The 50th and 99th percentiles of a latency, in milliseconds (`None`: nothing measured).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
}

/// Done records of one kind (or of all kinds: key `all`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct DoneFigures {
    /// Records done.
    pub done: u64,
    /// Seconds from the kind's first `done_at` to its last.
    pub window_secs: f64,
    /// Ready → done per record: from the `run_at` of the record's last job (when it became
    /// runnable) to the record's `done_at`. Includes the wait in the queue.
    pub ready_to_done_ms: Percentiles,
}

/// [`DoneFigures`] by kind name, plus `all`. The percentiles are exact (`percentile_cont`).
pub async fn done_figures(
    pool: &PgPool,
    run_id: i64,
) -> Result<BTreeMap<String, DoneFigures>, sqlx::Error> {
    let rows = sqlx::query(
        r#"
        SELECT coalesce(r.kind, 'all') AS kind,
               count(*) AS n,
               extract(epoch FROM max(r.done_at) - min(r.done_at))::float8 AS window_secs,
               percentile_cont(ARRAY[0.5, 0.99]::float8[]) WITHIN GROUP (
                   ORDER BY extract(epoch FROM r.done_at - j.run_at)::float8
               ) AS q
        FROM records r
        LEFT JOIN apalis.jobs j
               ON j.job_type = $2 AND j.idempotency_key = 'rec-' || r.id || '-' || r.job_seq
        WHERE r.run_id = $1 AND r.state = 'done'
        GROUP BY GROUPING SETS ((r.kind), ())
        "#,
    )
    .bind(run_id)
    .bind(ztoq_store::jobs::QUEUE)
    .fetch_all(pool)
    .await?;
    let mut out = BTreeMap::new();
    for row in rows {
        let q: Option<Vec<Option<f64>>> = row.try_get("q").ok();
        let q = q.unwrap_or_default();
        let ms = |i: usize| q.get(i).copied().flatten().map(|s| s * 1000.0);
        out.insert(
            row.get::<String, _>("kind"),
            DoneFigures {
                done: row.get::<i64, _>("n") as u64,
                window_secs: row.get::<Option<f64>, _>("window_secs").unwrap_or_default(),
                ready_to_done_ms: Percentiles {
                    p50: ms(0),
                    p99: ms(1),
                },
            },
        );
    }
    Ok(out)
}

/// The database at the end of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DbFigures {
    /// `pg_database_size(current_database())`, MiB.
    pub database_size_mb: f64,
    /// Rows in `apalis.jobs` (every queue).
    pub apalis_jobs_rows: u64,
    /// `pg_total_relation_size('apalis.jobs')` (with indexes and TOAST), MiB.
    pub apalis_jobs_mb: f64,
    /// `pg_total_relation_size('records')`, MiB (0 outside a ztoq database).
    pub records_mb: f64,
    /// `apalis.get_jobs` claims through `id = ANY(ARRAY(SELECT … FOR UPDATE SKIP LOCKED))`
    /// (ztoq's migration 0003) rather than apalis's stock join.
    pub claim_by_id_array: bool,
    /// A row-level NOTIFY trigger is installed on `apalis.jobs` (apalis's stock schema).
    pub notify_trigger: bool,
    /// Update churn of the tables rewritten per record (`records`, `apalis.jobs`), from
    /// `pg_stat_user_tables` (the database is the run's own, so the counters are the run's).
    pub churn: Vec<TableChurn>,
}

/// How a table's rows were updated in a run, and what that left behind.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TableChurn {
    /// `schema.table`.
    pub table: String,
    /// Rows updated (`n_tup_upd`).
    pub updates: u64,
    /// Share of those updates that were HOT (no index entries written), %.
    pub hot_updates_pct: Option<f64>,
    /// Live and dead rows at the end (`n_live_tup`, `n_dead_tup`).
    pub live_rows: u64,
    /// Dead rows not yet vacuumed.
    pub dead_rows: u64,
    /// Times autovacuum vacuumed it during the run.
    pub autovacuums: u64,
}

/// Reads [`TableChurn`] of `records` and `apalis.jobs` (tables that do not exist are left out).
async fn churn(pool: &PgPool) -> Result<Vec<TableChurn>, sqlx::Error> {
    let rows = sqlx::query(
        r#"
        SELECT schemaname || '.' || relname AS name, n_tup_upd, n_tup_hot_upd, n_live_tup,
               n_dead_tup, autovacuum_count
        FROM pg_stat_user_tables
        WHERE (schemaname, relname) IN (('public', 'records'), ('apalis', 'jobs'))
        ORDER BY schemaname DESC
        "#,
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let updates = r.get::<i64, _>("n_tup_upd").max(0) as u64;
            let hot = r.get::<i64, _>("n_tup_hot_upd").max(0) as u64;
            TableChurn {
                table: r.get("name"),
                updates,
                hot_updates_pct: (updates > 0).then(|| hot as f64 * 100.0 / updates as f64),
                live_rows: r.get::<i64, _>("n_live_tup").max(0) as u64,
                dead_rows: r.get::<i64, _>("n_dead_tup").max(0) as u64,
                autovacuums: r.get::<i64, _>("autovacuum_count").max(0) as u64,
            }
        })
        .collect())
}

/// Reads [`DbFigures`].
pub async fn db_figures(pool: &PgPool) -> Result<DbFigures, sqlx::Error> {
    let row = sqlx::query(
        r#"
        SELECT pg_database_size(current_database())::float8 / 1048576 AS db_mb,
               (SELECT count(*) FROM apalis.jobs) AS jobs,
               pg_total_relation_size('apalis.jobs')::float8 / 1048576 AS jobs_mb,
               coalesce(pg_total_relation_size(to_regclass('public.records')), 0)::float8
                   / 1048576 AS records_mb,
               coalesce((SELECT p.prosrc ILIKE '%ANY(ARRAY(%'
                         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                         WHERE n.nspname = 'apalis' AND p.proname = 'get_jobs'
                         LIMIT 1), false) AS by_array,
               EXISTS (SELECT 1 FROM pg_trigger t
                       WHERE t.tgrelid = 'apalis.jobs'::regclass AND NOT t.tgisinternal
                         AND t.tgname = 'notify_workers') AS notify
        "#,
    )
    .fetch_one(pool)
    .await?;
    Ok(DbFigures {
        database_size_mb: row.get("db_mb"),
        apalis_jobs_rows: row.get::<i64, _>("jobs") as u64,
        apalis_jobs_mb: row.get("jobs_mb"),
        records_mb: row.get("records_mb"),
        claim_by_id_array: row.get("by_array"),
        notify_trigger: row.get("notify"),
        churn: churn(pool).await?,
    })
}

/// The database server's clock (`clock_timestamp()`), to time phases against row timestamps.
pub async fn db_now(pool: &PgPool) -> Result<chrono::DateTime<chrono::Utc>, sqlx::Error> {
    sqlx::query_scalar("SELECT clock_timestamp()")
        .fetch_one(pool)
        .await
}

/// Seconds from `since` (server clock) to the last change of any record of the run: when the
/// run settled, without the progress poll's delay.
pub async fn settled_after(
    pool: &PgPool,
    run_id: i64,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<Option<f64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT extract(epoch FROM max(updated_at) - $2)::float8 FROM records WHERE run_id = $1",
    )
    .bind(run_id)
    .bind(since)
    .fetch_one(pool)
    .await
}
