//! `insert_records` on a real Postgres: records settled before they are inserted, batches
//! whose own parents already exist, parents finishing concurrently with the insert of their
//! children (in both orders), and a deleted run taking its rows with it.

use sqlx::PgPool;
use std::time::Duration;
use ztoq_model::zephyr::{AttachmentRef, ExecutionStep, TestStep};
use ztoq_model::{RecordKind as K, RecordState};
use ztoq_pgtemp::testdb::TestDb;
use ztoq_store::{records, snapshot};

mod common;
use common::{dep, rec, setup};

async fn state(pool: &PgPool, run: i64, kind: K, id: i64) -> (RecordState, i64, i32) {
    let mut conn = pool.acquire().await.unwrap();
    let r = records::find(&mut conn, run, kind, id)
        .await
        .unwrap()
        .unwrap();
    let pending: i32 = sqlx::query_scalar("SELECT pending_deps FROM records WHERE id = $1")
        .bind(r.id)
        .fetch_one(pool)
        .await
        .unwrap();
    (r.state, r.id, pending)
}

async fn jobs_of(pool: &PgPool, record_id: i64) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT idempotency_key FROM apalis.jobs WHERE idempotency_key LIKE 'rec-' || $1 || '-%'",
    )
    .bind(record_id)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn done(pool: &PgPool, record_id: i64) {
    let mut tx = pool.begin().await.unwrap();
    records::mark_done_and_release(&mut tx, record_id, record_id * 10, None)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn chains_in_one_batch_settle_and_jobs_are_the_first_generation() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let run = setup(&pool).await;
    let mut tx = pool.begin().await.unwrap();
    // Children listed before their parents; 4's parent is missing, 5 is below 4.
    let out = records::insert_records(
        &mut tx,
        run,
        K::Folder,
        &[rec(3), rec(2), rec(1), rec(5), rec(4), rec(1)],
        &[
            dep(3, K::Folder, 2),
            dep(2, K::Folder, 1),
            dep(5, K::Folder, 4),
            dep(4, K::Folder, 99),
        ],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        (out.inserted, out.ready, out.blocked, out.missing_parent),
        (5, 1, 1, 1)
    );
    let (s1, id1, _) = state(&pool, run, K::Folder, 1).await;
    assert_eq!(s1, RecordState::Ready);
    assert_eq!(jobs_of(&pool, id1).await, [format!("rec-{id1}-1")]);
    let (_, id4, _) = state(&pool, run, K::Folder, 4).await;
    let (s5, _, _) = state(&pool, run, K::Folder, 5).await;
    assert_eq!(s5, RecordState::Blocked);
    let blocked_by: Option<i64> =
        sqlx::query_scalar("SELECT blocked_by FROM records WHERE run_id = $1 AND source_id = 5")
            .bind(run)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(blocked_by, Some(id4));
    assert_eq!(state(&pool, run, K::Folder, 3).await.2, 1);

    done(&pool, id1).await;
    let (s2, id2, _) = state(&pool, run, K::Folder, 2).await;
    assert_eq!(s2, RecordState::Ready);
    assert_eq!(jobs_of(&pool, id2).await, [format!("rec-{id2}-1")]);
    done(&pool, id2).await;
    assert_eq!(state(&pool, run, K::Folder, 3).await.0, RecordState::Ready);
}

