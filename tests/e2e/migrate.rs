//! Whole runs: a generated project migrated by two worker processes and verified; enqueueing
//! twice; transient API errors retried to success.

use crate::support::{Env, KINDS, assert_migrated_exactly_once, kind, metrics_addr, scrape};
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

    assert_migrated_exactly_once(&env, run).await;
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
    let addr = metrics_addr();
    let workers = env.workers(1, &["--metrics-addr", &addr]);
    let status = env.wait_settled(run, Duration::from_secs(120));
    let text = scrape(&addr).await;
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
    // Every record's outcome went through a settle batch: the batches add up to the records
    // migrated (attachments included), and their sizes are histograms too.
    let settled = value("ztoq_batch_records_sum{op=\"settle\"}");
    assert_eq!(
        settled as u64,
        status["total"]["migrated"].as_u64().unwrap()
    );
    assert!(text.contains("ztoq_batch_records_bucket{op=\"load\",le=\"64\"}"));
    assert!(text.contains("# HELP ztoq_batch_duration_seconds"));
}
