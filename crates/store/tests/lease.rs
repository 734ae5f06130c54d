//! The per-record work lock on a real Postgres: held by one transaction at a time, released
//! when that transaction ends or its connection dies.

use ztoq_pgtemp::testdb::TestDb;
use ztoq_store::lease::try_lock_record;

#[tokio::test]
async fn one_holder_per_record_until_its_transaction_ends() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let mut first = pool.begin().await.unwrap();
    assert!(try_lock_record(&mut first, 7).await.unwrap());
    // Re-entrant for the holder; refused to everyone else; other records unaffected.
    assert!(try_lock_record(&mut first, 7).await.unwrap());
    let mut second = pool.begin().await.unwrap();
    assert!(!try_lock_record(&mut second, 7).await.unwrap());
    assert!(try_lock_record(&mut second, 8).await.unwrap());
    assert!(try_lock_record(&mut second, (1 << 32) + 7).await.unwrap());
    second.rollback().await.unwrap();

    first.commit().await.unwrap();
    let mut third = pool.begin().await.unwrap();
    assert!(try_lock_record(&mut third, 7).await.unwrap());

    // A holder whose connection dies (a killed worker) leaves nothing locked.
    third.rollback().await.unwrap();
    let mut dying = pool.begin().await.unwrap();
    let dying_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *dying)
        .await
        .unwrap();
    assert!(try_lock_record(&mut dying, 9).await.unwrap());
    let mut other = pool.begin().await.unwrap();
    assert!(!try_lock_record(&mut other, 9).await.unwrap());
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(dying_pid)
        .execute(&mut *other)
        .await
        .unwrap();
    drop(dying);
    // Termination is asynchronous: the lock goes with the backend shortly after.
    let mut freed = false;
    for _ in 0..50 {
        if try_lock_record(&mut other, 9).await.unwrap() {
            freed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(freed, "the lock of a dead session was not released");
}
