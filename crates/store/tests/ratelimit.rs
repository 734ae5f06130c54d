//! Shared request schedules on a real Postgres: slots handed out once, in order, at the
//! schedule's rate, whoever asks.

use ztoq_pgtemp::testdb::TestDb;
use ztoq_store::ratelimit::{reserve, set_rate};

#[tokio::test]
async fn reservations_take_consecutive_slots_at_the_rate() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    ztoq_store::migrate(&pool).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(reserve(&mut conn, "qtest a", 5).await.unwrap(), None);

    set_rate(&mut conn, "qtest a", 10.0).await.unwrap();
    let first = reserve(&mut conn, "qtest a", 5).await.unwrap().unwrap();
    assert!((first.interval_secs - 0.1).abs() < 1e-9);
    assert!(first.first_in_secs < 0.05, "{first:?}");
    // The next reservation starts where the first one's five slots end (0.5 s later).
    let second = reserve(&mut conn, "qtest a", 5).await.unwrap().unwrap();
    assert!(
        (0.4..=0.5).contains(&second.first_in_secs),
        "second starts in {} s",
        second.first_in_secs
    );
    // Other schedules are independent; a new rate applies to the next reservation.
    set_rate(&mut conn, "qtest b", 1000.0).await.unwrap();
    let other = reserve(&mut conn, "qtest b", 5).await.unwrap().unwrap();
    assert!(other.first_in_secs < 0.05);
    set_rate(&mut conn, "qtest a", 100.0).await.unwrap();
    let third = reserve(&mut conn, "qtest a", 1).await.unwrap().unwrap();
    assert!((third.interval_secs - 0.01).abs() < 1e-9);
    assert!(third.first_in_secs > 0.8, "{third:?}");
}

#[tokio::test]
async fn concurrent_reservations_never_share_a_slot() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    ztoq_store::migrate(&pool).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    set_rate(&mut conn, "shared", 100.0).await.unwrap();
    drop(conn);
    // 8 connections × 25 reservations of 4 slots = 800 slots = 8 s of schedule
    // (far ahead of the clock, so no reservation restarts the schedule at "now").
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = pool.acquire().await.unwrap();
            let mut starts = Vec::new();
            for _ in 0..25 {
                let r = reserve(&mut conn, "shared", 4).await.unwrap().unwrap();
                starts.push(r.first_in_secs);
            }
            starts
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap().len();
    }
    assert_eq!(total, 200);
    let mut conn = pool.acquire().await.unwrap();
    // Whatever the interleaving, the schedule moved by exactly the 800 slots handed out
    // (it started at most a few ms in the past, when the rate was set).
    let backlog: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM next_slot - updated_at)::float8 FROM rate_limits WHERE key = 'shared'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert!((8.0..8.05).contains(&backlog), "schedule moved {backlog} s");
}
