//! Reads of many stored items at once, keyed by id (or by owner id, for steps): one
//! statement per page of records instead of one or two per record, for the verifier.
//!
//! How a page's ids are looked up depends on how dense they are: ids spread over a span at
//! most [`DENSE_SPAN`] times their number are read with one range scan of the primary key
//! (the rows of ids in the span that were not asked for are skipped), sparser ones with
//! `= ANY(ids)` (one index descent per id, which costs Postgres more than the rows it reads
//! when a page's ids are consecutive, the usual case). Either way the answer is exactly the
//! items of the ids asked for, and a range never reads more than [`DENSE_SPAN`] times as many
//! items as were asked for.
//!
//! Each `raw` is decoded straight from the row's JSON text into its item type (no
//! `serde_json::Value` in between: the verifier reads millions of steps).

use serde::de::DeserializeOwned;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{PgConnection, Row};
use std::collections::HashMap;
use ztoq_model::zephyr::{ExecutionStep, Folder, TestCase, TestCycle, TestExecution, TestStep};

use super::attachments::SrcAttachment;

/// Ids spread over at most this many times their number are read with a range scan.
const DENSE_SPAN: i128 = 2;

/// One read, by id list (`$2 = ids`) or by id range (`$2 ..= $3`); `$1 = run_id` in both.
struct Select {
    by_list: &'static str,
    by_range: &'static str,
}

/// The rows of `select` for `ids` whose key (column `key_column`) is one of `ids`.
async fn rows_for(
    conn: &mut PgConnection,
    select: &Select,
    key_column: &str,
    run_id: i64,
    ids: &[i64],
) -> Result<Vec<PgRow>, sqlx::Error> {
    let mut wanted = ids.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let (Some(&lo), Some(&hi)) = (wanted.first(), wanted.last()) else {
        return Ok(Vec::new());
    };
    let span = i128::from(hi) - i128::from(lo) + 1;
    if span > DENSE_SPAN * wanted.len() as i128 {
        return sqlx::query(select.by_list)
            .bind(run_id)
            .bind(&wanted)
            .fetch_all(conn)
            .await;
    }
    let rows = sqlx::query(select.by_range)
        .bind(run_id)
        .bind(lo)
        .bind(hi)
        .fetch_all(conn)
        .await?;
    let mut kept = Vec::with_capacity(rows.len());
    for row in rows {
        if wanted.binary_search(&row.try_get(key_column)?).is_ok() {
            kept.push(row);
        }
    }
    Ok(kept)
}

/// `(key, raw)` rows of `select` grouped by key, in row order.
async fn grouped<T: DeserializeOwned>(
    conn: &mut PgConnection,
    select: &Select,
    run_id: i64,
    ids: &[i64],
) -> Result<HashMap<i64, Vec<T>>, sqlx::Error> {
    let rows = rows_for(conn, select, "key", run_id, ids).await?;
    let mut out: HashMap<i64, Vec<T>> = HashMap::new();
    for row in rows {
        let Json(item) = row.try_get::<Json<T>, _>("raw")?;
        out.entry(row.try_get("key")?).or_default().push(item);
    }
    Ok(out)
}

/// `(key, raw)` rows of `select`, one item per key.
async fn by_key<T: DeserializeOwned>(
    conn: &mut PgConnection,
    select: &Select,
    run_id: i64,
    ids: &[i64],
) -> Result<HashMap<i64, T>, sqlx::Error> {
    Ok(grouped(conn, select, run_id, ids)
        .await?
        .into_iter()
        .filter_map(|(k, mut v)| v.pop().map(|item| (k, item)))
        .collect())
}

/// The stored folders (of every tree) among `ids`.
pub async fn folders_by_id(
    conn: &mut PgConnection,
    run_id: i64,
    ids: &[i64],
) -> Result<HashMap<i64, Folder>, sqlx::Error> {
    by_key(
        conn,
        &Select {
            by_list: "SELECT id AS key, raw FROM src_folders
                      WHERE run_id = $1 AND id = ANY($2)",
            by_range: "SELECT id AS key, raw FROM src_folders
                       WHERE run_id = $1 AND id BETWEEN $2 AND $3",
        },
        run_id,
        ids,
    )
    .await
}

/// The stored test cycles among `ids`.
pub async fn test_cycles_by_id(
    conn: &mut PgConnection,
    run_id: i64,
    ids: &[i64],
) -> Result<HashMap<i64, TestCycle>, sqlx::Error> {
    by_key(
        conn,
        &Select {
            by_list: "SELECT id AS key, raw FROM src_test_cycles
                      WHERE run_id = $1 AND id = ANY($2)",
            by_range: "SELECT id AS key, raw FROM src_test_cycles
                       WHERE run_id = $1 AND id BETWEEN $2 AND $3",
        },
        run_id,
        ids,
    )
    .await
}

/// The stored test cases among `ids`.
pub async fn test_cases_by_id(
    conn: &mut PgConnection,
    run_id: i64,
    ids: &[i64],
) -> Result<HashMap<i64, TestCase>, sqlx::Error> {
    by_key(
        conn,
        &Select {
            by_list: "SELECT id AS key, raw FROM src_test_cases
                      WHERE run_id = $1 AND id = ANY($2)",
            by_range: "SELECT id AS key, raw FROM src_test_cases
                       WHERE run_id = $1 AND id BETWEEN $2 AND $3",
        },
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
        &Select {
            by_list: "SELECT test_case_id AS key, raw FROM src_test_steps
                      WHERE run_id = $1 AND test_case_id = ANY($2) ORDER BY test_case_id, idx",
            by_range: "SELECT test_case_id AS key, raw FROM src_test_steps
                       WHERE run_id = $1 AND test_case_id BETWEEN $2 AND $3 ORDER BY test_case_id, idx",
        },
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
        &Select {
            by_list: "SELECT id AS key, raw FROM src_test_executions
                      WHERE run_id = $1 AND id = ANY($2)",
            by_range: "SELECT id AS key, raw FROM src_test_executions
                       WHERE run_id = $1 AND id BETWEEN $2 AND $3",
        },
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
        &Select {
            by_list: "SELECT execution_id AS key, raw FROM src_execution_steps
                      WHERE run_id = $1 AND execution_id = ANY($2) ORDER BY execution_id, idx",
            by_range: "SELECT execution_id AS key, raw FROM src_execution_steps
                       WHERE run_id = $1 AND execution_id BETWEEN $2 AND $3 ORDER BY execution_id, idx",
        },
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
    let select = Select {
        by_list: "SELECT id, owner_kind, owner_id, name FROM src_attachments
                  WHERE run_id = $1 AND id = ANY($2)",
        by_range: "SELECT id, owner_kind, owner_id, name FROM src_attachments
                   WHERE run_id = $1 AND id BETWEEN $2 AND $3",
    };
    let rows = rows_for(conn, &select, "id", run_id, ids).await?;
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
