//! The human table of a small report, line for line: one run with references and apalis
//! checks, so that a change to any line's layout shows here.

use super::*;
use crate::measure::{DbFigures, Percentiles, TableChurn};
use crate::references::{BareSqlFigures, DrainFigures, PushFigures, QueueKnobs};
use crate::rss::RssSummary;
use std::collections::BTreeMap;

fn drain(jobs: u64, batch_size: usize, jobs_per_sec: Option<f64>, timed_out: bool) -> DrainFigures {
    DrainFigures {
        jobs,
        rows_in_table: 1_234_567,
        knobs: QueueKnobs {
            workers: 2,
            concurrency: 16,
            batch_size,
            poll_ms: 200,
            heartbeat_secs: 10,
            missed_heartbeats: 3,
        },
        secs: 12.3,
        jobs_per_sec,
        timed_out,
    }
}

fn kind(done: u64, records_per_sec: Option<f64>, window_secs: f64) -> KindFigures {
    KindFigures {
        records: done,
        done,
        records_per_sec,
        window_secs,
        latency_ms: Percentiles {
            p50: Some(0.25),
            p99: Some(150.0),
        },
        ready_to_done_ms: Percentiles {
            p50: None,
            p99: Some(12_345.6),
        },
    }
}

fn sample() -> Report {
    let rss = RssSummary {
        peak_mb: 140.4,
        first_minute_max_mb: 112.0,
        last_minute_max_mb: 126.6,
        end_mb: 98.0,
        sampled_secs: 61.0,
        samples: 62,
    };
    let by_kind = BTreeMap::from([
        ("zz_other".to_string(), kind(7, Some(0.4), 3.0)),
        ("execution".to_string(), kind(2_005, None, 103.0)),
        ("folder".to_string(), kind(3_004, Some(3_704.2), 53.0)),
    ]);
    let run = RunReport {
        records_requested: 50_000,
        workers: 1,
        run_id: 43,
        enqueue: EnqueueFigures {
            wall_secs: 99.95,
            records: 50_017,
            ready: 123,
            records_per_sec: Some(5_000.4),
            peak_rss_mb: 180.6,
            rss,
            cpu: PhaseCpu {
                ztoq_secs: 12.34,
                mocks_secs: 5.06,
                postgres_secs: Some(7.77),
                available_secs: 199.9,
            },
            zephyr_requests: 12_345,
            qtest_requests: 678,
        },
        run: RunFigures {
            wall_secs: 123.4,
            records: 50_100,
            done: 50_000,
            failed: 3,
            blocked: 4,
            records_per_sec: Some(1_000.0),
            finished: false,
            verified: true,
            verify_secs: 7.25,
            end_to_end_secs: 240.0,
            end_to_end_records_per_sec: Some(1_650.0),
            latency_ms: Percentiles {
                p50: Some(12.5),
                p99: Some(1_500.2),
            },
            ready_to_done_ms: Percentiles {
                p50: None,
                p99: Some(0.04),
            },
            by_kind,
            workers: vec![WorkerFigures {
                name: "bench-0".into(),
                pid: 100,
                exit: None,
                rss,
                cpu_secs: 33.33,
            }],
            max_worker_peak_rss_mb: 140.4,
            cpu: PhaseCpu {
                ztoq_secs: 100.0,
                mocks_secs: 20.5,
                postgres_secs: None,
                available_secs: 246.8,
            },
            postgres: DbFigures {
                database_size_mb: 512.4,
                apalis_jobs_rows: 1_000_001,
                apalis_jobs_mb: 300.5,
                records_mb: 150.5,
                claim_by_id_array: true,
                notify_trigger: false,
                churn: vec![
                    TableChurn {
                        table: "public.records".into(),
                        updates: 2_000_002,
                        hot_updates_pct: Some(91.4),
                        live_rows: 1_000_001,
                        dead_rows: 12_345,
                        autovacuums: 3,
                    },
                    TableChurn {
                        table: "apalis.jobs".into(),
                        updates: 0,
                        hot_updates_pct: None,
                        live_rows: 0,
                        dead_rows: 0,
                        autovacuums: 0,
                    },
                ],
            },
            mocks: MockFigures {
                qtest: ApiFigures {
                    requests: 5_000,
                    rate_limited: 40,
                    injected_errors: 2,
                    ok_per_sec: Some(95.5),
                    rate_limited_share: Some(0.008),
                },
                zephyr: ApiFigures::default(),
            },
        },
        vs_references: Ratios {
            bare_sql: Some(0.0512),
            apalis: Some(1.234),
        },
    };
    let settings = Settings {
        records: vec![50_000],
        workers: vec![1],
        concurrency: 16,
        batch_size: 32,
        poll_ms: 200,
        latency_ms: 50,
        rate_limit: Some(100.0),
        fault_rate: 0.01,
        seed: 7,
        reference_jobs: 500_000,
        reference_connections: 2,
        check_jobs: 20_000,
    };
    let runs = vec![run];
    Report {
        bench: Meta {
            started_at: "2024-01-02T03:04:05Z".into(),
            cpus: 2,
            host: "h".into(),
            profile: "debug".into(),
            ztoq_version: "0.1.0".into(),
            postgres_version: "16.2".into(),
            postgres: "external".into(),
            postgres_sizing: "shared_buffers 4GB, max_wal_size 8GB, checkpoint_timeout 30min"
                .into(),
            total_secs: 1_234.56,
        },
        targets: evaluate(&settings, &runs),
        settings,
        runs,
        references: Some(References {
            when: "after the ztoq runs".into(),
            bare_sql: BareSqlFigures {
                jobs: 500_000,
                connections: 2,
                batch: 100,
                load_secs: 2.5,
                drain_secs: 10.0,
                jobs_per_sec: Some(50_000.0),
            },
            apalis_push: PushFigures {
                jobs: 500_000,
                secs: 20.0,
                jobs_per_sec: Some(25_000.0),
            },
            apalis: drain(500_000, 32, Some(4_321.9), false),
        }),
        queue_checks: Some(QueueChecks {
            rows: 500_000,
            jobs_per_drain: 20_000,
            push_with_notify_trigger: PushFigures {
                jobs: 500_000,
                secs: 40.0,
                jobs_per_sec: None,
            },
            push_without_trigger: PushFigures {
                jobs: 500_000,
                secs: 20.0,
                jobs_per_sec: Some(25_000.0),
            },
            drains: vec![LabelledDrain {
                schema: "stock".into(),
                label: "batch 100".into(),
                drain: drain(1_500, 100, None, true),
            }],
            handled: Handled {
                claim_query: true,
                fetch_batch: false,
                no_notify_trigger: true,
                claim_speedup: Some(0.05),
                batch_speedup: None,
                trigger_push_slowdown: Some(2.0),
            },
        }),
        ok: false,
    }
}

