//! The project and its lookups (statuses, priorities, environments): stored once per run by
//! the crawl, read back by name.

use super::raw::pg_safe;
use sqlx::{PgConnection, Row};
use ztoq_model::zephyr::{OptionValue, Project};

/// Stores the project.
pub async fn save_project(
    conn: &mut PgConnection,
    run_id: i64,
    project: &Project,
) -> Result<(), sqlx::Error> {
    let (project, raw) = pg_safe(std::slice::from_ref(project), "project")?;
    let (project, raw) = (&project[0], raw.into_iter().next().unwrap_or_default());
    sqlx::query(
        "INSERT INTO src_projects (run_id, id, key, jira_project_id, raw) VALUES ($1,$2,$3,$4,$5)
         ON CONFLICT (run_id) DO UPDATE SET id = EXCLUDED.id, key = EXCLUDED.key,
           jira_project_id = EXCLUDED.jira_project_id, raw = EXCLUDED.raw",
    )
    .bind(run_id)
    .bind(project.id)
    .bind(&project.key)
    .bind(project.jira_project_id)
    .bind(raw)
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores statuses (`lookup = "status"`, with their type), priorities or environments.
pub async fn save_lookups(
    conn: &mut PgConnection,
    run_id: i64,
    lookup: &str,
    status_type: &str,
    values: &[OptionValue],
) -> Result<(), sqlx::Error> {
    let (values, raw) = pg_safe(values, "lookups")?;
    let ids: Vec<i64> = values.iter().map(|v| v.id).collect();
    let names: Vec<&str> = values.iter().map(|v| v.name.as_str()).collect();
    sqlx::query(
        "INSERT INTO src_lookups (run_id, lookup, status_type, id, name, raw)
         SELECT $1, $2, $3, u.id, u.name, u.raw
         FROM unnest($4::bigint[], $5::text[], $6::jsonb[]) AS u(id, name, raw)
         ON CONFLICT (run_id, lookup, id) DO UPDATE SET name = EXCLUDED.name, raw = EXCLUDED.raw,
           status_type = EXCLUDED.status_type",
    )
    .bind(run_id)
    .bind(lookup)
    .bind(status_type)
    .bind(&ids)
    .bind(&names)
    .bind(&raw)
    .execute(conn)
    .await?;
    Ok(())
}

/// Names of a run's lookups of one kind (and status type), by id.
pub async fn lookups(
    conn: &mut PgConnection,
    run_id: i64,
    lookup: &str,
    status_type: &str,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, name FROM src_lookups WHERE run_id = $1 AND lookup = $2 AND status_type = $3
         ORDER BY id",
    )
    .bind(run_id)
    .bind(lookup)
    .bind(status_type)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(|r| (r.get("id"), r.get("name"))).collect())
}
