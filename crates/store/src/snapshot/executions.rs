//! Test executions and their step results: page writes for the crawl, step replacement for the
//! worker (a batch of executions at a time), step reads, and each execution's predecessor in its
//! cycle.

use super::raw::{RawJson, many_raw, pg_safe};
use serde_json::Value;
use sqlx::{PgConnection, Row};
use ztoq_model::zephyr::{ExecutionStep, TestExecution};

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

/// Replaces the step results of several executions `(run_id, execution_id, steps)` in one
/// statement (a worker's batch of finished executions): each result is written over the row
/// of its position, and rows past an execution's new last result are deleted.
pub async fn save_execution_steps_many(
    conn: &mut PgConnection,
    executions: &[(i64, i64, &[ExecutionStep])],
) -> Result<(), sqlx::Error> {
    if executions.is_empty() {
        return Ok(());
    }
    let owner_runs: Vec<i64> = executions.iter().map(|e| e.0).collect();
    let owner_ids: Vec<i64> = executions.iter().map(|e| e.1).collect();
    let counts: Vec<i32> = executions.iter().map(|e| e.2.len() as i32).collect();
    let safe = executions
        .iter()
        .map(|(run_id, id, steps)| Ok((*run_id, *id, pg_safe(steps, "execution steps")?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let mut rows = ResultRows::default();
    for (run_id, execution_id, (steps, raw)) in &safe {
        for (i, (s, raw)) in steps.iter().zip(raw).enumerate() {
            let inline = s.inline.as_ref();
            rows.run_id.push(*run_id);
            rows.owner_id.push(*execution_id);
            rows.idx.push(i as i32);
            rows.step_id.push(s.id);
            rows.description
                .push(inline.and_then(|i| i.description.as_deref()));
            rows.expected
                .push(inline.and_then(|i| i.expected_result.as_deref()));
            rows.actual
                .push(inline.and_then(|i| i.actual_result.as_deref()));
            rows.status
                .push(inline.and_then(|i| i.status.as_ref()).map(|r| r.id));
            rows.raw.push(raw);
        }
    }
    sqlx::query(
        "WITH past_the_end AS (
             DELETE FROM src_execution_steps s
             USING unnest($10::bigint[], $11::bigint[], $12::int[]) AS o(run_id, id, n)
             WHERE s.run_id = o.run_id AND s.execution_id = o.id AND s.idx >= o.n
         )
         INSERT INTO src_execution_steps (run_id, execution_id, idx, step_id, description,
           expected_result, actual_result, status_id, raw)
         SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::bigint[], $5::text[],
                $6::text[], $7::text[], $8::bigint[], $9::jsonb[])
         ON CONFLICT (run_id, execution_id, idx) DO UPDATE SET step_id = EXCLUDED.step_id,
           description = EXCLUDED.description, expected_result = EXCLUDED.expected_result,
           actual_result = EXCLUDED.actual_result, status_id = EXCLUDED.status_id,
           raw = EXCLUDED.raw",
    )
    .bind(&rows.run_id)
    .bind(&rows.owner_id)
    .bind(&rows.idx)
    .bind(&rows.step_id)
    .bind(&rows.description)
    .bind(&rows.expected)
    .bind(&rows.actual)
    .bind(&rows.status)
    .bind(&rows.raw)
    .bind(&owner_runs)
    .bind(&owner_ids)
    .bind(&counts)
    .execute(conn)
    .await?;
    Ok(())
}

/// Columns of execution-step rows for one multi-row insert.
#[derive(Default)]
struct ResultRows<'a> {
    run_id: Vec<i64>,
    owner_id: Vec<i64>,
    idx: Vec<i32>,
    step_id: Vec<Option<i64>>,
    description: Vec<Option<&'a str>>,
    expected: Vec<Option<&'a str>>,
    actual: Vec<Option<&'a str>>,
    status: Vec<Option<i64>>,
    raw: Vec<&'a RawJson>,
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