const TABLE: &str = r#"ztoq bench: debug build, 2 CPUs, PostgreSQL 16.2 (external; shared_buffers 4GB, max_wal_size 8GB, checkpoint_timeout 30min), 1235 s total
settings: concurrency 16, batch 32, poll 200 ms, mock latency 50 ms, qTest rate limit 100 req/s, fault rate 0.01

== run: 50,000 records, 1 worker (run id 43)
enqueue       100.0 s     5,000 records/s   50,017 records   peak RSS 181 MB
  CPU s     enqueue 12.3, mocks 5.1, postgres 7.8 (of 200 available)
  requests  Zephyr 12,345, qTest 678
run             123 s     1,000 records/s   50,000 done, 3 failed, 4 blocked  (NOT FINISHED)
  CPU s     workers 100.0, mocks 20.5, postgres – (not on this machine) (of 247 available)
end to end      240 s     1,650 records/s   (verify 7.2 s: OK)
kind                done  records/s    window     latency p50/p99 ms    ready→done p50/p99 ms
folder             3,004      3,704    53.0 s              0.2 / 150               – / 12,346
execution          2,005          –     103 s              0.2 / 150               – / 12,346
zz_other               7          0     3.0 s              0.2 / 150               – / 12,346
all               50,000      1,000     123 s           12.5 / 1,500                  – / 0.0
worker RSS MB       peak    first min     last min       end     CPU s
bench-0              140          112          127        98      33.3
postgres    database 512 MB; apalis.jobs 1,000,001 rows (300 MB); records 150 MB
  churn     public.records 2,000,002 updates, 91 % HOT, 12,345 dead rows, 3 autovacuums; apalis.jobs 0 updates, - HOT, 0 dead rows, 0 autovacuums
