//! The shape of the JSON report: what one `ztoq bench` invocation measured, field by field
//! (serialised in declaration order), and the helpers that fill it in.

use super::targets::Target;
use crate::measure::{DbFigures, Percentiles};
use crate::references::{BareSqlFigures, DrainFigures, PushFigures};
use crate::rss::RssSummary;
use serde::Serialize;
use std::collections::BTreeMap;

/// Everything one `ztoq bench` invocation measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Where and when.
    pub bench: Meta,
    /// What was asked.
    pub settings: Settings,
    /// One entry per (records, workers) combination, in the order run.
    pub runs: Vec<RunReport>,
    /// The reference queues (absent with `--skip-references`).
    pub references: Option<References>,
    /// apalis-postgres's weak spots measured at N rows (absent with `--skip-references`).
    pub queue_checks: Option<QueueChecks>,
    /// Issue 4's targets: measured value, pass or miss, and by how much.
    pub targets: Vec<Target>,
    /// Every run finished and verified.
    pub ok: bool,
}

/// Where and when the benchmark ran.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    /// Start, RFC 3339 (UTC).
    pub started_at: String,
    /// CPUs available to this process.
    pub cpus: usize,
    /// Kernel host name.
    pub host: String,
    /// `release` or `debug` (of the `ztoq` binary).
    pub profile: String,
    /// ztoq's version.
    pub ztoq_version: String,
    /// `SHOW server_version`.
    pub postgres_version: String,
    /// `throwaway` (started by the benchmark) or `external` (`--database-url`).
    pub postgres: String,
    /// `shared_buffers`, `max_wal_size` and `checkpoint_timeout` of the server.
    pub postgres_sizing: String,
    /// Seconds the whole invocation took.
    pub total_secs: f64,
}

/// The flags, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Records requested (mock scale), one run per value and worker count.
    pub records: Vec<u64>,
    /// Worker processes, one run per value and records count.
    pub workers: Vec<usize>,
    /// Concurrency of each worker.
    pub concurrency: usize,
    /// Jobs claimed per fetch (workers and the apalis reference).
    pub batch_size: usize,
    /// Idle poll interval, ms (workers and the apalis reference).
    pub poll_ms: u64,
    /// Latency added to every mock request, ms (both mocks).
    pub latency_ms: u64,
    /// Requests/s the qTest mock lets through before answering 429 (none: unlimited).
    pub rate_limit: Option<f64>,
    /// Share of mock requests answered with an injected error (both mocks).
    pub fault_rate: f64,
    /// Seed of the generated project.
    pub seed: u64,
    /// Jobs in each reference queue (N).
    pub reference_jobs: u64,
    /// Connections of the bare-SQL reference.
    pub reference_connections: usize,
    /// Jobs drained per queue check (M).
    pub check_jobs: u64,
}

/// CPU seconds used during one phase, by who.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PhaseCpu {
    /// By the phase's ztoq processes (the enqueue process; all workers together).
    pub ztoq_secs: f64,
    /// By the benchmark's own process: mostly the in-process mocks (plus progress polling).
    pub mocks_secs: f64,
    /// By the Postgres server (all of it), when it runs on this machine.
    pub postgres_secs: Option<f64>,
    /// The phase's wall time × CPUs: what the machine had to give.
    pub available_secs: f64,
}

/// Enqueue of one run (`ztoq-enqueue` as a child process).
#[derive(Debug, Clone, Serialize)]
pub struct EnqueueFigures {
    /// Wall time of the child process, s.
    pub wall_secs: f64,
    /// Records created.
    pub records: u64,
    /// Records runnable at once (jobs pushed by the enqueue).
    pub ready: u64,
    /// `records / wall_secs`.
    pub records_per_sec: Option<f64>,
    /// Peak RSS of the process (`VmHWM`), MiB.
    pub peak_rss_mb: f64,
    /// RSS over time.
    pub rss: RssSummary,
    /// CPU seconds during the enqueue.
    pub cpu: PhaseCpu,
    /// Requests the Zephyr mock served during the enqueue.
    pub zephyr_requests: u64,
    /// Requests the qTest mock served during the enqueue.
    pub qtest_requests: u64,
}

/// One record kind in a run.
#[derive(Debug, Clone, Serialize)]
pub struct KindFigures {
    /// Records of the kind (source items).
    pub records: u64,
    /// Done.
    pub done: u64,
    /// `done / window_secs`.
    pub records_per_sec: Option<f64>,
    /// First to last `done_at` of the kind, s.
    pub window_secs: f64,
    /// Processing time of a successful attempt (worker histogram), ms.
    pub latency_ms: Percentiles,
    /// Ready → done (SQL: job `run_at` → record `done_at`), ms.
    pub ready_to_done_ms: Percentiles,
}

/// One worker process.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerFigures {
    /// Name given with `--name`.
    pub name: String,
    /// Process id.
    pub pid: u32,
    /// Exit status (`None`: did not exit by itself within the stop timeout).
    pub exit: Option<String>,
    /// RSS over the run.
    pub rss: RssSummary,
    /// CPU seconds used until every record was settled.
    pub cpu_secs: f64,
}

/// Requests one mock answered during the worker phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApiFigures {
    /// Requests seen.
    pub requests: u64,
    /// Answered 429 by the rate limiter.
    pub rate_limited: u64,
    /// Answered with an injected error.
    pub injected_errors: u64,
    /// Requests let through per second of the worker phase.
    pub ok_per_sec: Option<f64>,
    /// `rate_limited / requests`.
    pub rate_limited_share: Option<f64>,
}

