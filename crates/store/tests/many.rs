//! The verifier's bulk snapshot reads (`snapshot::*_by_id`, `*_by_case`, `*_by_execution`) on
//! a real Postgres: whether a page's ids are dense (read with one range scan) or sparse (read
//! by id list), the answer is exactly the items of the ids asked for, steps in order.

use sqlx::PgPool;
use ztoq_model::zephyr::{ExecutionStep, TestCase, TestStep};
use ztoq_pgtemp::testdb::TestDb;
use ztoq_store::snapshot;

// Only the run set-up of the shared helpers is needed here.
#[allow(dead_code)]
mod common;
use common::setup;

fn case(id: i64) -> TestCase {
    serde_json::from_value(serde_json::json!({
        "id": id, "key": format!("P-T{id}"), "name": format!("case {id}"), "project": {"id": 1},
        "priority": {"id": 2}, "status": {"id": 3}
    }))
    .unwrap()
}

fn step(text: &str) -> TestStep {
    serde_json::from_value(serde_json::json!({"inline": {"description": text}})).unwrap()
}

fn result(text: &str) -> ExecutionStep {
    serde_json::from_value(serde_json::json!({"inline": {"actualResult": text}})).unwrap()
}

/// Cases 1..=20 with two steps each, and step results for "executions" 1..=20.
async fn seed(pool: &PgPool) -> i64 {
    let run = setup(pool).await;
    let mut conn = pool.acquire().await.unwrap();
    let cases: Vec<TestCase> = (1..=20).map(case).collect();
    snapshot::save_test_cases(&mut conn, run, &cases)
        .await
        .unwrap();
    for id in 1..=20 {
        let steps = [step(&format!("{id}a")), step(&format!("{id}b"))];
        snapshot::save_test_steps(&mut conn, run, id, &steps)
            .await
            .unwrap();
        let results = [result(&format!("{id}x")), result(&format!("{id}y"))];
        snapshot::save_execution_steps_many(&mut conn, &[(run, id, &results[..])])
            .await
            .unwrap();
    }
    run
}

fn sorted_keys<V>(map: &std::collections::HashMap<i64, V>) -> Vec<i64> {
    let mut keys: Vec<i64> = map.keys().copied().collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn dense_and_sparse_ids_read_exactly_what_was_asked() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let run = seed(&pool).await;
    let mut conn = pool.acquire().await.unwrap();
    // Dense (3..=8 without 5: a range scan that must skip 5), sparse (1, 10, 20: by list),
    // with a duplicate and an id that is not stored.
    let cases: [(&[i64], Vec<i64>); 3] = [
        (&[3, 4, 6, 7, 8, 4], vec![3, 4, 6, 7, 8]),
        (&[1, 10, 20], vec![1, 10, 20]),
        (&[19, 20, 21], vec![19, 20]),
    ];
    for (ids, expected) in cases {
        let read = snapshot::test_cases_by_id(&mut conn, run, ids)
            .await
            .unwrap();
        assert_eq!(sorted_keys(&read), expected, "cases of {ids:?}");
        for (id, c) in &read {
            assert_eq!(c.key, format!("P-T{id}"));
        }
        let steps = snapshot::test_steps_by_case(&mut conn, run, ids)
            .await
            .unwrap();
        assert_eq!(sorted_keys(&steps), expected, "steps of {ids:?}");
        for (id, list) in &steps {
            let texts: Vec<Option<&str>> = list
                .iter()
                .map(|s| s.inline.as_ref().and_then(|i| i.description.as_deref()))
                .collect();
            let (a, b) = (format!("{id}a"), format!("{id}b"));
            assert_eq!(texts, [Some(a.as_str()), Some(b.as_str())], "in order");
        }
        let results = snapshot::execution_steps_by_execution(&mut conn, run, ids)
            .await
            .unwrap();
        assert_eq!(sorted_keys(&results), expected, "results of {ids:?}");
        for (id, list) in &results {
            let texts: Vec<Option<&str>> = list
                .iter()
                .map(|s| s.inline.as_ref().and_then(|i| i.actual_result.as_deref()))
                .collect();
            let (x, y) = (format!("{id}x"), format!("{id}y"));
            assert_eq!(texts, [Some(x.as_str()), Some(y.as_str())], "in order");
        }
    }
    let none = snapshot::test_cases_by_id(&mut conn, run, &[])
        .await
        .unwrap();
    assert!(none.is_empty());
}
