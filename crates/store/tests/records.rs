//! The dependency bookkeeping on a real Postgres (each test gets a fresh database: see
//! `ztoq_pgtemp::testdb`): readiness counters, release, blocking, retry, idempotency.

use sqlx::PgPool;
use ztoq_model::{RecordKind as K, RecordState};
use ztoq_pgtemp::testdb::TestDb;
use ztoq_store::records;

mod common;
use common::{dep, rec, setup};

async fn state(pool: &PgPool, run: i64, kind: K, id: i64) -> (RecordState, i64) {
    let mut conn = pool.acquire().await.unwrap();
    let r = records::find(&mut conn, run, kind, id)
        .await
        .unwrap()
        .unwrap();
    (r.state, r.id)
}

async fn jobs(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM apalis.jobs")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn done(pool: &PgPool, record_id: i64) -> Option<u64> {
    let mut tx = pool.begin().await.unwrap();
    let r = records::mark_done_and_release(&mut tx, record_id, record_id * 10, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    r
}

#[tokio::test]
async fn parents_release_children_only_when_all_are_done() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let run = setup(&pool).await;
    let mut tx = pool.begin().await.unwrap();
    let f = records::insert_records(&mut tx, run, K::Folder, &[rec(1)], &[])
        .await
        .unwrap();
    let y = records::insert_records(&mut tx, run, K::TestCycle, &[rec(2)], &[])
        .await
        .unwrap();
    let c = records::insert_records(
        &mut tx,
        run,
        K::TestCase,
        &[rec(3)],
        &[dep(3, K::Folder, 1)],
    )
    .await
    .unwrap();
    let e = records::insert_records(
        &mut tx,
        run,
        K::Execution,
        &[rec(4)],
        &[dep(4, K::TestCase, 3), dep(4, K::TestCycle, 2)],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((f.ready, y.ready, c.ready, e.ready), (1, 1, 0, 0));
    assert_eq!(
        jobs(&pool).await,
        2,
        "a job for each record with nothing to wait for"
    );

    let (_, folder) = state(&pool, run, K::Folder, 1).await;
    assert_eq!(
        done(&pool, folder).await,
        Some(1),
        "the folder releases its test case"
    );
    assert_eq!(
        state(&pool, run, K::TestCase, 3).await.0,
        RecordState::Ready
    );
    assert_eq!(jobs(&pool).await, 3);
    let (_, case) = state(&pool, run, K::TestCase, 3).await;
    assert_eq!(
        done(&pool, case).await,
        Some(0),
        "the execution still waits for its cycle"
    );
    assert_eq!(
        state(&pool, run, K::Execution, 4).await.0,
        RecordState::Waiting
    );
    let (_, cycle) = state(&pool, run, K::TestCycle, 2).await;
    assert_eq!(done(&pool, cycle).await, Some(1));
    assert_eq!(
        state(&pool, run, K::Execution, 4).await.0,
        RecordState::Ready
    );
    assert_eq!(jobs(&pool).await, 4);
    assert_eq!(done(&pool, folder).await, None, "a record is done once");
}

#[tokio::test]
async fn a_failure_blocks_descendants_and_retry_brings_them_back() {
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
    records::insert_records(
        &mut tx,
        run,
        K::TestCase,
        &[rec(3), rec(4)],
        &[dep(3, K::Folder, 2), dep(4, K::Folder, 1)],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (_, root) = state(&pool, run, K::Folder, 1).await;
    done(&pool, root).await;
    let (_, sub) = state(&pool, run, K::Folder, 2).await;
    let mut tx = pool.begin().await.unwrap();
    let blocked = records::mark_failed_and_block(&mut tx, sub, "boom")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(blocked, 1);
    assert_eq!(
        state(&pool, run, K::TestCase, 3).await.0,
        RecordState::Blocked
    );
    assert_eq!(
        state(&pool, run, K::TestCase, 4).await.0,
        RecordState::Ready,
        "the sibling branch goes on"
    );

    // A record enqueued later under the failed folder is blocked at once.
    let mut tx = pool.begin().await.unwrap();
    let late = records::insert_records(
        &mut tx,
        run,
        K::TestCase,
        &[rec(5)],
        &[dep(5, K::Folder, 2)],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(late.blocked, 1);

    let mut conn = pool.acquire().await.unwrap();
    let failures = ztoq_store::report::failures(&mut conn, run, 10)
        .await
        .unwrap();
    assert_eq!(failures[0].error.as_deref(), Some("boom"));
    assert!(
        failures[1..]
            .iter()
            .all(|f| f.blocked_by.as_deref() == Some("folder k2"))
    );

    let summary = records::retry_run(&mut conn, run).await.unwrap();
    assert_eq!((summary.failed, summary.unblocked), (1, 2));
    assert_eq!(state(&pool, run, K::Folder, 2).await.0, RecordState::Ready);
    assert_eq!(
        state(&pool, run, K::TestCase, 3).await.0,
        RecordState::Waiting
    );
    done(&pool, sub).await;
    assert_eq!(
        state(&pool, run, K::TestCase, 3).await.0,
        RecordState::Ready
    );
    assert_eq!(
        state(&pool, run, K::TestCase, 5).await.0,
        RecordState::Ready
    );
}

#[tokio::test]
async fn missing_parents_fail_and_inserting_twice_changes_nothing() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let run = setup(&pool).await;
    let mut tx = pool.begin().await.unwrap();
    records::insert_records(&mut tx, run, K::Folder, &[rec(1)], &[])
        .await
        .unwrap();
    let first = records::insert_records(
        &mut tx,
        run,
        K::TestCase,
        &[rec(3), rec(4)],
        &[dep(3, K::Folder, 1), dep(4, K::Folder, 99)],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((first.inserted, first.missing_parent), (2, 1));
    let (s, id) = state(&pool, run, K::TestCase, 4).await;
    assert_eq!(s, RecordState::Failed);
    let err: Option<String> = sqlx::query_scalar("SELECT last_error FROM records WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        err.as_deref(),
        Some("test_case k4 depends on folder 99, which is not in the source")
    );

    let before = jobs(&pool).await;
    let mut tx = pool.begin().await.unwrap();
    let again = records::insert_records(
        &mut tx,
        run,
        K::TestCase,
        &[rec(3), rec(4)],
        &[dep(3, K::Folder, 1), dep(4, K::Folder, 99)],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(again.inserted, 0);
    assert_eq!(jobs(&pool).await, before);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM records")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 3);
}

#[tokio::test]
async fn retries_push_a_delayed_job_of_a_new_generation() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let run = setup(&pool).await;
    let mut tx = pool.begin().await.unwrap();
    records::insert_records(&mut tx, run, K::Folder, &[rec(1)], &[])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (_, id) = state(&pool, run, K::Folder, 1).await;
    let mut tx = pool.begin().await.unwrap();
    records::schedule_retry(&mut tx, id, "HTTP 503", 30.0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let rows: Vec<(String, bool)> = sqlx::query_as(
        "SELECT idempotency_key, run_at > now() + interval '20 seconds' FROM apalis.jobs ORDER BY idempotency_key",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            (format!("rec-{id}-1"), false),
            (format!("rec-{id}-2"), true)
        ]
    );
    let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM records WHERE id = $1")
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(attempts, 1);
}
