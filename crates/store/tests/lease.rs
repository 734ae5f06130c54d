//! The per-record work lock on a real Postgres: held by one session at a time per record and
//! job generation, taken and released in batches, and released when its session dies.

use sqlx::{Connection, PgConnection};
use ztoq_pgtemp::testdb::TestDb;
use ztoq_store::lease::{WorkKey, try_lock_many, unlock_many};

fn key(record_id: i64, job_seq: i32) -> WorkKey {
    WorkKey { record_id, job_seq }
}

#[tokio::test]
async fn one_session_per_record_generation_until_released() {
    let db = TestDb::new().await;
    let mut first = PgConnection::connect(&db.url).await.unwrap();
    let mut second = PgConnection::connect(&db.url).await.unwrap();

    let taken = try_lock_many(&mut first, &[key(7, 1), key(8, 1)])
        .await
        .unwrap();
    assert_eq!(taken, [true, true]);
    // Refused to another session; the next generation of the same record, other records and
    // a record 2^32 ids away are separate keys. Answers come in the order asked.
    let taken = try_lock_many(
        &mut second,
        &[
            key(9, 1),
            key(7, 1),
            key(7, 2),
            key((1 << 32) + 7, 1),
            key(8, 1),
        ],
    )
    .await
    .unwrap();
    assert_eq!(taken, [true, false, true, true, false]);

    // Released in one statement (counting only what the session held), then free for others.
    assert_eq!(unlock_many(&mut first, &[key(7, 1)]).await.unwrap(), 1);
    assert_eq!(
        try_lock_many(&mut second, &[key(7, 1)]).await.unwrap(),
        [true]
    );
    assert_eq!(
        try_lock_many(&mut first, &[key(7, 1)]).await.unwrap(),
        [false]
    );
    assert_eq!(
        unlock_many(&mut second, &[key(7, 1), key(9, 1)])
            .await
            .unwrap(),
        2
    );
    assert!(try_lock_many(&mut first, &[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_dead_session_leaves_nothing_locked() {
    let db = TestDb::new().await;
    let mut dying = PgConnection::connect(&db.url).await.unwrap();
    let mut other = PgConnection::connect(&db.url).await.unwrap();
    let dying_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut dying)
        .await
        .unwrap();
    assert_eq!(
        try_lock_many(&mut dying, &[key(9, 3)]).await.unwrap(),
        [true]
    );
    assert_eq!(
        try_lock_many(&mut other, &[key(9, 3)]).await.unwrap(),
        [false]
    );
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(dying_pid)
        .execute(&mut other)
        .await
        .unwrap();
    drop(dying);
    // Termination is asynchronous: the lock goes with the backend shortly after.
    let mut freed = false;
    for _ in 0..50 {
        if try_lock_many(&mut other, &[key(9, 3)]).await.unwrap() == [true] {
            freed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(freed, "the lock of a dead session was not released");
}
