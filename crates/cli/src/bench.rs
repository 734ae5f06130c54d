//! `ztoq bench`: issue 4's benchmark on one machine. Per (records, workers) combination: a
//! fresh database, both mocks in this process, `ztoq-enqueue` and W `ztoq-worker` processes
//! (their memory sampled from `/proc`), the run to the last record, `verify`; then, on the
//! same Postgres server, the reference queues (bare SQL and apalis-postgres with no-op jobs)
//! and apalis's weak spots at N rows. Prints a table and one JSON object (only the JSON with
//! `--json`), with issue 4's targets: measured value, pass or miss, and by how much.
//!
//! Set-up (database, mocks, workers, progress) is shared with `ztoq demo`.
//!
//! This file holds the flags and the order of things (runs, references, report, output); one
//! run is `one_run`, its enqueue phase `enqueue`, the arithmetic from counters to figures
//! `figures`; the report itself (JSON fields, targets, table) is `ztoq_bench::report`.

mod enqueue;
mod figures;
mod one_run;

use crate::args::DbArgs;
use crate::demo;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::time::Instant;
use ztoq_bench::plan::ReferencePlan;
use ztoq_bench::references::QueueKnobs;
use ztoq_bench::report::{self, Meta, Ratios, Report, Settings, div};

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
    #[arg(long, default_value_t = crate::commands::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Jobs claimed per fetch (workers and the apalis reference).
    #[arg(long, default_value_t = crate::commands::DEFAULT_BATCH_SIZE)]
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
    let (postgres_version, postgres_sizing) = ztoq_bench::pg::server_info(&admin_url).await?;
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
            let result = one_run::run_once(
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
            postgres_sizing,
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