/// Both mocks during the worker phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MockFigures {
    /// The qTest mock.
    pub qtest: ApiFigures,
    /// The Zephyr mock.
    pub zephyr: ApiFigures,
}

/// The worker phase of one run, and the run as a whole.
#[derive(Debug, Clone, Serialize)]
pub struct RunFigures {
    /// Worker start → the last record settled (its `updated_at`, server clock), s.
    pub wall_secs: f64,
    /// Records of the run (including attachments discovered by the workers).
    pub records: u64,
    /// Done.
    pub done: u64,
    /// Failed for good.
    pub failed: u64,
    /// Blocked by a failed record.
    pub blocked: u64,
    /// `done / wall_secs`.
    pub records_per_sec: Option<f64>,
    /// Every record settled before the time-out.
    pub finished: bool,
    /// `ztoq verify` found every record migrated and matching.
    pub verified: bool,
    /// Verification wall time, s.
    pub verify_secs: f64,
    /// Enqueue start → verification end, s.
    pub end_to_end_secs: f64,
    /// `done / end_to_end_secs`.
    pub end_to_end_records_per_sec: Option<f64>,
    /// Processing time of a successful attempt, all kinds (worker histogram), ms.
    pub latency_ms: Percentiles,
    /// Ready → done, all kinds (SQL), ms.
    pub ready_to_done_ms: Percentiles,
    /// By kind.
    pub by_kind: BTreeMap<String, KindFigures>,
    /// Each worker process.
    pub workers: Vec<WorkerFigures>,
    /// Largest worker peak RSS, MiB.
    pub max_worker_peak_rss_mb: f64,
    /// CPU seconds during the worker phase.
    pub cpu: PhaseCpu,
    /// The run's database at the end.
    pub postgres: DbFigures,
    /// The mocks during the worker phase.
    pub mocks: MockFigures,
}

/// ztoq's records/s as a share of a reference's jobs/s.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ratios {
    /// ÷ bare-SQL queue jobs/s.
    pub bare_sql: Option<f64>,
    /// ÷ apalis-postgres no-op jobs/s.
    pub apalis: Option<f64>,
}

/// One (records, workers) run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// `--records` value (mock scale).
    pub records_requested: u64,
    /// Worker processes.
    pub workers: usize,
    /// The run id in its database.
    pub run_id: i64,
    /// The enqueue.
    pub enqueue: EnqueueFigures,
    /// The worker phase and verification.
    pub run: RunFigures,
    /// Worker-phase records/s ÷ each reference's jobs/s.
    pub vs_references: Ratios,
}

/// The reference queues.
#[derive(Debug, Clone, Serialize)]
pub struct References {
    /// When, relative to the ztoq runs.
    pub when: String,
    /// Bare SQL `FOR UPDATE SKIP LOCKED` claim + ack of no-op rows.
    pub bare_sql: BareSqlFigures,
    /// apalis-postgres, push of N no-op jobs (ztoq's schema: no NOTIFY trigger).
    pub apalis_push: PushFigures,
    /// apalis-postgres, N no-op jobs drained with ztoq's knobs and claim query.
    pub apalis: DrainFigures,
}

/// One labelled drain of the queue checks.
#[derive(Debug, Clone, Serialize)]
pub struct LabelledDrain {
    /// `stock` (apalis-postgres's own schema) or `ztoq` (after ztoq's migrations).
    pub schema: String,
    /// What is varied.
    pub label: String,
    /// The drain.
    pub drain: DrainFigures,
}

/// apalis-postgres's three weak spots, measured with N rows in the table.
#[derive(Debug, Clone, Serialize)]
pub struct QueueChecks {
    /// Rows each table held (at least) while being drained.
    pub rows: u64,
    /// Jobs drained per variant (or until the time limit).
    pub jobs_per_drain: u64,
    /// N jobs pushed into apalis's stock schema, whose per-row NOTIFY trigger fires per job.
    pub push_with_notify_trigger: PushFigures,
    /// N jobs pushed into ztoq's schema (trigger dropped by migration 0003).
    pub push_without_trigger: PushFigures,
    /// The drains: stock vs ztoq claim query, batch 10 / 32 / 100.
    pub drains: Vec<LabelledDrain>,
    /// Whether ztoq's own database has each weak spot handled.
    pub handled: Handled,
}

/// Each weak spot, handled or not, in ztoq's run database and configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Handled {
    /// The run database's `apalis.get_jobs` is the `id = ANY(ARRAY(…))` form.
    pub claim_query: bool,
    /// ztoq's batch size is above apalis's default of 10.
    pub fetch_batch: bool,
    /// The run database has no per-row NOTIFY trigger on `apalis.jobs`.
    pub no_notify_trigger: bool,
    /// Jobs/s of ztoq's claim ÷ the stock claim, both at batch `batch_size`, at N rows.
    pub claim_speedup: Option<f64>,
    /// Jobs/s at ztoq's batch size ÷ at batch 10, ztoq's claim, at N rows.
    pub batch_speedup: Option<f64>,
    /// Push time with the trigger ÷ without.
    pub trigger_push_slowdown: Option<f64>,
}

/// `a / b` when both were measured and `b` is positive (ratios between figures).
pub fn div(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// Now, RFC 3339 in UTC (for [`Meta::started_at`]).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
