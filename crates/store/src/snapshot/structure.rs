//! Folders and test cycles (the tree the structure records build): page writes for the crawl,
//! single reads for the worker and the verifier.

use super::raw::{one_raw, pg_safe};
use serde_json::Value;
use sqlx::PgConnection;
use ztoq_model::zephyr::{Folder, TestCycle};

/// Stores a page of folders.
pub async fn save_folders(
    conn: &mut PgConnection,
    run_id: i64,
    folders: &[Folder],
) -> Result<(), sqlx::Error> {
    let (folders, raw) = pg_safe(folders, "folders")?;
    let ids: Vec<i64> = folders.iter().map(|f| f.id).collect();
    let parents: Vec<Option<i64>> = folders.iter().map(|f| f.parent_id).collect();
    let names: Vec<&str> = folders.iter().map(|f| f.name.as_str()).collect();
    let types: Vec<&str> = folders.iter().map(|f| f.folder_type.as_str()).collect();
    let idx: Vec<i64> = folders.iter().map(|f| f.index).collect();
    sqlx::query(
        "INSERT INTO src_folders (run_id, id, parent_id, name, folder_type, idx, raw)
         SELECT $1, u.* FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[],
                                    $6::bigint[], $7::jsonb[]) AS u
         ON CONFLICT (run_id, id) DO UPDATE SET parent_id = EXCLUDED.parent_id,
           name = EXCLUDED.name, folder_type = EXCLUDED.folder_type, idx = EXCLUDED.idx,
           raw = EXCLUDED.raw",
    )
    .bind(run_id)
    .bind(&ids)
    .bind(&parents)
    .bind(&names)
    .bind(&types)
    .bind(&idx)
    .bind(&raw)
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores a page of test cycles.
pub async fn save_test_cycles(
    conn: &mut PgConnection,
    run_id: i64,
    cycles: &[TestCycle],
) -> Result<(), sqlx::Error> {
    let (cycles, raw) = pg_safe(cycles, "test cycles")?;
    let ids: Vec<i64> = cycles.iter().map(|c| c.id).collect();
    let keys: Vec<&str> = cycles.iter().map(|c| c.key.as_str()).collect();
    let names: Vec<&str> = cycles.iter().map(|c| c.name.as_str()).collect();
    let folders: Vec<Option<i64>> = cycles
        .iter()
        .map(|c| c.folder.as_ref().map(|f| f.id))
        .collect();
    let statuses: Vec<i64> = cycles.iter().map(|c| c.status.id).collect();
    let descriptions: Vec<Option<&str>> = cycles.iter().map(|c| c.description.as_deref()).collect();
    let starts: Vec<Option<&str>> = cycles
        .iter()
        .map(|c| c.planned_start_date.as_deref())
        .collect();
    let ends: Vec<Option<&str>> = cycles
        .iter()
        .map(|c| c.planned_end_date.as_deref())
        .collect();
    let versions: Vec<Option<i64>> = cycles
        .iter()
        .map(|c| c.jira_project_version.as_ref().map(|v| v.id))
        .collect();
    let owners: Vec<Option<&str>> = cycles
        .iter()
        .map(|c| c.owner.as_ref().and_then(|o| o.account_id.as_deref()))
        .collect();
    let custom: Vec<Value> = cycles
        .iter()
        .map(|c| Value::Object(c.custom_fields.clone()))
        .collect();
    sqlx::query(
        "INSERT INTO src_test_cycles (run_id, id, key, name, folder_id, status_id, description,
           planned_start_date, planned_end_date, jira_version_id, owner_account_id,
           custom_fields, raw)
         SELECT $1, u.* FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[],
                $6::bigint[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::text[],
                $12::jsonb[], $13::jsonb[]) AS u
         ON CONFLICT (run_id, id) DO UPDATE SET key = EXCLUDED.key, name = EXCLUDED.name,
           folder_id = EXCLUDED.folder_id, status_id = EXCLUDED.status_id,
           description = EXCLUDED.description, planned_start_date = EXCLUDED.planned_start_date,
           planned_end_date = EXCLUDED.planned_end_date,
           jira_version_id = EXCLUDED.jira_version_id,
           owner_account_id = EXCLUDED.owner_account_id,
           custom_fields = EXCLUDED.custom_fields, raw = EXCLUDED.raw",
    )
    .bind(run_id)
    .bind(&ids)
    .bind(&keys)
    .bind(&names)
    .bind(&folders)
    .bind(&statuses)
    .bind(&descriptions)
    .bind(&starts)
    .bind(&ends)
    .bind(&versions)
    .bind(&owners)
    .bind(&custom)
    .bind(&raw)
    .execute(conn)
    .await?;
    Ok(())
}

/// A stored folder.
pub async fn folder(
    conn: &mut PgConnection,
    run_id: i64,
    id: i64,
) -> Result<Option<Folder>, sqlx::Error> {
    one_raw(
        conn,
        "SELECT raw FROM src_folders WHERE run_id = $1 AND id = $2",
        run_id,
        id,
    )
    .await
}

/// A stored test cycle.
pub async fn test_cycle(
    conn: &mut PgConnection,
    run_id: i64,
    id: i64,
) -> Result<Option<TestCycle>, sqlx::Error> {
    one_raw(
        conn,
        "SELECT raw FROM src_test_cycles WHERE run_id = $1 AND id = $2",
        run_id,
        id,
    )
    .await
}
