//! One (records, workers) run in a fresh database: migrate, start both mocks, enqueue, run W
//! workers to the last record (memory, CPU, metrics), verify, and gather the run's figures.

use super::BenchArgs;
use super::enqueue::enqueue;
use super::figures::{CpuMark, api_figures, histogram_ms, rate};
use crate::demo::{self, Mocks};
use crate::mock::DEMO_QTEST_TOKEN;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use ztoq_bench::cpu;
use ztoq_bench::measure;
use ztoq_bench::prom;
use ztoq_bench::report::{KindFigures, MockFigures, Ratios, RunFigures, RunReport, WorkerFigures};
use ztoq_bench::rss::Sampler;
use ztoq_http::{ClientOptions, Secret};
use ztoq_mock::faults::FaultConfig;
use ztoq_qtest::QtestAuth;

/// A free loopback port (bound, then released: another process could take it in between).
fn free_addr() -> Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

/// One (records, workers) run in the fresh database `url`.
pub(super) async fn run_once(
    args: &BenchArgs,
    url: &str,
    records: u64,
    workers: usize,
    enqueue_exe: &Path,
    worker_exe: &Path,
    log_dir: &Path,
) -> Result<RunReport> {
    std::fs::create_dir_all(log_dir)?;
    let pool = ztoq_store::connect(url, 4)
        .await
        .context("connecting to Postgres")?;
    ztoq_store::migrate(&pool)
        .await
        .context("migrating the database")?;
    let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&pool)
        .await?;
    let postmaster = cpu::postmaster_of(backend as u32);
    let zephyr_faults = FaultConfig {
        latency_ms: args.latency_ms,
        fault_rate: args.fault_rate,
        retry_after_secs: 1,
        ..FaultConfig::default()
    };
    let qtest_faults = FaultConfig {
        rate_limit: args.rate_limit,
        ..zephyr_faults.clone()
    };
    qtest_faults.check().map_err(anyhow::Error::msg)?;
    let mocks = Mocks::start(records, args.seed, zephyr_faults, qtest_faults).await?;

    let run_started = Instant::now();
    let (run_id, enqueue) = enqueue(
        enqueue_exe,
        url,
        &mocks,
        &log_dir.join("enqueue.log"),
        postmaster,
    )
    .await?;
    eprintln!(
        "bench: enqueued run {run_id}: {} records in {:.1}s, peak RSS {:.0} MB",
        enqueue.records, enqueue.wall_secs, enqueue.peak_rss_mb
    );

    let qtest_before = mocks.qtest.faults.stats();
    let zephyr_before = mocks.zephyr.faults.stats();
    let metrics: Vec<SocketAddr> = (0..workers).map(|_| free_addr()).collect::<Result<_>>()?;
    let worker_started = Instant::now();
    let worker_started_db = measure::db_now(&pool).await?;
    let mark = CpuMark::now(postmaster);
    let mut procs = demo::spawn_workers(
        worker_exe,
        workers,
        args.concurrency,
        "bench",
        url,
        log_dir,
        |i| {
            let mut extra = vec![
                "--batch-size".into(),
                args.batch_size.to_string(),
                "--poll-ms".into(),
                args.poll_ms.to_string(),
                "--metrics-addr".into(),
                metrics[i].to_string(),
            ];
            // The workers share the mock's limit through Postgres.
            if let Some(rate) = args.rate_limit {
                extra.extend(["--qtest-rate-limit".into(), rate.to_string()]);
            }
            extra
        },
    )?;
    let pids = procs.pids();
    let sampler = Sampler::start(pids.clone(), Duration::from_secs(1));
    eprintln!(
        "bench: {workers} workers started (logs in {})",
        log_dir.display()
    );
    let finished = demo::progress(
        &pool,
        run_id,
        Duration::from_secs(args.timeout_secs),
        Duration::from_secs(1),
        &mut procs,
    )
    .await?;
    let polled_secs = worker_started.elapsed().as_secs_f64();
    // When the last record changed (server clock), not when the 1 s poll noticed.
    let wall_secs = match measure::settled_after(&pool, run_id, worker_started_db).await? {
        Some(s) if finished && s > 0.0 && s <= polled_secs => s,
        _ => polled_secs,
    };
    let qtest = api_figures(&qtest_before, &mocks.qtest.faults.stats(), wall_secs);
    let zephyr = api_figures(&zephyr_before, &mocks.zephyr.faults.stats(), wall_secs);

    let mut samples = Vec::new();
    for addr in &metrics {
        match prom::scrape(*addr).await {
            Ok(text) => samples.extend(prom::parse(&text)),
            Err(e) => eprintln!("bench: {e:#}"),
        }
    }
    let series = sampler.stop();
    let run_cpu = mark.since(postmaster, series.iter().map(|s| s.cpu_secs).sum());
    procs.stop().await;
    let worker_figures: Vec<WorkerFigures> = procs
        .0
        .iter_mut()
        .enumerate()
        .map(|(i, child)| WorkerFigures {
            name: format!("bench-{i}"),
            pid: pids.get(i).copied().unwrap_or(0),
            exit: child.try_wait().ok().flatten().map(|s| s.to_string()),
            rss: series.get(i).map(|s| s.summary()).unwrap_or_default(),
            cpu_secs: series.get(i).map_or(0.0, |s| s.cpu_secs),
        })
        .collect();

    let verify_started = Instant::now();
    let verified = ztoq_verify::verify(
        &pool,
        QtestAuth::Token(Secret::new(DEMO_QTEST_TOKEN)),
        &ClientOptions::default(),
        run_id,
        args.rate_limit,
    )
    .await?;
    let verify_secs = verify_started.elapsed().as_secs_f64();
    let end_to_end_secs = run_started.elapsed().as_secs_f64();

    let mut conn = pool.acquire().await?;
    let counts = ztoq_store::report::counts(&mut conn, run_id).await?;
    drop(conn);
    let total = ztoq_store::report::total(&counts);
    let done = measure::done_figures(&pool, run_id).await?;
    let postgres = measure::db_figures(&pool).await?;
    pool.close().await;
    drop(mocks);

    let mut by_kind = BTreeMap::new();
    for (kind, c) in &counts {
        let name = kind.as_str();
        let d = done.get(name).copied().unwrap_or_default();
        by_kind.insert(
            name.to_string(),
            KindFigures {
                records: c.source,
                done: c.migrated,
                records_per_sec: rate(c.migrated, d.window_secs),
                window_secs: d.window_secs,
                latency_ms: histogram_ms(&samples, |s| s.label("kind") == Some(name)),
                ready_to_done_ms: d.ready_to_done_ms,
            },
        );
    }
    let all = done.get("all").copied().unwrap_or_default();
    let max_worker_peak_rss_mb = worker_figures
        .iter()
        .map(|w| w.rss.peak_mb)
        .fold(0.0, f64::max);
    Ok(RunReport {
        records_requested: records,
        workers,
        run_id,
        enqueue,
        run: RunFigures {
            wall_secs,
            records: total.source,
            done: total.migrated,
            failed: total.failed,
            blocked: total.blocked,
            records_per_sec: rate(total.migrated, wall_secs),
            finished,
            verified: verified.ok,
            verify_secs,
            end_to_end_secs,
            end_to_end_records_per_sec: rate(total.migrated, end_to_end_secs),
            latency_ms: histogram_ms(&samples, |_| true),
            ready_to_done_ms: all.ready_to_done_ms,
            by_kind,
            workers: worker_figures,
            max_worker_peak_rss_mb,
            cpu: run_cpu,
            postgres,
            mocks: MockFigures { qtest, zephyr },
        },
        vs_references: Ratios::default(),
    })
}
