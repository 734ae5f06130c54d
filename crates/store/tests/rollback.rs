//! Rollback bookkeeping on a real Postgres: refusing while records are in flight, cancelling
//! them with force, what is pending and what it waits for, the executions sharing a test run,
//! the durable marks, the run's end, and what a rolled-back run refuses afterwards.

use serde_json::json;
use sqlx::PgPool;
use ztoq_model::{RecordKind as K, RecordState};
use ztoq_pgtemp::testdb::TestDb;
use ztoq_store::records::{self, NewDep, NewRecord};

mod common;
use common::{dep, rec, setup};
use ztoq_store::rollback::{self, Begin};

async fn upsert(pool: &PgPool) -> Result<i64, sqlx::Error> {
    let mut conn = pool.acquire().await.unwrap();
    ztoq_store::runs::upsert(&mut conn, "http://z/v2", "P", "http://q", 1, &json!({}))
        .await
        .map(|r| r.id)
}

async fn insert(pool: &PgPool, run: i64, kind: K, ids: &[i64], deps: &[NewDep]) {
    let mut tx = pool.begin().await.unwrap();
    let recs: Vec<NewRecord> = ids.iter().map(|i| rec(*i)).collect();
    records::insert_records(&mut tx, run, kind, &recs, deps)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn id_of(pool: &PgPool, run: i64, kind: K, source: i64) -> i64 {
    let mut conn = pool.acquire().await.unwrap();
    records::find(&mut conn, run, kind, source)
        .await
        .unwrap()
        .unwrap()
        .id
}

/// Marks a ready record done with a qTest id and data.
async fn done(
    pool: &PgPool,
    run: i64,
    kind: K,
    source: i64,
    qtest_id: i64,
    data: Option<serde_json::Value>,
) -> i64 {
    let id = id_of(pool, run, kind, source).await;
    let mut tx = pool.begin().await.unwrap();
    let r = records::mark_done_and_release(&mut tx, id, qtest_id, data.as_ref())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(r.is_some(), "{kind} {source} was ready");
    id
}

async fn begin(pool: &PgPool, run: i64, force: bool) -> Begin {
    let mut tx = pool.begin().await.unwrap();
    let b = rollback::begin(&mut tx, run, force).await.unwrap();
    tx.commit().await.unwrap();
    b
}

/// A small migrated run: folder 1 ⊃ folder 2 ⊃ case 3 (+ attachment 9 on it); cycle 4; two
/// executions 5 → 6 of case 3 in cycle 4 sharing test run 500 (attachment 10 on 6's log).
async fn migrated(pool: &PgPool, run: i64) {
    insert(pool, run, K::Folder, &[1, 2], &[dep(2, K::Folder, 1)]).await;
    insert(pool, run, K::TestCase, &[3], &[dep(3, K::Folder, 2)]).await;
    insert(pool, run, K::TestCycle, &[4], &[]).await;
    insert(
        pool,
        run,
        K::Execution,
        &[5, 6],
        &[
            dep(5, K::TestCase, 3),
            dep(5, K::TestCycle, 4),
            dep(6, K::TestCase, 3),
            dep(6, K::TestCycle, 4),
            dep(6, K::Execution, 5),
        ],
    )
    .await;
    done(pool, run, K::Folder, 1, 100, None).await;
    done(pool, run, K::Folder, 2, 200, None).await;
    done(pool, run, K::TestCycle, 4, 400, None).await;
    done(
        pool,
        run,
        K::TestCase,
        3,
        300,
        Some(json!({"version_id": 1})),
    )
    .await;
    done(
        pool,
        run,
        K::Execution,
        5,
        501,
        Some(json!({"run_id": 500, "log_id": 501})),
    )
    .await;
    done(
        pool,
        run,
        K::Execution,
        6,
        502,
        Some(json!({"run_id": 500, "log_id": 502})),
    )
    .await;
    insert(pool, run, K::Attachment, &[9], &[dep(9, K::TestCase, 3)]).await;
    insert(pool, run, K::Attachment, &[10], &[dep(10, K::Execution, 6)]).await;
    done(pool, run, K::Attachment, 9, 900, None).await;
    done(pool, run, K::Attachment, 10, 1000, None).await;
}

#[tokio::test]
async fn refuses_while_records_are_in_flight_and_force_cancels_them() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let run = setup(&pool).await;
    insert(&pool, run, K::Folder, &[1, 2], &[dep(2, K::Folder, 1)]).await;
    assert_eq!(
        begin(&pool, run, false).await,
        Begin::Refused {
            waiting: 1,
            ready: 1
        }
    );
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        rollback::state(&mut conn, run)
            .await
            .unwrap()
            .unwrap()
            .started_at,
        None,
        "a refusal changes nothing"
    );
    assert_eq!(begin(&pool, run + 1, false).await, Begin::NoSuchRun);

    assert_eq!(
        begin(&pool, run, true).await,
        Begin::Started {
            resumed: false,
            cancelled: 2
        }
    );
    for source in [1, 2] {
        let r = records::find(&mut conn, run, K::Folder, source)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.state, RecordState::Failed);
    }
    // A job still in the queue finds its record not ready: a worker does nothing with it, and
    // a late "done" from a worker that was in flight is refused.
    let id = id_of(&pool, run, K::Folder, 1).await;
    let mut tx = pool.begin().await.unwrap();
    assert_eq!(
        records::mark_done_and_release(&mut tx, id, 1, None)
            .await
            .unwrap(),
        None
    );
    tx.commit().await.unwrap();
    assert_eq!(
        begin(&pool, run, false).await,
        Begin::Started {
            resumed: true,
            cancelled: 0
        }
    );
    assert!(rollback::finish(&mut conn, run).await.unwrap());

    // Retry refuses the run.
    let err = records::retry_run(&mut conn, run).await.unwrap_err();
    assert!(err.to_string().contains("was rolled back"), "{err}");
}

