//! The canonical snapshot of the Zephyr source: bulk writes of listed pages (multi-row
//! `UNNEST` inserts, one statement per page) and reads of single items for the worker and the
//! verifier. Items are read back from `raw`, so the worker sees exactly what the API sent.
//! Writes are upserts: enqueueing again refreshes the snapshot without duplicating it.
//!
//! Invariant: no NUL reaches Postgres (`text` and `jsonb` refuse it, failing the whole
//! statement): every write goes through `pg_safe`, which removes them (the Zephyr client
//! already does, and reports it; this is the last line of defence).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::{PgConnection, Row};
use std::borrow::Cow;
use ztoq_model::zephyr::{
    AttachmentRef, ExecutionStep, Folder, OptionValue, Project, TestCase, TestCycle, TestExecution,
    TestStep,
};

fn to_raw<T: serde::Serialize>(items: &[T]) -> Result<Vec<Value>, sqlx::Error> {
    items
        .iter()
        .map(|i| serde_json::to_value(i).map_err(|e| sqlx::Error::Encode(Box::new(e))))
        .collect()
}

/// Removes NULs from every string and key of `value`; returns how many.
fn strip_nul(value: &mut Value) -> usize {
    match value {
        Value::String(s) => {
            let before = s.len();
            s.retain(|c| c != '\0');
            before - s.len()
        }
        Value::Array(items) => items.iter_mut().map(strip_nul).sum(),
        Value::Object(map) => {
            let mut n: usize = map.values_mut().map(strip_nul).sum();
            if map.keys().any(|k| k.contains('\0')) {
                let old = std::mem::take(map);
                for (k, v) in old {
                    n += k.matches('\0').count();
                    map.insert(k.replace('\0', ""), v);
                }
            }
            n
        }
        _ => 0,
    }
}

/// Items as Postgres can take them: their JSON (the `raw` column) with every NUL removed and,
/// only when there were some, the items decoded back from it (so the text columns and `raw`
/// agree). The common case costs one serialisation, as before.
fn pg_safe<'a, T: Serialize + DeserializeOwned + Clone>(
    items: &'a [T],
    what: &str,
) -> Result<(Cow<'a, [T]>, Vec<Value>), sqlx::Error> {
    let mut raw = to_raw(items)?;
    let removed: usize = raw.iter_mut().map(strip_nul).sum();
    if removed == 0 {
        return Ok((Cow::Borrowed(items), raw));
    }
    tracing::warn!(
        what,
        removed,
        "NUL characters removed before storing source items"
    );
    let cleaned = raw
        .iter()
        .map(|r| from_raw(r.clone()))
        .collect::<Result<Vec<T>, _>>()?;
    Ok((Cow::Owned(cleaned), raw))
}

fn from_raw<T: DeserializeOwned>(raw: Value) -> Result<T, sqlx::Error> {
    serde_json::from_value(raw).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

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

/// Stores a page of executions.
pub async fn save_executions(
    conn: &mut PgConnection,
    run_id: i64,
    executions: &[TestExecution],
) -> Result<(), sqlx::Error> {
    let (executions, raw) = pg_safe(executions, "executions")?;
    let ids: Vec<i64> = executions.iter().map(|e| e.id).collect();
    let keys: Vec<Option<&str>> = executions.iter().map(|e| e.key.as_deref()).collect();
    let parsed: Vec<Option<(String, i64)>> = executions
        .iter()
        .map(|e| e.test_case_key_and_version())
        .collect();
    let case_keys: Vec<Option<&str>> = parsed
        .iter()
        .map(|p| p.as_ref().map(|(k, _)| k.as_str()))
        .collect();
    let versions: Vec<Option<i64>> = parsed.iter().map(|p| p.as_ref().map(|(_, v)| *v)).collect();
    let cycles: Vec<Option<i64>> = executions
        .iter()
        .map(|e| e.test_cycle.as_ref().map(|c| c.id))
        .collect();
    let statuses: Vec<i64> = executions
        .iter()
        .map(|e| e.test_execution_status.id)
        .collect();
    let envs: Vec<Option<i64>> = executions
        .iter()
        .map(|e| e.environment.as_ref().map(|c| c.id))
        .collect();
    let ends: Vec<Option<&str>> = executions
        .iter()
        .map(|e| e.actual_end_date.as_deref())
        .collect();
    let times: Vec<Option<i64>> = executions.iter().map(|e| e.execution_time).collect();
    let by: Vec<Option<&str>> = executions
        .iter()
        .map(|e| e.executed_by_id.as_deref())
        .collect();
    let to: Vec<Option<&str>> = executions
        .iter()
        .map(|e| e.assigned_to_id.as_deref())
        .collect();
    let comments: Vec<Option<&str>> = executions.iter().map(|e| e.comment.as_deref()).collect();
    let custom: Vec<Value> = executions
        .iter()
        .map(|e| Value::Object(e.custom_fields.clone()))
        .collect();
    sqlx::query(
        "INSERT INTO src_test_executions (run_id, id, key, test_case_key, test_case_version,
           test_cycle_id, status_id, environment_id, actual_end_date, execution_time_ms,
           executed_by, assigned_to, comment, custom_fields, raw)
         SELECT $1, u.* FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[],
                $6::bigint[], $7::bigint[], $8::bigint[], $9::text[], $10::bigint[],
                $11::text[], $12::text[], $13::text[], $14::jsonb[], $15::jsonb[]) AS u
         ON CONFLICT (run_id, id) DO UPDATE SET key = EXCLUDED.key,
           test_case_key = EXCLUDED.test_case_key, test_case_version = EXCLUDED.test_case_version,
           test_cycle_id = EXCLUDED.test_cycle_id, status_id = EXCLUDED.status_id,
           environment_id = EXCLUDED.environment_id, actual_end_date = EXCLUDED.actual_end_date,
           execution_time_ms = EXCLUDED.execution_time_ms, executed_by = EXCLUDED.executed_by,
           assigned_to = EXCLUDED.assigned_to, comment = EXCLUDED.comment,
           custom_fields = EXCLUDED.custom_fields, raw = EXCLUDED.raw",
    )
    .bind(run_id)
    .bind(&ids)
    .bind(&keys)
    .bind(&case_keys)
    .bind(&versions)
    .bind(&cycles)
    .bind(&statuses)
    .bind(&envs)
    .bind(&ends)
    .bind(&times)
    .bind(&by)
    .bind(&to)
    .bind(&comments)
    .bind(&custom)
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

