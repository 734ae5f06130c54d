//! Refused credentials: a worker whose qTest or Zephyr token is wrong (or has expired) stops
//! quickly with one message naming the API, spends no record's attempts, and the run
//! continues once a worker has the right token.

use crate::support::{
    Env, assert_migrated_exactly_once, latency, records_in_state, sigterm, tempdir, try_wait_exit,
    wait_exit,
};
use std::process::Stdio;
use std::time::{Duration, Instant};
use ztoq_cli::commands::EXIT_CREDENTIALS;
use ztoq_mock::faults::FaultConfig;

/// Starts a worker with `envs`, waits for it to give up, and returns its log.
async fn refused_worker(env: &Env, run: i64, name: &str, envs: &[(&str, &str)]) -> String {
    let dir = tempdir(name);
    let path = dir.join("worker.log");
    let log = std::fs::File::create(&path).unwrap();
    let mut worker = env.worker(name, &[], envs, Stdio::from(log));
    let waited = try_wait_exit(&mut worker, Duration::from_secs(60)).await;
    if waited.is_none() {
        let _ = worker.kill();
        let _ = worker.wait();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let Some((exit, took)) = waited else {
        let (_, status) = env.ztoq_json(&["status", "--run", &run.to_string()]);
        panic!("worker {name} still running after 60 s; run status: {status}\nlog:\n{text}");
    };
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        exit.code(),
        Some(EXIT_CREDENTIALS),
        "exit status {exit}; log:\n{text}"
    );
    assert!(took < Duration::from_secs(20), "stopped quickly ({took:?})");
    text
}

async fn attempts_spent(env: &Env, run: i64) -> i64 {
    let pool = env.db.pool().await;
    sqlx::query_scalar("SELECT coalesce(sum(attempts), 0)::bigint FROM records WHERE run_id = $1")
        .bind(run)
        .fetch_one(&pool)
        .await
        .unwrap()
}

fn paused_reason(env: &Env, run: i64) -> serde_json::Value {
    let (_, status) = env.ztoq_json(&["status", "--run", &run.to_string()]);
    status["paused_reason"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_tokens_stop_workers_quickly_and_the_run_continues_once_fixed() {
    let env = Env::new(400, 31).await;
    let run = env.enqueue();

    // A good worker starts the run, then stops: the token "expires" between two workers.
    // qTest is slowed down meanwhile so that the good worker cannot finish the run before it
    // is stopped: the refused workers must find records to try (a worker with nothing to do
    // never meets the refusal, which made this test depend on the machine's speed).
    let pool = env.db.pool().await;
    env.qtest.faults.set(latency(100));
    let mut first = env.worker("good", &[], &[], Stdio::null());
    let deadline = Instant::now() + Duration::from_secs(60);
    while records_in_state(&pool, run, "done").await < 20 {
        assert!(Instant::now() < deadline, "the good worker never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sigterm(&first);
    assert!(
        wait_exit(&mut first, Duration::from_secs(60))
            .await
            .0
            .success()
    );
    env.qtest.faults.set(FaultConfig::default());
    let ready = records_in_state(&pool, run, "ready").await;
    assert!(ready > 0, "records left for the refused workers to try");

    for (api, variable, needle) in [
        ("qTest", "ZTOQ_QTEST_TOKEN", "qTest refused"),
        ("Zephyr", "ZTOQ_ZEPHYR_TOKEN", "Zephyr refused"),
    ] {
        let log = refused_worker(
            &env,
            run,
            &format!("bad-{api}"),
            &[(variable, "expired-token")],
        )
        .await;
        let mentions: Vec<&str> = log.lines().filter(|l| l.contains("refused")).collect();
        assert_eq!(
            mentions.len(),
            1,
            "one message about the refusal, not one per record:\n{log}"
        );
        assert!(
            mentions[0].contains(needle) && mentions[0].contains(variable),
            "the message names the API and what to fix: {}",
            mentions[0]
        );
        assert!(
            !log.contains("expired-token"),
            "the token itself is never logged"
        );
        assert_eq!(attempts_spent(&env, run).await, 0, "no attempt spent");
        let reason = paused_reason(&env, run);
        assert!(
            reason.as_str().is_some_and(|r| r.contains(needle)),
            "status shows why the run is paused: {reason}"
        );
    }

    // Fixed credentials: the run continues where it stopped and the pause is lifted.
    let workers = env.workers(2, &[]);
    let status = env.wait_settled(run, Duration::from_secs(120));
    workers.stop();
    assert_eq!(status["paused_reason"], serde_json::Value::Null, "{status}");
    assert_eq!(attempts_spent(&env, run).await, 0);
    assert_migrated_exactly_once(&env, run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_with_a_refused_token_names_the_api() {
    let env = Env::new(50, 43).await;
    for (variable, api) in [
        ("ZTOQ_ZEPHYR_TOKEN", "Zephyr"),
        ("ZTOQ_QTEST_TOKEN", "qTest"),
    ] {
        let out = env.enqueue_with(&[(variable, "wrong-token")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{variable}: enqueue must fail");
        assert!(
            stderr.contains(&format!("{api} refused")) && stderr.contains(variable),
            "{variable}: the error names the API and what to fix:\n{stderr}"
        );
        assert!(
            !stderr.contains("wrong-token"),
            "the token is never printed"
        );
    }
}
