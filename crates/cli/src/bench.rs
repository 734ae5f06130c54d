//! `ztoq bench`: issue 4's benchmark on one machine. Per (records, workers) combination: a
//! fresh database, both mocks in this process, `ztoq-enqueue` and W `ztoq-worker` processes
//! (their memory sampled from `/proc`), the run to the last record, `verify`; then, on the
//! same Postgres server, the reference queues (bare SQL and apalis-postgres with no-op jobs)
//! and apalis's weak spots at N rows. Prints a table and one JSON object (only the JSON with
//! `--json`), with issue 4's targets: measured value, pass or miss, and by how much.
//!
//! Set-up (database, mocks, workers, progress) is shared with `ztoq demo`.

use crate::args::DbArgs;
use crate::demo::{self, Mocks};
use crate::mock::{DEMO_QTEST_TOKEN, DEMO_ZEPHYR_TOKEN};
use anyhow::{Context, Result, bail};
use clap::Args;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use ztoq_bench::cpu;
use ztoq_bench::measure::{self, Percentiles};
use ztoq_bench::plan::ReferencePlan;
use ztoq_bench::prom::{self, Histogram, Sample};
use ztoq_bench::references::QueueKnobs;
use ztoq_bench::report::{
    self, ApiFigures, EnqueueFigures, KindFigures, Meta, MockFigures, PhaseCpu, Ratios, Report,
    RunFigures, RunReport, Settings, WorkerFigures,
};
use ztoq_bench::rss::Sampler;
use ztoq_http::{ClientOptions, Secret};
use ztoq_mock::faults::{FaultConfig, FaultStats};
use ztoq_qtest::QtestAuth;

/// `ztoq bench` flags.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Records of the generated project (the mock's scale); a comma-separated list runs each.
    #[arg(long, value_delimiter = ',', default_value = "500000")]
    pub records: Vec<u64>,
    /// Worker processes; a comma-separated list (e.g. 1,2,4) runs each.
    #[arg(long, value_delimiter = ',', default_value = "2")]
    pub workers: Vec<usize>,
    /// Concurrency of each worker (and of each apalis reference worker).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Jobs claimed per fetch (workers and the apalis reference).
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Idle poll interval in ms (workers and the apalis reference).
    #[arg(long, default_value_t = 200)]
    pub poll_ms: u64,
    /// Latency added to every request of both mocks, in ms.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Requests/s the qTest mock lets through before answering 429 (Retry-After: 1).
    #[arg(long)]
    pub rate_limit: Option<f64>,
    /// Share (0..1) of requests of both mocks answered with an injected error.
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Seed of the generated project.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print only the JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Skip the reference queues and the apalis checks.
    #[arg(long)]
    pub skip_references: bool,
    /// Skip the apalis checks (stock vs ztoq claim, batch sizes, NOTIFY trigger).
    #[arg(long)]
    pub skip_queue_checks: bool,
    /// Jobs in each reference queue (N; default: the largest --records).
    #[arg(long)]
    pub reference_jobs: Option<u64>,
    /// Connections of the bare-SQL reference (default: the first --workers value).
    #[arg(long)]
    pub reference_connections: Option<usize>,
    /// Jobs drained per apalis check (M; default: N, at most 20,000).
    #[arg(long)]
    pub check_jobs: Option<u64>,
    /// Give up a run after this many seconds.
    #[arg(long, default_value_t = 3600)]
    pub timeout_secs: u64,
    /// Keep the benchmark's databases and worker logs.
    #[arg(long)]
    pub keep_databases: bool,
    /// A Postgres server to use instead of a throwaway one (the benchmark creates and drops
    /// databases of its own there: needs CREATEDB).
    #[command(flatten)]
    pub db: DbArgs,
}

/// Bare-SQL rows claimed per statement.
const BARE_SQL_BATCH: usize = 100;
/// Worker lease ztoq's worker uses by default (heartbeat = lease / 3, 3 missed).
const LEASE_SECS: u64 = 30;

