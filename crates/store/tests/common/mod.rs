//! Helpers the store's integration tests share: a migrated database with one run, and
//! shorthands for new records and their dependency edges.

use sqlx::PgPool;
use ztoq_model::RecordKind;
use ztoq_store::records::{NewDep, NewRecord};

/// Migrates the test's database and creates one run; returns its id.
pub async fn setup(pool: &PgPool) -> i64 {
    ztoq_store::migrate(pool).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    ztoq_store::runs::upsert(
        &mut conn,
        "http://z/v2",
        "P",
        "http://q",
        1,
        &serde_json::json!({}),
    )
    .await
    .unwrap()
    .id
}

/// A new record with source id `id` and key `k{id}`.
pub fn rec(id: i64) -> NewRecord {
    NewRecord {
        source_id: id,
        source_key: format!("k{id}"),
    }
}

/// "`child` waits for the record of `kind` with source id `parent`".
pub fn dep(child: i64, kind: RecordKind, parent: i64) -> NewDep {
    NewDep {
        child_source_id: child,
        parent_kind: kind,
        parent_source_id: parent,
    }
}