#[tokio::test]
async fn new_records_below_existing_ones_of_the_same_batch_settle_against_them() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let run = setup(&pool).await;
    let mut tx = pool.begin().await.unwrap();
    records::insert_records(&mut tx, run, K::Execution, &[rec(1), rec(2)], &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (_, id1, _) = state(&pool, run, K::Execution, 1).await;
    done(&pool, id1).await;

    // Enqueued again with new executions after 1 (done) and 2 (ready, not done).
    let mut tx = pool.begin().await.unwrap();
    let out = records::insert_records(
        &mut tx,
        run,
        K::Execution,
        &[rec(1), rec(2), rec(3), rec(4), rec(5)],
        &[
            dep(3, K::Execution, 1),
            dep(4, K::Execution, 2),
            dep(5, K::Execution, 4),
        ],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((out.inserted, out.ready), (3, 1));
    let (s3, id3, p3) = state(&pool, run, K::Execution, 3).await;
    assert_eq!((s3, p3), (RecordState::Ready, 0), "its parent was done");
    assert_eq!(jobs_of(&pool, id3).await, [format!("rec-{id3}-1")]);
    assert_eq!(
        state(&pool, run, K::Execution, 4).await.0,
        RecordState::Waiting
    );
    let (_, id2, _) = state(&pool, run, K::Execution, 2).await;
    done(&pool, id2).await;
    assert_eq!(
        state(&pool, run, K::Execution, 4).await.0,
        RecordState::Ready,
        "the edge went to the existing record"
    );
    assert_eq!(
        state(&pool, run, K::Execution, 5).await.0,
        RecordState::Waiting
    );
}

/// A parent marked done by a transaction that commits while its children are being inserted:
/// whichever commits first, the child ends ready with exactly one job.
#[tokio::test]
async fn a_parent_finishing_during_the_insert_never_strands_its_child() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let run = setup(&pool).await;
    for worker_first in [true, false] {
        let folder = if worker_first { 1 } else { 2 };
        let case = folder + 10;
        let mut tx = pool.begin().await.unwrap();
        records::insert_records(&mut tx, run, K::Folder, &[rec(folder)], &[])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let (_, parent, _) = state(&pool, run, K::Folder, folder).await;

        let mut worker = pool.begin().await.unwrap();
        let mut enqueue = pool.begin().await.unwrap();
        if worker_first {
            // The worker holds the parent's row; the insert waits for it, then reads it done.
            records::mark_done_and_release(&mut worker, parent, 1, None)
                .await
                .unwrap();
            let insert = tokio::spawn(async move {
                let out = records::insert_records(
                    &mut enqueue,
                    run,
                    K::TestCase,
                    &[rec(case)],
                    &[dep(case, K::Folder, folder)],
                )
                .await
                .unwrap();
                enqueue.commit().await.unwrap();
                out
            });
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert!(!insert.is_finished(), "the insert waits for the parent");
            worker.commit().await.unwrap();
            assert_eq!(insert.await.unwrap().ready, 1);
        } else {
            // The insert holds the parent FOR SHARE; the worker waits, then releases the child.
            let out = records::insert_records(
                &mut enqueue,
                run,
                K::TestCase,
                &[rec(case)],
                &[dep(case, K::Folder, folder)],
            )
            .await
            .unwrap();
            assert_eq!(out.ready, 0);
            let finish = tokio::spawn(async move {
                let released = records::mark_done_and_release(&mut worker, parent, 1, None)
                    .await
                    .unwrap();
                worker.commit().await.unwrap();
                released
            });
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert!(!finish.is_finished(), "the worker waits for the insert");
            enqueue.commit().await.unwrap();
            assert_eq!(finish.await.unwrap(), Some(1));
        }
        let (s, child, pending) = state(&pool, run, K::TestCase, case).await;
        assert_eq!((s, pending), (RecordState::Ready, 0), "{worker_first}");
        assert_eq!(jobs_of(&pool, child).await.len(), 1, "{worker_first}");
    }
}

#[tokio::test]
async fn deleting_a_run_deletes_its_records_edges_and_snapshot() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let run = setup(&pool).await;
    let mut tx = pool.begin().await.unwrap();
    records::insert_records(
        &mut tx,
        run,
        K::Folder,
        &[rec(1), rec(2)],
        &[dep(2, K::Folder, 1)],
    )
    .await
    .unwrap();
    // What a worker stores: steps, step results, attachment references.
    let step: TestStep = serde_json::from_value(serde_json::json!({"inline": {}})).unwrap();
    let result: ExecutionStep = serde_json::from_value(serde_json::json!({"inline": {}})).unwrap();
    snapshot::save_test_steps_many(&mut tx, &[(run, 1, &[step.clone(), step][..])])
        .await
        .unwrap();
    snapshot::save_execution_steps_many(&mut tx, &[(run, 5, &[result][..])])
        .await
        .unwrap();
    let att = AttachmentRef {
        id: 9,
        name: Some("a.txt".into()),
    };
    snapshot::save_attachments(&mut tx, run, "test_case", 1, &[att])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    sqlx::query("DELETE FROM runs WHERE id = $1")
        .bind(run)
        .execute(&pool)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM records) + (SELECT count(*) FROM record_deps)
              + (SELECT count(*) FROM src_test_steps) + (SELECT count(*) FROM src_execution_steps)
              + (SELECT count(*) FROM src_attachments)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(left, 0);
}
