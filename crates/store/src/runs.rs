//! Runs: one row per (Zephyr project → qTest project) migration, found again by that pair so
//! that enqueueing twice continues the same run (until the run is rolled back: see
//! [`crate::rollback`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgConnection, Row};

/// A run's identity and resolved settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Run id.
    pub id: i64,
    /// Zephyr base URL.
    pub zephyr_url: String,
    /// Zephyr project key.
    pub project_key: String,
    /// qTest base URL.
    pub qtest_url: String,
    /// qTest project id.
    pub qtest_project_id: i64,
    /// Settings resolved at enqueue (field ids, status map).
    pub settings: Value,
    /// Why the work is paused, if it is.
    pub paused_reason: Option<String>,
}

fn run_from_row(row: &sqlx::postgres::PgRow) -> Result<Run, sqlx::Error> {
    Ok(Run {
        id: row.try_get("id")?,
        zephyr_url: row.try_get("zephyr_url")?,
        project_key: row.try_get("project_key")?,
        qtest_url: row.try_get("qtest_url")?,
        qtest_project_id: row.try_get("qtest_project_id")?,
        settings: row.try_get("settings")?,
        paused_reason: row.try_get("paused_reason")?,
    })
}

/// Finds the run for this source and target, creating it if there is none, and stores the
/// settings resolved by this enqueue. A rolled-back run is history: the next enqueue of its
/// project starts a new run. A run whose rollback is under way is refused
/// (`InvalidArgument`, saying why): finish the rollback first.
pub async fn upsert(
    conn: &mut PgConnection,
    zephyr_url: &str,
    project_key: &str,
    qtest_url: &str,
    qtest_project_id: i64,
    settings: &Value,
) -> Result<Run, sqlx::Error> {
    let row = sqlx::query(
        r#"
        INSERT INTO runs (zephyr_url, project_key, qtest_url, qtest_project_id, settings)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (zephyr_url, project_key, qtest_url, qtest_project_id)
            WHERE rolled_back_at IS NULL
        DO UPDATE SET settings = EXCLUDED.settings
            WHERE runs.rollback_started_at IS NULL
        RETURNING *
        "#,
    )
    .bind(zephyr_url)
    .bind(project_key)
    .bind(qtest_url)
    .bind(qtest_project_id)
    .bind(settings)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(row) => run_from_row(&row),
        None => {
            let id: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM runs WHERE zephyr_url = $1 AND project_key = $2 AND qtest_url = $3
                   AND qtest_project_id = $4 AND rolled_back_at IS NULL",
            )
            .bind(zephyr_url)
            .bind(project_key)
            .bind(qtest_url)
            .bind(qtest_project_id)
            .fetch_optional(&mut *conn)
            .await?;
            Err(sqlx::Error::InvalidArgument(match id {
                Some(id) => format!(
                    "run {id} of {project_key} → qTest project {qtest_project_id} is being rolled back: finish with `ztoq rollback --run {id}` before enqueueing again"
                ),
                None => format!(
                    "the run of {project_key} → qTest project {qtest_project_id} changed while enqueueing; try again"
                ),
            }))
        }
    }
}

/// Loads a run.
pub async fn get(conn: &mut PgConnection, run_id: i64) -> Result<Option<Run>, sqlx::Error> {
    let row = sqlx::query("SELECT * FROM runs WHERE id = $1")
        .bind(run_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(run_from_row).transpose()
}

/// Marks the end of an enqueue.
pub async fn mark_enqueued(conn: &mut PgConnection, run_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE runs SET enqueued_at = now() WHERE id = $1")
        .bind(run_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records (or clears, with `None`) why the work of a run is paused.
pub async fn set_paused(
    conn: &mut PgConnection,
    run_id: i64,
    reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE runs SET paused_reason = $2 WHERE id = $1 AND paused_reason IS DISTINCT FROM $2",
    )
    .bind(run_id)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(())
}