/// Runs the benchmark; returns whether every run finished and verified.
pub async fn run(args: BenchArgs) -> Result<bool> {
    if args.records.is_empty() || args.workers.is_empty() {
        bail!("--records and --workers need at least one value");
    }
    if args.workers.contains(&0) || args.concurrency == 0 || args.batch_size == 0 {
        bail!("--workers, --concurrency and --batch-size must be at least 1");
    }
    let started = Instant::now();
    let started_at = report::now_rfc3339();
    let (admin_url, temp_pg) = demo::database(&args.db).await?;
    let postgres_version = ztoq_bench::pg::server_version(&admin_url).await?;
    let enqueue_exe = demo::sibling_exe("ztoq-enqueue")?;
    let worker_exe = demo::sibling_exe("ztoq-worker")?;
    let prefix = format!("ztoq_bench_{}", std::process::id());
    let log_dir = std::env::temp_dir().join(format!("ztoq-bench-{}", std::process::id()));
    std::fs::create_dir_all(&log_dir)?;

    let max_records = args.records.iter().copied().max().unwrap_or(0);
    let reference_jobs = args.reference_jobs.unwrap_or(max_records).max(1);
    let check_jobs = args.check_jobs.unwrap_or(reference_jobs.min(20_000)).max(1);
    let settings = Settings {
        records: args.records.clone(),
        workers: args.workers.clone(),
        concurrency: args.concurrency,
        batch_size: args.batch_size,
        poll_ms: args.poll_ms,
        latency_ms: args.latency_ms,
        rate_limit: args.rate_limit,
        fault_rate: args.fault_rate,
        seed: args.seed,
        reference_jobs,
        reference_connections: args.reference_connections.unwrap_or(args.workers[0]),
        check_jobs,
    };

    let mut runs = Vec::new();
    let mut run_dbs = Vec::new();
    let mut index = 0;
    for &records in &args.records {
        for &workers in &args.workers {
            let name = format!("{prefix}_run{index}");
            index += 1;
            eprintln!("bench: run {index}: {records} records, {workers} workers");
            let url = ztoq_bench::pg::create_database(&admin_url, &name).await?;
            let result = run_once(
                &args,
                &url,
                records,
                workers,
                &enqueue_exe,
                &worker_exe,
                &log_dir.join(format!("run{index}")),
            )
            .await;
            if !args.keep_databases {
                let _ = ztoq_bench::pg::drop_database(&admin_url, &name).await;
            }
            let report = result.with_context(|| format!("run {index}"))?;
            run_dbs.push(report.run.postgres.clone());
            runs.push(report);
        }
    }

    let mut references = None;
    let mut queue_checks = None;
    if !args.skip_references {
        let plan = ReferencePlan {
            admin_url: admin_url.clone(),
            db_prefix: prefix.clone(),
            jobs: reference_jobs,
            check_jobs,
            connections: settings.reference_connections.max(1),
            bare_batch: BARE_SQL_BATCH,
            knobs: QueueKnobs {
                workers: args.workers[0],
                concurrency: args.concurrency,
                batch_size: args.batch_size,
                poll_ms: args.poll_ms,
                heartbeat_secs: (LEASE_SECS / 3).max(1),
                missed_heartbeats: 3,
            },
            checks: !args.skip_queue_checks,
            keep_databases: args.keep_databases,
            when: "after the ztoq runs, same server, databases of their own".into(),
        };
        let (refs, checks) = ztoq_bench::plan::run(&plan, run_dbs.first()).await?;
        for r in &mut runs {
            r.vs_references = Ratios {
                bare_sql: div(r.run.records_per_sec, refs.bare_sql.jobs_per_sec),
                apalis: div(r.run.records_per_sec, refs.apalis.jobs_per_sec),
            };
        }
        references = Some(refs);
        queue_checks = checks;
    }

    let targets = report::evaluate(&settings, &runs);
    let ok = runs.iter().all(|r| r.run.finished && r.run.verified);
    let report = Report {
        bench: Meta {
            started_at,
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            host: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_default(),
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .into(),
            ztoq_version: env!("CARGO_PKG_VERSION").into(),
            postgres_version,
            postgres: if temp_pg.is_some() {
                "throwaway"
            } else {
                "external"
            }
            .into(),
            total_secs: started.elapsed().as_secs_f64(),
        },
        settings,
        runs,
        references,
        queue_checks,
        targets,
        ok,
    };
    if !args.json {
        print!("{}", report.table());
    }
    println!("{}", serde_json::to_string(&report)?);
    if ok && !args.keep_databases {
        let _ = std::fs::remove_dir_all(&log_dir);
    } else {
        eprintln!("bench: worker logs kept in {}", log_dir.display());
    }
    drop(temp_pg);
    Ok(ok)
}