#[tokio::test]
async fn pending_records_wait_for_their_dependents_and_marks_are_durable() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let run = setup(&pool).await;
    migrated(&pool, run).await;
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(
        begin(&pool, run, false).await,
        Begin::Started {
            resumed: false,
            cancelled: 0
        }
    );

    // Attachments know their owner.
    let atts = rollback::pending_page(&mut conn, run, K::Attachment, 0, 10)
        .await
        .unwrap();
    assert_eq!(atts.len(), 2);
    let on_case = atts.iter().find(|a| a.qtest_id == Some(900)).unwrap();
    let owner = on_case.owner.as_ref().unwrap();
    assert_eq!(
        (owner.kind, owner.qtest_id, owner.rolled_back),
        (K::TestCase, Some(300), false)
    );
    let on_log = atts.iter().find(|a| a.qtest_id == Some(1000)).unwrap();
    let owner = on_log.owner.as_ref().unwrap();
    assert_eq!(owner.kind, K::Execution);
    assert_eq!(owner.qtest_data.as_ref().unwrap()["log_id"], 502);

    // Keyset paging.
    let first = rollback::pending_page(&mut conn, run, K::Attachment, 0, 1)
        .await
        .unwrap();
    let rest = rollback::pending_page(&mut conn, run, K::Attachment, first[0].record_id, 10)
        .await
        .unwrap();
    assert_eq!((first.len(), rest.len()), (1, 1));

    // Executions: the chain 5 → 6 does not hold 5 back; the attachment on 6's log does.
    let execs = rollback::pending_page(&mut conn, run, K::Execution, 0, 10)
        .await
        .unwrap();
    assert_eq!(execs.len(), 2);
    assert_eq!(
        execs[0].alive_dependents, 0,
        "the next execution of the pair does not count"
    );
    assert_eq!(execs[1].alive_dependents, 1, "its attachment does");
    let members = rollback::test_run_members(&mut conn, run, 500)
        .await
        .unwrap();
    assert_eq!(members.len(), 2);
    assert_eq!(members.iter().map(|m| m.alive_dependents).sum::<i64>(), 1);
    assert!(
        rollback::test_run_members(&mut conn, run, 999)
            .await
            .unwrap()
            .is_empty()
    );

    // Containers wait for what they hold.
    let case = rollback::pending_page(&mut conn, run, K::TestCase, 0, 10)
        .await
        .unwrap();
    assert_eq!(
        case[0].alive_dependents, 3,
        "two executions and an attachment"
    );
    let folders = rollback::pending_page(&mut conn, run, K::Folder, 0, 10)
        .await
        .unwrap();
    assert_eq!(
        folders
            .iter()
            .map(|f| f.alive_dependents)
            .collect::<Vec<_>>(),
        vec![1, 1]
    );

    // Marks: the attachments go, the owner is then free of them.
    let ids: Vec<i64> = atts.iter().map(|a| a.record_id).collect();
    rollback::mark_failed(&mut conn, &ids[..1], "HTTP 500")
        .await
        .unwrap();
    assert_eq!(
        rollback::mark_rolled_back(&mut conn, &ids).await.unwrap(),
        2
    );
    assert_eq!(
        rollback::mark_rolled_back(&mut conn, &ids).await.unwrap(),
        0,
        "once"
    );
    let error: Option<String> =
        sqlx::query_scalar("SELECT rollback_error FROM records WHERE id = $1")
            .bind(ids[0])
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(error, None, "cleared once gone");
    assert!(
        rollback::pending_page(&mut conn, run, K::Attachment, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let members = rollback::test_run_members(&mut conn, run, 500)
        .await
        .unwrap();
    assert!(members.iter().all(|m| m.alive_dependents == 0));
    assert!(
        !rollback::finish(&mut conn, run).await.unwrap(),
        "not while items are left"
    );

    let progress = rollback::progress(&mut conn, run).await.unwrap();
    assert_eq!(progress[&K::Attachment].rolled_back, 2);
    assert_eq!(progress[&K::Folder].remaining, 2);

    // Everything else, in order.
    let members: Vec<i64> = members.iter().map(|m| m.record_id).collect();
    rollback::mark_rolled_back(&mut conn, &members)
        .await
        .unwrap();
    for kind in [K::TestCycle, K::TestCase, K::Folder] {
        let page = rollback::pending_page(&mut conn, run, kind, 0, 10)
            .await
            .unwrap();
        let free: Vec<i64> = page
            .iter()
            .filter(|p| p.alive_dependents == 0)
            .map(|p| p.record_id)
            .collect();
        assert!(!free.is_empty(), "{kind}: something is free");
        rollback::mark_rolled_back(&mut conn, &free).await.unwrap();
    }
    // The root folder was held by its child: free now.
    let root = rollback::pending_page(&mut conn, run, K::Folder, 0, 10)
        .await
        .unwrap();
    assert_eq!(root.len(), 1);
    assert_eq!(root[0].alive_dependents, 0);
    rollback::mark_rolled_back(&mut conn, &[root[0].record_id])
        .await
        .unwrap();
    assert!(rollback::finish(&mut conn, run).await.unwrap());
    let state = rollback::state(&mut conn, run).await.unwrap().unwrap();
    assert!(state.started_at.is_some() && state.finished_at.is_some());
    let progress = rollback::progress(&mut conn, run).await.unwrap();
    assert!(progress.values().all(|p| p.remaining == 0));
    assert_eq!(progress.values().map(|p| p.rolled_back).sum::<u64>(), 8);
}

#[tokio::test]
async fn a_run_being_rolled_back_refuses_enqueue_and_a_rolled_back_one_gives_way() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let run = setup(&pool).await;
    assert_eq!(
        upsert(&pool).await.unwrap(),
        run,
        "the same project continues its run"
    );
    begin(&pool, run, false).await;
    let err = upsert(&pool).await.unwrap_err();
    assert!(err.to_string().contains("is being rolled back"), "{err}");
    let mut conn = pool.acquire().await.unwrap();
    let err = records::retry_run(&mut conn, run).await.unwrap_err();
    assert!(err.to_string().contains("is being rolled back"), "{err}");
    assert!(rollback::finish(&mut conn, run).await.unwrap());
    let next = upsert(&pool).await.unwrap();
    assert_ne!(next, run, "a rolled-back run is history: a new run starts");
    assert_eq!(upsert(&pool).await.unwrap(), next);
    assert!(records::retry_run(&mut conn, next).await.is_ok());
}