/// Replaces an execution's step results (read by the worker).
pub async fn save_execution_steps(
    conn: &mut PgConnection,
    run_id: i64,
    execution_id: i64,
    steps: &[ExecutionStep],
) -> Result<(), sqlx::Error> {
    let (steps, raw) = pg_safe(steps, "execution steps")?;
    sqlx::query("DELETE FROM src_execution_steps WHERE run_id = $1 AND execution_id = $2")
        .bind(run_id)
        .bind(execution_id)
        .execute(&mut *conn)
        .await?;
    let idx: Vec<i32> = (0..steps.len() as i32).collect();
    let ids: Vec<Option<i64>> = steps.iter().map(|s| s.id).collect();
    let inline = |f: fn(&ztoq_model::zephyr::ExecutionStepInline) -> Option<&str>| {
        steps
            .iter()
            .map(|s| s.inline.as_ref().and_then(f))
            .collect::<Vec<Option<&str>>>()
    };
    let descriptions = inline(|i| i.description.as_deref());
    let expected = inline(|i| i.expected_result.as_deref());
    let actual = inline(|i| i.actual_result.as_deref());
    let statuses: Vec<Option<i64>> = steps
        .iter()
        .map(|s| {
            s.inline
                .as_ref()
                .and_then(|i| i.status.as_ref())
                .map(|r| r.id)
        })
        .collect();
    sqlx::query(
        "INSERT INTO src_execution_steps (run_id, execution_id, idx, step_id, description,
           expected_result, actual_result, status_id, raw)
         SELECT $1, $2, u.* FROM unnest($3::int[], $4::bigint[], $5::text[], $6::text[],
                $7::text[], $8::bigint[], $9::jsonb[]) AS u",
    )
    .bind(run_id)
    .bind(execution_id)
    .bind(&idx)
    .bind(&ids)
    .bind(&descriptions)
    .bind(&expected)
    .bind(&actual)
    .bind(&statuses)
    .bind(&raw)
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores the attachments found on one owner (`test_case` or `execution`).
pub async fn save_attachments(
    conn: &mut PgConnection,
    run_id: i64,
    owner_kind: &str,
    owner_id: i64,
    attachments: &[AttachmentRef],
) -> Result<(), sqlx::Error> {
    let ids: Vec<i64> = attachments.iter().map(|a| a.id).collect();
    let names: Vec<String> = attachments.iter().map(attachment_name).collect();
    sqlx::query(
        "INSERT INTO src_attachments (run_id, id, owner_kind, owner_id, name)
         SELECT $1, u.id, $2, $3, u.name FROM unnest($4::bigint[], $5::text[]) AS u(id, name)
         ON CONFLICT (run_id, id) DO UPDATE SET owner_kind = EXCLUDED.owner_kind,
           owner_id = EXCLUDED.owner_id, name = EXCLUDED.name",
    )
    .bind(run_id)
    .bind(owner_kind)
    .bind(owner_id)
    .bind(&ids)
    .bind(&names)
    .execute(conn)
    .await?;
    Ok(())
}

/// The file name ztoq uses for an attachment (the API may omit the name; NULs removed).
pub fn attachment_name(a: &AttachmentRef) -> String {
    a.name
        .as_deref()
        .map(|n| n.replace('\0', ""))
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| format!("attachment-{}", a.id))
}

/// A stored attachment: its owner and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrcAttachment {
    /// Attachment id.
    pub id: i64,
    /// `test_case` or `execution`.
    pub owner_kind: String,
    /// The owner's Zephyr id.
    pub owner_id: i64,
    /// File name.
    pub name: String,
}