fn div(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn rate(n: u64, secs: f64) -> Option<f64> {
    (secs > 0.0).then(|| n as f64 / secs)
}

/// A free loopback port (bound, then released: another process could take it in between).
fn free_addr() -> Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

/// What the mocks answered between two snapshots, over `secs`.
fn api_figures(before: &FaultStats, after: &FaultStats, secs: f64) -> ApiFigures {
    let requests = after.requests.saturating_sub(before.requests);
    let rate_limited = after.rate_limited.saturating_sub(before.rate_limited);
    let injected_errors = after.injected_errors.saturating_sub(before.injected_errors);
    let ok = requests.saturating_sub(rate_limited + injected_errors);
    ApiFigures {
        requests,
        rate_limited,
        injected_errors,
        ok_per_sec: rate(ok, secs),
        rate_limited_share: (requests > 0).then(|| rate_limited as f64 / requests as f64),
    }
}

/// p50/p99 in ms of the done-attempt durations whose labels pass `keep`.
fn histogram_ms(samples: &[Sample], keep: impl Fn(&Sample) -> bool) -> Percentiles {
    let h = Histogram::collect(samples, "ztoq_record_duration_seconds", |s| {
        s.label("outcome") == Some("done") && keep(s)
    });
    Percentiles {
        p50: h.quantile(0.5).map(|s| s * 1000.0),
        p99: h.quantile(0.99).map(|s| s * 1000.0),
    }
}

/// CPU counters at one moment: this process (the mocks), the children it reaped, Postgres.
struct CpuMark {
    at: Instant,
    own: cpu::Stat,
    postgres: Option<f64>,
}

impl CpuMark {
    fn now(postmaster: Option<u32>) -> CpuMark {
        CpuMark {
            at: Instant::now(),
            own: cpu::own(),
            postgres: postmaster.and_then(cpu::tree_cpu_secs),
        }
    }

    /// CPU used since `self`, with `ztoq_secs` for the phase's processes.
    fn since(&self, postmaster: Option<u32>, ztoq_secs: f64) -> PhaseCpu {
        let now = CpuMark::now(postmaster);
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        PhaseCpu {
            ztoq_secs,
            mocks_secs: now.own.cpu_secs - self.own.cpu_secs,
            postgres_secs: match (self.postgres, now.postgres) {
                (Some(a), Some(b)) => Some(b - a),
                _ => None,
            },
            available_secs: now.at.duration_since(self.at).as_secs_f64() * cpus as f64,
        }
    }
}

/// The enqueue as a child process, its memory sampled every 200 ms, its CPU time read from
/// this process's reaped-children counters once it was waited for.
async fn enqueue(
    exe: &Path,
    url: &str,
    mocks: &Mocks,
    log: &Path,
    postmaster: Option<u32>,
) -> Result<(i64, EnqueueFigures)> {
    let started = Instant::now();
    let mark = CpuMark::now(postmaster);
    let child = tokio::process::Command::new(exe)
        .arg("--zephyr-url")
        .arg(format!("{}/v2", mocks.zephyr.url()))
        .arg("--project-key")
        .arg(&mocks.project_key)
        .arg("--qtest-url")
        .arg(mocks.qtest.url())
        .arg("--qtest-project-id")
        .arg(mocks.project_id.to_string())
        .arg("--json")
        .env("ZTOQ_DATABASE_URL", url)
        .env("ZTOQ_ZEPHYR_TOKEN", DEMO_ZEPHYR_TOKEN)
        .env("ZTOQ_QTEST_TOKEN", DEMO_QTEST_TOKEN)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log)?)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let (zephyr_before, qtest_before) = (mocks.zephyr.faults.stats(), mocks.qtest.faults.stats());
    let sampler = Sampler::start(child.id().into_iter().collect(), Duration::from_millis(200));
    let out = child.wait_with_output().await?;
    let wall_secs = started.elapsed().as_secs_f64();
    let reaped = cpu::own().children_cpu_secs - mark.own.children_cpu_secs;
    let cpu = mark.since(postmaster, reaped);
    let rss = sampler
        .stop()
        .first()
        .map(|s| s.summary())
        .unwrap_or_default();
    if !out.status.success() {
        bail!(
            "ztoq-enqueue failed ({}); its log: {}",
            out.status,
            log.display()
        );
    }
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("reading ztoq-enqueue's JSON report")?;
    let run_id = report["run_id"]
        .as_i64()
        .context("no run_id in ztoq-enqueue's report")?;
    let records: u64 = report["inserted"]
        .as_object()
        .map(|m| m.values().filter_map(|v| v.as_u64()).sum())
        .unwrap_or(0);
    Ok((
        run_id,
        EnqueueFigures {
            wall_secs,
            records,
            ready: report["ready"].as_u64().unwrap_or(0),
            records_per_sec: rate(records, wall_secs),
            peak_rss_mb: rss.peak_mb,
            rss,
            cpu,
            zephyr_requests: mocks.zephyr.faults.stats().requests - zephyr_before.requests,
            qtest_requests: mocks.qtest.faults.stats().requests - qtest_before.requests,
        },
    ))
}

/// One (records, workers) run in the fresh database `url`.
async fn run_once(
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
            vec![
                "--batch-size".into(),
                args.batch_size.to_string(),
                "--poll-ms".into(),
                args.poll_ms.to_string(),
                "--metrics-addr".into(),
                metrics[i].to_string(),
            ]
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
