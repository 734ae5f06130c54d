//! API faults of every kind at once — latency spikes, 500/502/503/429 (with `Retry-After`),
//! connection resets, hangs the client times out, truncated bodies, and creates whose response
//! is lost after qTest applied them — and still every record migrated exactly once.

use crate::support::{Env, KINDS, kind, metrics_addr, scrape};
use std::time::{Duration, Instant};
use ztoq_mock::faults::{FaultConfig, FaultStats};

/// The sum of a counter's series (all label sets) on a Prometheus text page; 0 when absent.
fn counter_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn count(env: &Env, sql: &'static str, run: i64) -> u64 {
    let pool = env.db.pool().await;
    let n: i64 = sqlx::query_scalar(sql)
        .bind(run)
        .fetch_one(&pool)
        .await
        .unwrap();
    n as u64
}

fn total(stats: &FaultStats) -> u64 {
    stats.injected_errors + stats.resets + stats.timeouts + stats.truncated + stats.lost_responses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_kind_at_once_still_migrates_each_record_exactly_once() {
    let started = Instant::now();
    let env = Env::new(2000, 23).await;
    let run = env.enqueue();

    // Both mocks: every fault kind at a few per cent. The hang outlasts the workers' 1 s
    // request timeout; a spike stays under it.
    let faulty = FaultConfig {
        latency_spike_rate: 0.03,
        latency_spike_ms: 200,
        fault_rate: 0.03,
        retry_after_secs: 1,
        reset_rate: 0.03,
        timeout_rate: 0.015,
        timeout_ms: 3_000,
        truncate_rate: 0.03,
        ..FaultConfig::default()
    };
    env.zephyr.faults.set(faulty.clone());
    // qTest also loses the response of creates it applied.
    env.qtest.faults.set(FaultConfig {
        lost_response_rate: 0.05,
        ..faulty
    });

    let addrs = [metrics_addr(), metrics_addr()];
    let workers: Vec<_> = addrs
        .iter()
        .map(|addr| {
            env.workers(
                1,
                &[
                    "--http-timeout-secs",
                    "1",
                    "--max-attempts",
                    "40",
                    "--metrics-addr",
                    addr,
                ],
            )
        })
        .collect();
    let status = env.wait_settled(run, Duration::from_secs(240));
    let mut adopted = 0.0;
    let mut transport_retries = 0.0;
    for addr in &addrs {
        let text = scrape(addr).await;
        adopted += counter_sum(&text, "ztoq_records_adopted_total");
        transport_retries += text
            .lines()
            .filter(|l| l.starts_with("ztoq_retries_total{") && l.contains("reason=\"transport\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
    }
    for w in workers {
        w.stop();
    }
    let zephyr = env.zephyr.faults.stats();
    let qtest = env.qtest.faults.stats();
    env.zephyr.faults.set(FaultConfig::default());
    env.qtest.faults.set(FaultConfig::default());
    let settled_after = started.elapsed();

    // Every kind of fault happened, on both sides.
    for (api, stats) in [("zephyr", &zephyr), ("qtest", &qtest)] {
        for (what, n) in [
            ("latency spikes", stats.latency_spikes),
            ("injected errors", stats.injected_errors),
            ("resets", stats.resets),
            ("timeouts", stats.timeouts),
            ("truncated bodies", stats.truncated),
        ] {
            assert!(n > 0, "{api}: no {what} injected: {stats:?}");
        }
    }
    assert_eq!(zephyr.lost_responses, 0, "Zephyr is only read");
    assert!(qtest.lost_responses > 0, "{qtest:?}");
    assert!(total(&zephyr) + total(&qtest) > 200, "{zephyr:?} {qtest:?}");
    assert!(transport_retries > 0.0, "transport errors were retried");
    // The creates qTest applied without the worker hearing of it were found and adopted.
    assert!(adopted > 0.0, "no adoption after {qtest:?}");

    // Every record done, none failed.
    let source = env.zephyr_state.summary();
    for k in KINDS {
        assert_eq!(kind(&status, k, "failed"), 0, "{k}: {status}");
        assert_eq!(
            kind(&status, k, "migrated"),
            kind(&status, k, "source"),
            "{k}: {status}"
        );
    }
    let records: u64 = KINDS.iter().map(|k| kind(&status, k, "source")).sum();
    assert!(
        (1800..=2200).contains(&records),
        "about 2,000 records, got {records}"
    );

    // Exactly one copy of each item, counted by the qTest mock itself.
    let held = env.qtest_state.summary();
    assert_eq!(held.modules, source.test_case_folders, "modules");
    assert_eq!(
        held.test_cycles,
        source.test_cycle_folders + source.test_cycles,
        "test cycles (cycle folders and cycles)"
    );
    assert_eq!(held.test_cases, source.test_cases, "test cases");
    let pairs = count(
        &env,
        "SELECT count(DISTINCT (test_cycle_id, test_case_key)) FROM src_test_executions
         WHERE run_id = $1",
        run,
    )
    .await;
    assert_eq!(held.test_runs, pairs, "one test run per (cycle, test case)");
    let unexecuted = count(
        &env,
        "SELECT count(*) FROM src_test_executions WHERE run_id = $1 AND actual_end_date IS NULL",
        run,
    )
    .await;
    assert_eq!(held.test_logs + unexecuted, source.executions, "test logs");
    assert_eq!(
        held.attachments,
        source.test_case_attachments + source.execution_attachments,
        "attachments"
    );

    // And each copy equal to the transform of its source.
    let (ok, report) = env.verify(run);
    assert!(ok, "verification failed: {report}");
    for k in KINDS {
        let migrated = kind(&report, k, "migrated");
        assert_eq!(migrated, kind(&report, k, "source"), "{k}");
        assert_eq!(kind(&report, k, "verified"), migrated, "{k}");
        assert_eq!(kind(&report, k, "in_qtest"), migrated, "{k}: one copy each");
    }
    eprintln!(
        "{records} records settled in {settled_after:?}; adopted {adopted}; \
         zephyr {zephyr:?}; qtest {qtest:?}"
    );
}
