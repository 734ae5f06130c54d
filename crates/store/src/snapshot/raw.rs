//! The `raw` column, both ways: items go in as their JSON with every NUL removed
//! (`pg_safe`) and come back out by deserialising it (`one_raw`, `many_raw`), so the
//! worker and the verifier see exactly what the API sent, less the NULs.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;
use sqlx::{PgConnection, Row};
use std::borrow::Cow;

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

/// An item's JSON as sent to a `jsonb` parameter, serialised once (no `Value` in between).
pub(super) type RawJson = sqlx::types::Json<Box<RawValue>>;

/// Items as Postgres can take them: their JSON (the `raw` column) with every NUL removed and,
/// only when there were some, the items decoded back from it (so the text columns and `raw`
/// agree). The common case serialises each item straight to its JSON text: a NUL can only be
/// there as the escape `\u0000`, and text without that sequence has none. Text with it (a NUL,
/// or a literal backslash before `u0000`) takes the slower way through `Value`.
pub(super) fn pg_safe<'a, T: Serialize + DeserializeOwned + Clone>(
    items: &'a [T],
    what: &str,
) -> Result<(Cow<'a, [T]>, Vec<RawJson>), sqlx::Error> {
    let encode = |e: serde_json::Error| sqlx::Error::Encode(Box::new(e));
    let raw = items
        .iter()
        .map(|i| serde_json::value::to_raw_value(i).map_err(encode))
        .collect::<Result<Vec<_>, _>>()?;
    if !raw.iter().any(|r| r.get().contains("\\u0000")) {
        return Ok((
            Cow::Borrowed(items),
            raw.into_iter().map(sqlx::types::Json).collect(),
        ));
    }
    let mut values = to_raw(items)?;
    let removed: usize = values.iter_mut().map(strip_nul).sum();
    if removed > 0 {
        tracing::warn!(
            what,
            removed,
            "NUL characters removed before storing source items"
        );
    }
    let cleaned = values
        .iter()
        .map(|r| from_raw(r.clone()))
        .collect::<Result<Vec<T>, _>>()?;
    let raw = values
        .iter()
        .map(|v| {
            serde_json::value::to_raw_value(v)
                .map(sqlx::types::Json)
                .map_err(encode)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((Cow::Owned(cleaned), raw))
}

fn from_raw<T: DeserializeOwned>(raw: Value) -> Result<T, sqlx::Error> {
    serde_json::from_value(raw).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// The item of the row `sql` finds for `$1 = run_id, $2 = id`, read from its `raw` column.
pub(super) async fn one_raw<T: DeserializeOwned>(
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

/// The items of the rows `sql` finds for `$1 = run_id, $2 = id`, read from their `raw`
/// columns.
pub(super) async fn many_raw<T: DeserializeOwned>(
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
