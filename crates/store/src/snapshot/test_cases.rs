//! Test cases and their steps: page writes for the crawl, step replacement for the worker,
//! single reads and key-to-id lookups.

use super::raw::{many_raw, one_raw, pg_safe};
use serde_json::Value;
use sqlx::{PgConnection, Row};
use ztoq_model::zephyr::{TestCase, TestStep};

/// Stores a page of test cases.
pub async fn save_test_cases(
    conn: &mut PgConnection,
    run_id: i64,
    cases: &[TestCase],
) -> Result<(), sqlx::Error> {
    let (cases, raw) = pg_safe(cases, "test cases")?;
    let ids: Vec<i64> = cases.iter().map(|c| c.id).collect();
    let keys: Vec<&str> = cases.iter().map(|c| c.key.as_str()).collect();
    let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    let folders: Vec<Option<i64>> = cases
        .iter()
        .map(|c| c.folder.as_ref().map(|f| f.id))
        .collect();
    let priorities: Vec<i64> = cases.iter().map(|c| c.priority.id).collect();
    let statuses: Vec<i64> = cases.iter().map(|c| c.status.id).collect();
    let objectives: Vec<Option<&str>> = cases.iter().map(|c| c.objective.as_deref()).collect();
    let preconditions: Vec<Option<&str>> =
        cases.iter().map(|c| c.precondition.as_deref()).collect();
    let estimated: Vec<Option<i64>> = cases.iter().map(|c| c.estimated_time).collect();
    let owners: Vec<Option<&str>> = cases
        .iter()
        .map(|c| c.owner.as_ref().and_then(|o| o.account_id.as_deref()))
        .collect();
    let created: Vec<Option<&str>> = cases.iter().map(|c| c.created_on.as_deref()).collect();
    let custom: Vec<Value> = cases
        .iter()
        .map(|c| Value::Object(c.custom_fields.clone()))
        .collect();
    // Labels go through JSON: Postgres has no ragged text[][] for unnest.
    let labels: Vec<Value> = cases.iter().map(|c| serde_json::json!(c.labels)).collect();
    sqlx::query(
        "INSERT INTO src_test_cases (run_id, id, key, name, folder_id, priority_id, status_id,
           objective, precondition, estimated_time_ms, owner_account_id, created_on,
           custom_fields, labels, raw)
         SELECT $1, u.id, u.key, u.name, u.folder, u.priority, u.status, u.objective,
                u.precondition, u.estimated, u.owner, u.created, u.custom,
                ARRAY(SELECT jsonb_array_elements_text(u.labels)), u.raw
         FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
                     $7::bigint[], $8::text[], $9::text[], $10::bigint[], $11::text[],
                     $12::text[], $13::jsonb[], $14::jsonb[], $15::jsonb[])
              AS u(id, key, name, folder, priority, status, objective, precondition,
                   estimated, owner, created, custom, labels, raw)
         ON CONFLICT (run_id, id) DO UPDATE SET key = EXCLUDED.key, name = EXCLUDED.name,
           folder_id = EXCLUDED.folder_id, priority_id = EXCLUDED.priority_id,
           status_id = EXCLUDED.status_id, objective = EXCLUDED.objective,
           precondition = EXCLUDED.precondition, estimated_time_ms = EXCLUDED.estimated_time_ms,
           owner_account_id = EXCLUDED.owner_account_id, created_on = EXCLUDED.created_on,
           custom_fields = EXCLUDED.custom_fields, labels = EXCLUDED.labels, raw = EXCLUDED.raw",
    )
    .bind(run_id)
    .bind(&ids)
    .bind(&keys)
    .bind(&names)
    .bind(&folders)
    .bind(&priorities)
    .bind(&statuses)
    .bind(&objectives)
    .bind(&preconditions)
    .bind(&estimated)
    .bind(&owners)
    .bind(&created)
    .bind(&custom)
    .bind(&labels)
    .bind(&raw)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces a test case's steps (read by the worker).
pub async fn save_test_steps(
    conn: &mut PgConnection,
    run_id: i64,
    test_case_id: i64,
    steps: &[TestStep],
) -> Result<(), sqlx::Error> {
    let (steps, raw) = pg_safe(steps, "test steps")?;
    sqlx::query("DELETE FROM src_test_steps WHERE run_id = $1 AND test_case_id = $2")
        .bind(run_id)
        .bind(test_case_id)
        .execute(&mut *conn)
        .await?;
    let idx: Vec<i32> = (0..steps.len() as i32).collect();
    let ids: Vec<Option<i64>> = steps.iter().map(|s| s.id).collect();
    let inline = |f: fn(&ztoq_model::zephyr::InlineStep) -> Option<&str>| -> Vec<Option<&str>> {
        steps
            .iter()
            .map(|s| s.inline.as_ref().and_then(f))
            .collect()
    };
    let descriptions = inline(|i| i.description.as_deref());
    let data = inline(|i| i.test_data.as_deref());
    let expected = inline(|i| i.expected_result.as_deref());
    let called: Vec<Option<&str>> = steps
        .iter()
        .map(|s| s.test_case.as_ref().map(|c| c.test_case_key.as_str()))
        .collect();
    sqlx::query(
        "INSERT INTO src_test_steps (run_id, test_case_id, idx, step_id, description, test_data,
           expected_result, called_test_case_key, raw)
         SELECT $1, $2, u.* FROM unnest($3::int[], $4::bigint[], $5::text[], $6::text[],
                $7::text[], $8::text[], $9::jsonb[]) AS u",
    )
    .bind(run_id)
    .bind(test_case_id)
    .bind(&idx)
    .bind(&ids)
    .bind(&descriptions)
    .bind(&data)
    .bind(&expected)
    .bind(&called)
    .bind(&raw)
    .execute(conn)
    .await?;
    Ok(())
}

/// A stored test case.
pub async fn test_case(
    conn: &mut PgConnection,
    run_id: i64,
    id: i64,
) -> Result<Option<TestCase>, sqlx::Error> {
    one_raw(
        conn,
        "SELECT raw FROM src_test_cases WHERE run_id = $1 AND id = $2",
        run_id,
        id,
    )
    .await
}

/// The id of a stored test case, by key.
pub async fn test_case_id_by_key(
    conn: &mut PgConnection,
    run_id: i64,
    key: &str,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT id FROM src_test_cases WHERE run_id = $1 AND key = $2")
        .bind(run_id)
        .bind(key)
        .fetch_optional(conn)
        .await
}

/// Ids of stored test cases by key, for the keys that exist.
pub async fn test_case_ids_by_keys(
    conn: &mut PgConnection,
    run_id: i64,
    keys: &[String],
) -> Result<std::collections::HashMap<String, i64>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT key, id FROM src_test_cases WHERE run_id = $1 AND key = ANY($2)")
            .bind(run_id)
            .bind(keys)
            .fetch_all(conn)
            .await?;
    Ok(rows.iter().map(|r| (r.get("key"), r.get("id"))).collect())
}

/// A test case's stored steps, in order.
pub async fn test_steps(
    conn: &mut PgConnection,
    run_id: i64,
    test_case_id: i64,
) -> Result<Vec<TestStep>, sqlx::Error> {
    many_raw(
        conn,
        "SELECT raw FROM src_test_steps WHERE run_id = $1 AND test_case_id = $2 ORDER BY idx",
        run_id,
        test_case_id,
    )
    .await
}