qTest       5,000 requests, 96 ok/s, 40 answered 429 (0.80 %), 2 injected errors
Zephyr      0 requests, – ok/s, 0 answered 429 (–), 0 injected errors
vs refs     ztoq records/s = 0.051× of bare SQL jobs/s, 1.23× of apalis no-op jobs/s

== references (after the ztoq runs)
  bare SQL SKIP LOCKED claim+ack                             500,000 jobs    50,000 jobs/s   batch 100, 2 connections (load 2.5 s)
  apalis push                                                500,000 jobs    25,000 jobs/s   (push_bulk, ztoq schema)
  apalis no-op drain (2 workers × 16)                        500,000 jobs     4,322 jobs/s   batch  32, 1,234,567 rows in table

== apalis weak spots at 500,000 rows
  push, stock schema                                         500,000 jobs         – jobs/s   per-row NOTIFY trigger
  push, ztoq schema                                          500,000 jobs    25,000 jobs/s   trigger dropped
  stock schema, batch 100                                      1,500 jobs         – jobs/s   batch 100, 1,234,567 rows in table (time limit)
  claim query: handled (0.050× stock's jobs/s); fetch batch: NOT handled (– batch 10's); NOTIFY trigger: handled (push time with it 2.00× without)

== targets
  enqueue peak RSS                              181 MB        PASS (+9.7 %)                  target: ≤ 200 MB [50,000 records, 1 worker]
  worker peak RSS                               140 MB        PASS (+6.4 %)                  target: ≤ 150 MB per worker [50,000 records, 1 worker]
  qTest requests/s under its rate limit       95.50 req/s     PASS (+0.5 %)                  target: ≥ 95 % of the limit (100 req/s) let through (stated with 50 ms latency) [50,000 records, 1 worker]
  qTest 429 share under its rate limit         0.80 %         PASS (+20.0 %)                 target: ≤ 1 % of qTest requests answered 429 [50,000 records, 1 worker]
NOT every run finished and verified
"#;

#[test]
fn the_table_is_laid_out_line_for_line() {
    let table = sample().table();
    for (got, want) in table.lines().zip(TABLE.lines()) {
        assert_eq!(got, want);
    }
    assert_eq!(table, TABLE);
}

#[test]
fn throughput_targets_are_made_only_against_plain_mocks() {
    let report = sample();
    let names =
        |targets: &[Target]| -> Vec<String> { targets.iter().map(|t| t.name.clone()).collect() };
    // The sample has latency, a rate limit and faults: the throughput targets do not apply.
    assert!(
        !names(&report.targets)
            .iter()
            .any(|n| n.contains("throughput"))
    );
    let plain = Settings {
        latency_ms: 0,
        rate_limit: None,
        fault_rate: 0.0,
        ..report.settings.clone()
    };
    let targets = evaluate(&plain, &report.runs);
    let enqueue = targets
        .iter()
        .find(|t| t.name == "enqueue throughput")
        .expect("enqueue throughput target");
    assert_eq!(enqueue.measured, report.runs[0].enqueue.records_per_sec);
    assert_eq!(enqueue.pass, Some(false));
    // The sample's run did not verify: its end-to-end rate is not measured, not a pass.
    let end_to_end = targets
        .iter()
        .find(|t| t.name == "enqueue → verified throughput")
        .expect("end-to-end target");
    assert_eq!((end_to_end.measured, end_to_end.pass), (None, None));
    assert!(!names(&targets).iter().any(|n| n.contains("rate limit")));
}
