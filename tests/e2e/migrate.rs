//! Whole runs: a generated project migrated by two worker processes and verified; enqueueing
//! twice; transient API errors retried to success.

use crate::support::{Env, KINDS, kind};
use std::time::Duration;
use ztoq_mock::faults::FaultConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_project_is_migrated_by_two_workers_and_verified() {
    let env = Env::new(2000, 7).await;
    let run = env.enqueue();
    let workers = env.workers(2, &[]);
    let status = env.wait_settled(run, Duration::from_secs(240));
    workers.stop();

    let source = env.zephyr_state.summary();
    assert_eq!(kind(&status, "folder", "source"), source.test_case_folders);
    assert_eq!(
        kind(&status, "cycle_folder", "source"),
        source.test_cycle_folders
    );
    assert_eq!(kind(&status, "test_case", "source"), source.test_cases);
    assert_eq!(kind(&status, "test_cycle", "source"), source.test_cycles);
    assert_eq!(kind(&status, "execution", "source"), source.executions);
    assert_eq!(
        kind(&status, "attachment", "source"),
        source.test_case_attachments + source.execution_attachments
    );
    let total: u64 = KINDS.iter().map(|k| kind(&status, k, "source")).sum();
    assert!(
        (1800..=2200).contains(&total),
        "about 2,000 records, got {total}"
    );

    let (ok, report) = env.verify(run);
    assert!(ok, "verification failed: {report}");
    for k in KINDS {
        let migrated = kind(&report, k, "migrated");
        assert_eq!(
            migrated,
            kind(&report, k, "source"),
            "{k}: every record migrated"
        );
        assert_eq!(
            kind(&report, k, "verified"),
            migrated,
            "{k}: every copy equal to the transform of its source"
        );
        assert_eq!(
            kind(&report, k, "in_qtest"),
            migrated,
            "{k}: exactly one copy each"
        );
    }
    assert_eq!(report["mismatches"].as_array().map(|m| m.len()), Some(0));

    // What the qTest mock holds, counted by the mock itself.
    let held = env.qtest_state.summary();
    assert_eq!(held.test_cases, source.test_cases);
    assert_eq!(
        held.test_logs + unexecuted(&env, run).await,
        source.executions
    );
    assert_eq!(
        held.attachments,
        source.test_case_attachments + source.execution_attachments
    );
    assert_eq!(held.test_step_logs, logged_step_results(&env, run).await);
}

/// Executions that never ran (no actualEndDate): they get a test run and no log.
async fn unexecuted(env: &Env, run: i64) -> u64 {
    let pool = env.db.pool().await;
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM src_test_executions WHERE run_id = $1 AND actual_end_date IS NULL",
    )
    .bind(run)
    .fetch_one(&pool)
    .await
    .unwrap();
    n as u64
}

/// Step results that must appear as step logs: those of executed executions whose step is
/// kept in qTest (non-empty steps).
async fn logged_step_results(env: &Env, run: i64) -> u64 {
    let pool = env.db.pool().await;
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM records e
         JOIN src_test_executions x ON x.run_id = e.run_id AND x.id = e.source_id
         JOIN src_execution_steps s ON s.run_id = e.run_id AND s.execution_id = e.source_id
         JOIN src_test_cases c ON c.run_id = e.run_id AND c.key = x.test_case_key
         JOIN records cr ON cr.run_id = e.run_id AND cr.kind = 'test_case' AND cr.source_id = c.id
         WHERE e.run_id = $1 AND e.kind = 'execution' AND x.actual_end_date IS NOT NULL
           AND (cr.qtest_data->'step_ids'->>s.idx) IS NOT NULL",
    )
    .bind(run)
    .fetch_one(&pool)
    .await
    .unwrap();
    n as u64
}

async fn counts(env: &Env, run: i64) -> (i64, i64, i64) {
    let pool = env.db.pool().await;
    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM records WHERE run_id = $1")
        .bind(run)
        .fetch_one(&pool)
        .await
        .unwrap();
    let deps: i64 = sqlx::query_scalar("SELECT count(*) FROM record_deps d JOIN records r ON r.id = d.child_id WHERE r.run_id = $1")
        .bind(run)
        .fetch_one(&pool)
        .await
        .unwrap();
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM apalis.jobs")
        .fetch_one(&pool)
        .await
        .unwrap();
    (records, deps, jobs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueueing_twice_duplicates_nothing() {
    let env = Env::new(500, 3).await;
    let run = env.enqueue();
    let first = counts(&env, run).await;
    assert!(first.0 > 0 && first.2 > 0);
    let again = env.enqueue();
    assert_eq!(again, run, "the same project continues the same run");
    assert_eq!(
        counts(&env, run).await,
        first,
        "no record, edge or job added"
    );

    let workers = env.workers(2, &[]);
    env.wait_settled(run, Duration::from_secs(120));
    // Enqueueing a finished run changes nothing either.
    let after = counts(&env, run).await;
    assert_eq!(env.enqueue(), run);
    assert_eq!(counts(&env, run).await, after);
    workers.stop();
    let (ok, report) = env.verify(run);
    assert!(ok, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_errors_are_retried_to_success() {
    let env = Env::new(600, 11).await;
    let run = env.enqueue();
    let faulty = FaultConfig {
        fault_rate: 0.1,
        retry_after_secs: 1,
        ..FaultConfig::default()
    };
    env.zephyr.faults.set(faulty.clone());
    env.qtest.faults.set(faulty);
    let workers = env.workers(2, &["--max-attempts", "30"]);
    let status = env.wait_settled(run, Duration::from_secs(240));
    workers.stop();
    env.zephyr.faults.set(FaultConfig::default());
    env.qtest.faults.set(FaultConfig::default());

    let injected =
        env.zephyr.faults.stats().injected_errors + env.qtest.faults.stats().injected_errors;
    assert!(injected > 50, "faults were injected ({injected})");
    let pool = env.db.pool().await;
    let retried: i64 =
        sqlx::query_scalar("SELECT count(*) FROM records WHERE run_id = $1 AND attempts > 0")
            .bind(run)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(retried > 0, "some records needed more than one attempt");
    for k in KINDS {
        assert_eq!(
            kind(&status, k, "failed"),
            0,
            "{k}: nothing failed for good: {status}"
        );
    }
    let (ok, report) = env.verify(run);
    assert!(ok, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_export_prometheus_metrics() {
    let env = Env::new(300, 13).await;
    let run = env.enqueue();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let workers = env.workers(1, &["--metrics-addr", &addr]);
    let status = env.wait_settled(run, Duration::from_secs(120));
    let client =
        ztoq_http::build_client(ztoq_http::Api::Qtest, &ztoq_http::ClientOptions::default())
            .unwrap();
    let text = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    workers.stop();

    let value = |prefix: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
    };
    let done_cases = value("ztoq_records_total{kind=\"test_case\",outcome=\"done\"}");
    assert_eq!(done_cases as u64, kind(&status, "test_case", "migrated"));
    let timed = value("ztoq_record_duration_seconds_count{kind=\"execution\",outcome=\"done\"}");
    assert_eq!(timed as u64, kind(&status, "execution", "migrated"));
    assert!(
        text.contains("# HELP ztoq_records_total"),
        "metrics are described"
    );
    assert!(text.contains(
        "ztoq_api_requests_total{api=\"qtest\",operation=\"create_test_case\",status_class=\"2xx\"}"
    ));
    assert!(
        text.contains("ztoq_record_duration_seconds_bucket{"),
        "durations are histograms"
    );
}