async fn one_raw<T: DeserializeOwned>(
    conn: &mut PgConnection,
    sql: &'static str,
    run_id: i64,
    id: i64,
) -> Result<Option<T>, sqlx::Error> {
    let row = sqlx::query(sql)
        .bind(run_id)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| from_raw(r.get::<Value, _>("raw"))).transpose()
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

/// A stored execution.
pub async fn execution(
    conn: &mut PgConnection,
    run_id: i64,
    id: i64,
) -> Result<Option<TestExecution>, sqlx::Error> {
    one_raw(
        conn,
        "SELECT raw FROM src_test_executions WHERE run_id = $1 AND id = $2",
        run_id,
        id,
    )
    .await
}

async fn many_raw<T: DeserializeOwned>(
    conn: &mut PgConnection,
    sql: &'static str,
    run_id: i64,
    id: i64,
) -> Result<Vec<T>, sqlx::Error> {
    let rows = sqlx::query(sql)
        .bind(run_id)
        .bind(id)
        .fetch_all(conn)
        .await?;
    rows.into_iter()
        .map(|r| from_raw(r.get::<Value, _>("raw")))
        .collect()
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

/// An execution's stored step results, in order.
pub async fn execution_steps(
    conn: &mut PgConnection,
    run_id: i64,
    execution_id: i64,
) -> Result<Vec<ExecutionStep>, sqlx::Error> {
    many_raw(
        conn,
        "SELECT raw FROM src_execution_steps WHERE run_id = $1 AND execution_id = $2 ORDER BY idx",
        run_id,
        execution_id,
    )
    .await
}

/// A stored attachment.
pub async fn attachment(
    conn: &mut PgConnection,
    run_id: i64,
    id: i64,
) -> Result<Option<SrcAttachment>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, owner_kind, owner_id, name FROM src_attachments WHERE run_id = $1 AND id = $2",
    )
    .bind(run_id)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| SrcAttachment {
        id: r.get("id"),
        owner_kind: r.get("owner_kind"),
        owner_id: r.get("owner_id"),
        name: r.get("name"),
    }))
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

/// For each of `execution_ids`, the previous execution (lower id) of the same cycle and test
/// case, if any.
pub async fn previous_executions(
    conn: &mut PgConnection,
    run_id: i64,
    execution_ids: &[i64],
) -> Result<std::collections::HashMap<i64, i64>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT e.id, (SELECT max(p.id) FROM src_test_executions p
                       WHERE p.run_id = e.run_id AND p.test_cycle_id = e.test_cycle_id
                         AND p.test_case_key = e.test_case_key AND p.id < e.id) AS prev
         FROM src_test_executions e WHERE e.run_id = $1 AND e.id = ANY($2)",
    )
    .bind(run_id)
    .bind(execution_ids)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            r.get::<Option<i64>, _>("prev")
                .map(|p| (r.get::<i64, _>("id"), p))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ztoq_pgtemp::testdb::TestDb;

    fn case(id: i64, name: &str) -> TestCase {
        serde_json::from_value(serde_json::json!({
            "id": id, "key": format!("P-T{id}"), "name": name, "project": {"id": 1},
            "priority": {"id": 2}, "status": {"id": 3},
            "objective": "<p>a\u{0}b</p>", "labels": ["x\u{0}"],
            "customFields": {"No\u{0}te": "v\u{0}"}
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn nuls_never_reach_postgres() {
        let db = TestDb::new().await;
        let pool = db.pool().await;
        crate::migrate(&pool).await.unwrap();
        let mut conn = pool.acquire().await.unwrap();
        let run = crate::runs::upsert(
            &mut conn,
            "http://z",
            "P",
            "http://q",
            1,
            &serde_json::json!({}),
        )
        .await
        .unwrap()
        .id;
        let cases = [case(1, "Pay\u{0} 👩‍💻 \u{200F}e\u{301}"), case(2, "plain")];
        save_test_cases(&mut conn, run, &cases).await.unwrap();
        let back = test_case(&mut conn, run, 1).await.unwrap().unwrap();
        assert_eq!(back.name, "Pay 👩‍💻 \u{200F}e\u{301}");
        assert_eq!(back.objective.as_deref(), Some("<p>ab</p>"));
        assert_eq!(back.labels, ["x"]);
        assert_eq!(back.custom_fields["Note"], "v");
        let step: TestStep = serde_json::from_value(serde_json::json!({
            "inline": {"description": "do\u{0}", "expectedResult": "\u{0}"}
        }))
        .unwrap();
        save_test_steps(&mut conn, run, 1, &[step]).await.unwrap();
        let steps = test_steps(&mut conn, run, 1).await.unwrap();
        assert_eq!(
            steps[0].inline.as_ref().unwrap().description.as_deref(),
            Some("do")
        );
        let att = AttachmentRef {
            id: 9,
            name: Some("a\u{0}.txt".into()),
        };
        save_attachments(&mut conn, run, "test_case", 1, &[att])
            .await
            .unwrap();
        assert_eq!(
            attachment(&mut conn, run, 9).await.unwrap().unwrap().name,
            "a.txt"
        );
    }
}
