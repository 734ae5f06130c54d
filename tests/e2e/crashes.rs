//! Crashes and stops: workers SIGKILLed every few seconds, the jobs of a dead worker taken
//! over after the lease, a second live job for a record in flight, Postgres restarted mid-run,
//! SIGTERM with records in flight. Each ends with every record migrated exactly once.

use crate::support::{
    Env, KINDS, assert_migrated_exactly_once, demo_qtest, kind, latency, records_in_state, sigterm,
    tempdir, wait_exit,
};
use sqlx::PgPool;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use ztoq_mock::faults::FaultConfig;
use ztoq_pgtemp::testdb::TestDb;

/// Lease used by these tests: a dead worker's jobs come back within a few seconds.
const LEASE_SECS: &str = "3";

/// Jobs a worker (by name prefix) holds: claimed or running.
async fn held_jobs(pool: &PgPool, worker: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT id FROM apalis.jobs WHERE status IN ('Queued', 'Running') AND lock_by LIKE $1",
    )
    .bind(format!("{worker}-%"))
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn wait_for_held_jobs(pool: &PgPool, worker: &str, at_least: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let held = held_jobs(pool, worker).await;
        if held.len() >= at_least {
            return held;
        }
        if Instant::now() > deadline {
            let seen: Vec<(String, Option<String>, i64)> =
                sqlx::query_as("SELECT status, lock_by, count(*) FROM apalis.jobs GROUP BY 1, 2")
                    .fetch_all(pool)
                    .await
                    .unwrap();
            panic!("{worker} never held {at_least} jobs; jobs: {seen:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Lets `worker` run freely until plenty of records are ready (the folder trees are done),
/// then slows every qTest request down to `latency_ms` and waits until the worker holds at
/// least 4 jobs: the worker is then busy with records in flight.
async fn make_busy(env: &Env, pool: &PgPool, run: i64, worker: &str, latency_ms: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if records_in_state(pool, run, "ready").await >= 20 {
            break;
        }
        assert!(Instant::now() < deadline, "records never became ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    env.qtest.faults.set(latency(latency_ms));
    wait_for_held_jobs(pool, worker, 4).await;
    // Long enough for the claimed jobs to be running (their first request is then waiting).
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// Asserts a settled run has nothing failed or blocked.
fn assert_nothing_failed(status: &serde_json::Value) {
    for k in KINDS {
        assert_eq!(kind(status, k, "failed"), 0, "{k} failed: {status}");
        assert_eq!(kind(status, k, "blocked"), 0, "{k} blocked: {status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_killed_every_few_seconds_leave_exactly_one_copy_of_everything() {
    let env = Env::new(2500, 17).await;
    let run = env.enqueue();
    // Slow enough that the storm catches records mid-flight, between qTest's answer and the
    // commit of the id as well as everywhere else.
    env.qtest.faults.set(latency(15));
    let start = |i: usize| {
        env.worker(
            &format!("storm{i}"),
            &["--lease-secs", LEASE_SECS, "--max-attempts", "30"],
            &[],
            Stdio::null(),
        )
    };
    let mut workers: Vec<Child> = (0..2).map(start).collect();
    let mut started = 2;
    let mut kills = 0;
    let deadline = Instant::now() + Duration::from_secs(400);
    let status = loop {
        // 0.7 to 2.2 s between kills, varied so kills land at different points of a record.
        let pause = 700 + (kills * 373) % 1500;
        tokio::time::sleep(Duration::from_millis(pause as u64)).await;
        let (_, status) = env.ztoq_json(&["status", "--run", &run.to_string()]);
        if status["finished"] == serde_json::json!(true) {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the run did not finish: {status}"
        );
        let mut victim = workers.remove(kills % workers.len());
        victim.kill().expect("SIGKILL a worker");
        victim.wait().expect("reap the worker");
        kills += 1;
        workers.push(start(started));
        started += 1;
    };
    for w in &workers {
        sigterm(w);
    }
    for w in &mut workers {
        let (exit, _) = wait_exit(w, Duration::from_secs(60)).await;
        assert!(exit.success(), "a worker exited with {exit}");
    }
    assert!(
        kills >= 5,
        "the storm killed workers while they worked ({kills} kills)"
    );
    env.qtest.faults.set(FaultConfig::default());
    assert_nothing_failed(&status);
    assert_migrated_exactly_once(&env, run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_of_a_killed_worker_are_taken_over_after_the_lease() {
    let env = Env::new(300, 19).await;
    let run = env.enqueue();
    let pool = env.db.pool().await;
    // Every qTest request takes 3 s: the worker dies with records in flight.
    let lease = ["--lease-secs", LEASE_SECS, "--concurrency", "4"];
    let mut doomed = env.worker("doomed", &lease, &[], Stdio::null());
    make_busy(&env, &pool, run, "doomed", 3000).await;
    let held = held_jobs(&pool, "doomed").await;
    doomed.kill().expect("SIGKILL the worker");
    doomed.wait().expect("reap the worker");
    let killed = Instant::now();
    env.qtest.faults.set(FaultConfig::default());

    let mut heir = env.worker("heir", &lease, &[], Stdio::null());
    loop {
        let still: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM apalis.jobs WHERE id = ANY($1) AND lock_by LIKE 'doomed-%'
             AND status IN ('Queued', 'Running')",
        )
        .bind(&held)
        .fetch_one(&pool)
        .await
        .unwrap();
        if still == 0 {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "the dead worker's jobs were not taken over"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = killed.elapsed();
    // Heartbeats every lease/3; a worker is dead after three missed ones (the lease), and its
    // jobs go back to the queue at the next heartbeat of a live worker.
    assert!(
        took >= Duration::from_millis(1500),
        "taken over before the lease ran out ({took:?})"
    );
    assert!(
        took <= Duration::from_secs(10),
        "taken over long after the lease ({took:?})"
    );
    let status = env.wait_settled(run, Duration::from_secs(120));
    sigterm(&heir);
    let (exit, _) = wait_exit(&mut heir, Duration::from_secs(60)).await;
    assert!(exit.success());
    assert_nothing_failed(&status);
    assert_migrated_exactly_once(&env, run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_live_job_for_a_record_waits_for_the_attempt_in_flight() {
    let env = Env::new(300, 37).await;
    let run = env.enqueue();
    let pool = env.db.pool().await;
    let lease = ["--lease-secs", LEASE_SECS, "--concurrency", "4"];
    let mut first = env.worker("first", &lease, &[], Stdio::null());
    make_busy(&env, &pool, run, "first", 3000).await;
    // A second job for a record the first worker is working on (as when an orphan is rescued
    // while its worker still runs): same payload, same generation; first in line (priority).
    let held = held_jobs(&pool, "first").await;
    let duplicate: String = sqlx::query_scalar(
        "INSERT INTO apalis.jobs (id, job_type, job, status, attempts, max_attempts, run_at,
                                  priority, idempotency_key)
         SELECT apalis.generate_ulid(), job_type, job, 'Pending', 0, max_attempts, now(), 1,
                'duplicate-of-' || id
         FROM apalis.jobs WHERE id = $1
         RETURNING id",
    )
    .bind(&held[0])
    .fetch_one(&pool)
    .await
    .unwrap();
    let mut second = env.worker("second", &lease, &[], Stdio::null());
    // The second worker meets the first one's work lock and gives the job back for a lease
    // (counted as an attempt) instead of working on the record too.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (attempts, lock_by): (i32, Option<String>) =
            sqlx::query_as("SELECT attempts, lock_by FROM apalis.jobs WHERE id = $1")
                .bind(&duplicate)
                .fetch_one(&pool)
                .await
                .unwrap();
        if attempts >= 1 {
            assert_eq!(lock_by, None, "given back to the queue");
            break;
        }
        assert!(Instant::now() < deadline, "the duplicate was never met");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    env.qtest.faults.set(FaultConfig::default());
    let status = env.wait_settled(run, Duration::from_secs(120));
    // After the lease it runs again, finds its record done, and ends.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let job_status: String = sqlx::query_scalar("SELECT status FROM apalis.jobs WHERE id = $1")
            .bind(&duplicate)
            .fetch_one(&pool)
            .await
            .unwrap();
        if job_status == "Done" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the duplicate never ended ({job_status})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for w in [&mut first, &mut second] {
        sigterm(w);
        assert!(wait_exit(w, Duration::from_secs(60)).await.0.success());
    }
    assert_nothing_failed(&status);
    assert_migrated_exactly_once(&env, run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarting_mid_run_loses_and_repeats_nothing() {
    let db = TestDb::in_own_cluster().await;
    let env = Env::with(db, 1500, 23, demo_qtest()).await;
    let run = env.enqueue();
    let pool = env.db.pool().await;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM records WHERE run_id = $1")
        .bind(run)
        .fetch_one(&pool)
        .await
        .unwrap();
    env.qtest.faults.set(latency(10));
    let logs = tempdir("pg-restart");
    let mut workers: Vec<Child> = (0..2)
        .map(|i| {
            let log = std::fs::File::create(logs.join(format!("worker{i}.log"))).unwrap();
            env.worker(
                &format!("pgr{i}"),
                &["--lease-secs", "15"],
                &[("ZTOQ_LOG", "info")],
                Stdio::from(log),
            )
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while records_in_state(&pool, run, "done").await < total / 4 {
        assert!(Instant::now() < deadline, "the run made no progress");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pool.close().await;
    env.db
        .cluster()
        .expect("a cluster of its own")
        .restart()
        .await
        .expect("restart Postgres");
    env.qtest.faults.set(FaultConfig::default());

    let status = env.wait_settled(run, Duration::from_secs(240));
    for w in &mut workers {
        assert!(
            w.try_wait().unwrap().is_none(),
            "a worker died with the database"
        );
        sigterm(w);
    }
    for w in &mut workers {
        let (exit, _) = wait_exit(w, Duration::from_secs(60)).await;
        assert!(exit.success(), "a worker exited with {exit}");
    }
    let log: String = (0..2)
        .map(|i| std::fs::read_to_string(logs.join(format!("worker{i}.log"))).unwrap())
        .collect();
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") || l.contains("ERROR")),
        "the workers logged the outage:\n{log}"
    );
    assert_nothing_failed(&status);
    assert_migrated_exactly_once(&env, run).await;
    let _ = std::fs::remove_dir_all(&logs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_records_in_flight_then_exits_zero() {
    let env = Env::new(300, 29).await;
    let run = env.enqueue();
    let pool = env.db.pool().await;
    let mut worker = env.worker(
        "graceful",
        &["--concurrency", "4", "--shutdown-secs", "30"],
        &[],
        Stdio::null(),
    );
    make_busy(&env, &pool, run, "graceful", 1500).await;
    let before = records_in_state(&pool, run, "done").await;
    sigterm(&worker);
    let (exit, took) = wait_exit(&mut worker, Duration::from_secs(60)).await;
    assert!(exit.success(), "exit status {exit}");
    assert!(
        took < Duration::from_secs(30),
        "stopped within its deadline ({took:?})"
    );
    assert!(
        records_in_state(&pool, run, "done").await > before,
        "the records in flight were finished"
    );
    assert!(
        held_jobs(&pool, "graceful").await.is_empty(),
        "nothing left claimed by the stopped worker"
    );

    // What it did not take is still queued: another worker completes the run.
    env.qtest.faults.set(FaultConfig::default());
    let workers = env.workers(1, &[]);
    let status = env.wait_settled(run, Duration::from_secs(120));
    workers.stop();
    assert_nothing_failed(&status);
    assert_migrated_exactly_once(&env, run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stop_deadline_bounds_the_wait_and_cut_off_records_are_not_lost() {
    let env = Env::new(300, 41).await;
    let run = env.enqueue();
    let pool = env.db.pool().await;
    env.qtest.faults.set(latency(8000));
    let mut worker = env.worker(
        "deadline",
        &[
            "--concurrency",
            "4",
            "--shutdown-secs",
            "1",
            "--lease-secs",
            LEASE_SECS,
        ],
        &[],
        Stdio::null(),
    );
    wait_for_held_jobs(&pool, "deadline", 4).await;
    sigterm(&worker);
    let (exit, took) = wait_exit(&mut worker, Duration::from_secs(30)).await;
    assert!(exit.success(), "exit status {exit}");
    assert!(
        took < Duration::from_secs(5),
        "the 1 s deadline bounded the stop ({took:?})"
    );

    // The records cut off are taken over after the lease and migrated once.
    env.qtest.faults.set(FaultConfig::default());
    let workers = env.workers(1, &["--lease-secs", LEASE_SECS]);
    let status = env.wait_settled(run, Duration::from_secs(120));
    workers.stop();
    assert_nothing_failed(&status);
    assert_migrated_exactly_once(&env, run).await;
}
