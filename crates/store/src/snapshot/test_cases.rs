//! Test cases and their steps: page writes for the crawl, step replacement for the worker (a
//! batch of cases at a time), single reads and key-to-id lookups.

use super::raw::{RawJson, many_raw, one_raw, pg_safe};
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
    save_test_steps_many(conn, &[(run_id, test_case_id, steps)]).await
}

/// Replaces the steps of several test cases `(run_id, test_case_id, steps)` in one statement
/// (a worker's batch of finished test cases): each step is written over the row of its
/// position, and rows past a case's new last step are deleted.
pub async fn save_test_steps_many(
    conn: &mut PgConnection,
    cases: &[(i64, i64, &[TestStep])],
) -> Result<(), sqlx::Error> {
    if cases.is_empty() {
        return Ok(());
    }
    let owner_runs: Vec<i64> = cases.iter().map(|c| c.0).collect();
    let owner_ids: Vec<i64> = cases.iter().map(|c| c.1).collect();
    let counts: Vec<i32> = cases.iter().map(|c| c.2.len() as i32).collect();
    let safe = cases
        .iter()
        .map(|(run_id, case_id, steps)| Ok((*run_id, *case_id, pg_safe(steps, "test steps")?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let mut rows = StepRows::default();
    for (run_id, case_id, (steps, raw)) in &safe {
        for (i, (s, raw)) in steps.iter().zip(raw).enumerate() {
            let inline = s.inline.as_ref();
            rows.run_id.push(*run_id);
            rows.owner_id.push(*case_id);
            rows.idx.push(i as i32);
            rows.step_id.push(s.id);
            rows.description
                .push(inline.and_then(|i| i.description.as_deref()));
            rows.test_data
                .push(inline.and_then(|i| i.test_data.as_deref()));
            rows.expected
                .push(inline.and_then(|i| i.expected_result.as_deref()));
            rows.called
                .push(s.test_case.as_ref().map(|c| c.test_case_key.as_str()));
            rows.raw.push(raw);
        }
    }
    sqlx::query(
        "WITH past_the_end AS (
             DELETE FROM src_test_steps s
             USING unnest($10::bigint[], $11::bigint[], $12::int[]) AS o(run_id, id, n)
             WHERE s.run_id = o.run_id AND s.test_case_id = o.id AND s.idx >= o.n
         )
         INSERT INTO src_test_steps (run_id, test_case_id, idx, step_id, description, test_data,
           expected_result, called_test_case_key, raw)
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::bigint[], $5::text[],
                $6::text[], $7::text[], $8::text[], $9::jsonb[])
         ON CONFLICT (run_id, test_case_id, idx) DO UPDATE SET step_id = EXCLUDED.step_id,
           description = EXCLUDED.description, test_data = EXCLUDED.test_data,
           expected_result = EXCLUDED.expected_result,
           called_test_case_key = EXCLUDED.called_test_case_key, raw = EXCLUDED.raw",
    )
    .bind(&rows.run_id)
    .bind(&rows.owner_id)
    .bind(&rows.idx)
    .bind(&rows.step_id)
    .bind(&rows.description)
    .bind(&rows.test_data)
    .bind(&rows.expected)
    .bind(&rows.called)
    .bind(&rows.raw)
    .bind(&owner_runs)
    .bind(&owner_ids)
    .bind(&counts)
    .execute(conn)
    .await?;
    Ok(())
}

/// Columns of test-step rows for one multi-row insert.
#[derive(Default)]
struct StepRows<'a> {
    run_id: Vec<i64>,
    owner_id: Vec<i64>,
    idx: Vec<i32>,
    step_id: Vec<Option<i64>>,
    description: Vec<Option<&'a str>>,
    test_data: Vec<Option<&'a str>>,
    expected: Vec<Option<&'a str>>,
    called: Vec<Option<&'a str>>,
    raw: Vec<&'a RawJson>,
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
