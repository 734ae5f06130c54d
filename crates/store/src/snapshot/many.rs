//! Reads of many stored items at once, keyed by id (or by owner id, for steps): one
//! statement per page of records instead of one or two per record, for the verifier.

use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::{PgConnection, Row};
use std::collections::HashMap;
use ztoq_model::zephyr::{ExecutionStep, TestCase, TestExecution, TestStep};

use super::attachments::SrcAttachment;

fn decode<T: DeserializeOwned>(raw: Value) -> Result<T, sqlx::Error> {
    serde_json::from_value(raw).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// `(key, raw)` rows of `sql` (`$1 = run_id, $2 = ids`) grouped by key, in row order.
async fn grouped<T: DeserializeOwned>(
    conn: &mut PgConnection,
    sql: &'static str,
    run_id: i64,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<T>>, sqlx::Error> {
    let rows = sqlx::query(sql)
        .bind(run_id)
        .bind(ids)
        .fetch_all(conn)
        .await?;
    let mut out: HashMap<i64, Vec<T>> = HashMap::new();
    for row in rows {
        out.entry(row.try_get("key")?)
            .or_default()
            .push(decode(row.try_get("raw")?)?);
    }
    Ok(out)
}

/// `(key, raw)` rows of `sql` (`$1 = run_id, $2 = ids`), one item per key.
async fn by_key<T: DeserializeOwned>(
    conn: &mut PgConnection,
    sql: &'static str,
    run_id: i64,
    ids: &[i64],
) -> Result<HashMap<i64, T>, sqlx::Error> {
    Ok(grouped(conn, sql, run_id, ids)
        .await?
        .into_iter()
        .filter_map(|(k, mut v)| v.pop().map(|item| (k, item)))
        .collect())
}

/// The stored test cases among `ids`.
pub async fn test_cases_by_id(
    conn: &mut PgConnection,
    run_id: i64,
    ids: &[i64],
) -> Result<HashMap<i64, TestCase>, sqlx::Error> {
    by_key(
        conn,
        "SELECT id AS key, raw FROM src_test_cases WHERE run_id = $1 AND id = ANY($2)",
        run_id,
        ids,
    )
    .await
}

/// The stored steps of the test cases `ids`, in order, by test case id (cases without steps
/// are absent).
pub async fn test_steps_by_case(
    conn: &mut PgConnection,
    run_id: i64,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<TestStep>>, sqlx::Error> {
    grouped(
        conn,
        "SELECT test_case_id AS key, raw FROM src_test_steps
         WHERE run_id = $1 AND test_case_id = ANY($2) ORDER BY test_case_id, idx",
        run_id,
        ids,
    )
    .await
}

/// The stored executions among `ids`.
pub async fn executions_by_id(
    conn: &mut PgConnection,
    run_id: i64,
    ids: &[i64],
) -> Result<HashMap<i64, TestExecution>, sqlx::Error> {
    by_key(
        conn,
        "SELECT id AS key, raw FROM src_test_executions WHERE run_id = $1 AND id = ANY($2)",
        run_id,
        ids,
    )
    .await
}

/// The stored step results of the executions `ids`, in order, by execution id.
pub async fn execution_steps_by_execution(
    conn: &mut PgConnection,
    run_id: i64,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<ExecutionStep>>, sqlx::Error> {
    grouped(
        conn,
        "SELECT execution_id AS key, raw FROM src_execution_steps
         WHERE run_id = $1 AND execution_id = ANY($2) ORDER BY execution_id, idx",
        run_id,
        ids,
    )
    .await
}

/// The stored attachments among `ids`.
pub async fn attachments_by_id(
    conn: &mut PgConnection,
    run_id: i64,
    ids: &[i64],
) -> Result<HashMap<i64, SrcAttachment>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, owner_kind, owner_id, name FROM src_attachments
         WHERE run_id = $1 AND id = ANY($2)",
    )
    .bind(run_id)
    .bind(ids)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                SrcAttachment {
                    id: r.try_get("id")?,
                    owner_kind: r.try_get("owner_kind")?,
                    owner_id: r.try_get("owner_id")?,
                    name: r.try_get("name")?,
                },
            ))
        })
        .collect()
}
