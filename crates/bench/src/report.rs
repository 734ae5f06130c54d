//! The benchmark's result: one serialisable [`Report`] (printed as one JSON object), the
//! targets of issue 4 evaluated against it, and the human table.

use crate::measure::{DbFigures, Percentiles};
use crate::references::{BareSqlFigures, DrainFigures, PushFigures};
use crate::rss::RssSummary;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

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

/// One target of issue 4.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// What is measured.
    pub name: String,
    /// Which run(s) it was measured on.
    pub on: String,
    /// The target, in words.
    pub target: String,
    /// The threshold, in `unit`.
    pub threshold: f64,
    /// `at_least` or `at_most`.
    pub direction: String,
    /// The measured value, in `unit` (`None`: could not be measured).
    pub measured: Option<f64>,
    /// Unit of `threshold` and `measured`.
    pub unit: String,
    /// Met (`None`: not measured).
    pub pass: Option<bool>,
    /// Signed distance from the threshold as a share of it, %: positive = better than the
    /// target by that much, negative = missed by that much.
    pub margin_pct: Option<f64>,
    /// For a missed at-least target: how many times the measured value must grow.
    pub factor_needed: Option<f64>,
}

impl Target {
    fn new(
        name: &str,
        on: String,
        target: &str,
        at_least: bool,
        threshold: f64,
        measured: Option<f64>,
        unit: &str,
    ) -> Target {
        let (pass, margin, factor) = match measured {
            Some(m) if m.is_finite() && threshold != 0.0 => {
                let margin = if at_least {
                    (m - threshold) / threshold * 100.0
                } else {
                    (threshold - m) / threshold * 100.0
                };
                let pass = margin >= 0.0;
                let factor = (at_least && !pass && m > 0.0).then(|| threshold / m);
                (Some(pass), Some(margin), factor)
            }
            _ => (None, None, None),
        };
        Target {
            name: name.to_string(),
            on,
            target: target.to_string(),
            threshold,
            direction: if at_least { "at_least" } else { "at_most" }.into(),
            measured,
            unit: unit.to_string(),
            pass,
            margin_pct: margin,
            factor_needed: factor,
        }
    }

    /// "PASS (+12.0 %)" / "MISS by 23.4 % (needs 1.31×)" / "not measured".
    pub fn verdict(&self) -> String {
        match (self.pass, self.margin_pct) {
            (Some(true), Some(m)) => format!("PASS (+{m:.1} %)"),
            (Some(false), Some(m)) => match self.factor_needed {
                Some(f) => format!("MISS by {:.1} % (needs {f:.2}×)", -m),
                None => format!("MISS by {:.1} %", -m),
            },
            _ => "not measured".into(),
        }
    }
}

/// Records/s per 500k in 30 s.
pub const ENQUEUE_RECORDS_PER_SEC: f64 = 500_000.0 / 30.0;
/// Enqueue peak RSS, MiB.
pub const ENQUEUE_RSS_MB: f64 = 200.0;
/// Enqueue → verified, records/s (500k in ≤ 5 min).
pub const END_TO_END_RECORDS_PER_SEC: f64 = 1_700.0;
/// Worker peak RSS, MiB.
pub const WORKER_RSS_MB: f64 = 150.0;
/// Records/s of a small and a large run may differ by this share.
pub const SCALE_TOLERANCE: f64 = 0.15;
/// Share of the qTest rate limit reached.
pub const RATE_LIMIT_SHARE: f64 = 0.95;
/// Share of qTest requests answered 429.
pub const MAX_429_SHARE: f64 = 0.01;
/// Latency-bound speed-up of 2 and 4 workers over 1.
pub const SCALING: [(usize, f64); 2] = [(2, 1.8), (4, 3.4)];

fn run_label(r: &RunReport) -> String {
    format!(
        "{} records, {} worker{}",
        group(r.records_requested as f64),
        r.workers,
        if r.workers == 1 { "" } else { "s" }
    )
}

/// Evaluates issue 4's targets on the runs. Targets stated for 500k records are expressed as
/// rates (500k in 30 s = 16,667 records/s; 500k in 5 min ≈ 1,700 records/s) so that they
/// apply to a run of any size; the comparisons between runs are made only when the runs
/// needed were part of the invocation.
pub fn evaluate(settings: &Settings, runs: &[RunReport]) -> Vec<Target> {
    let mut out = Vec::new();
    for r in runs {
        let on = run_label(r);
        out.push(Target::new(
            "enqueue throughput",
            on.clone(),
            "500k records enqueued in ≤ 30 s (≥ 16,667 records/s)",
            true,
            ENQUEUE_RECORDS_PER_SEC,
            r.enqueue.records_per_sec,
            "records/s",
        ));
        out.push(Target::new(
            "enqueue peak RSS",
            on.clone(),
            "≤ 200 MB",
            false,
            ENQUEUE_RSS_MB,
            Some(r.enqueue.peak_rss_mb),
            "MB",
        ));
        out.push(Target::new(
            "enqueue → verified throughput",
            on.clone(),
            "whole run of 500k in ≤ 5 min (≥ 1,700 records/s; stated for 2 workers)",
            true,
            END_TO_END_RECORDS_PER_SEC,
            if r.run.finished && r.run.verified {
                r.run.end_to_end_records_per_sec
            } else {
                None
            },
            "records/s",
        ));
        out.push(Target::new(
            "worker peak RSS",
            on.clone(),
            "≤ 150 MB per worker",
            false,
            WORKER_RSS_MB,
            Some(r.run.max_worker_peak_rss_mb),
            "MB",
        ));
        if let Some(limit) = settings.rate_limit {
            out.push(Target::new(
                "qTest requests/s under its rate limit",
                on.clone(),
                &format!(
                    "≥ 95 % of the limit ({limit} req/s) let through (stated with 50 ms latency)"
                ),
                true,
                RATE_LIMIT_SHARE * limit,
                r.run.mocks.qtest.ok_per_sec,
                "req/s",
            ));
            out.push(Target::new(
                "qTest 429 share under its rate limit",
                on.clone(),
                "≤ 1 % of qTest requests answered 429",
                false,
                MAX_429_SHARE * 100.0,
                r.run.mocks.qtest.rate_limited_share.map(|s| s * 100.0),
                "%",
            ));
        }
    }
    // Same workers, different sizes: smallest vs largest.
    let mut worker_counts: Vec<usize> = runs.iter().map(|r| r.workers).collect();
    worker_counts.sort_unstable();
    worker_counts.dedup();
    for w in worker_counts {
        let same: Vec<&RunReport> = runs.iter().filter(|r| r.workers == w).collect();
        let small = same.iter().min_by_key(|r| r.records_requested);
        let large = same.iter().max_by_key(|r| r.records_requested);
        if let (Some(small), Some(large)) = (small, large)
            && small.records_requested < large.records_requested
        {
            let measured = match (small.run.records_per_sec, large.run.records_per_sec) {
                (Some(a), Some(b)) if a > 0.0 => Some((b / a - 1.0).abs() * 100.0),
                _ => None,
            };
            out.push(Target::new(
                "records/s independent of size",
                format!("{} vs {}", run_label(small), run_label(large)),
                "50k and 500k records/s within 15 %",
                false,
                SCALE_TOLERANCE * 100.0,
                measured,
                "% apart",
            ));
        }
    }
    // Latency-bound scaling: W workers vs 1, same size, latency on, no rate limit.
    if settings.latency_ms > 0 && settings.rate_limit.is_none() {
        for one in runs.iter().filter(|r| r.workers == 1) {
            for (w, factor) in SCALING {
                let Some(many) = runs
                    .iter()
                    .find(|r| r.workers == w && r.records_requested == one.records_requested)
                else {
                    continue;
                };
                let measured = match (one.run.records_per_sec, many.run.records_per_sec) {
                    (Some(a), Some(b)) if a > 0.0 => Some(b / a),
                    _ => None,
                };
                out.push(Target::new(
                    &format!("latency-bound scaling at {w} workers"),
                    format!("{} vs {}", run_label(one), run_label(many)),
                    &format!("≥ {factor}× the records/s of 1 worker"),
                    true,
                    factor,
                    measured,
                    "×",
                ));
            }
        }
    }
    out
}

/// Now, RFC 3339 in UTC (for [`Meta::started_at`]).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// `12345.6` → `"12,346"`.
pub fn group(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let neg = v < 0.0;
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if neg { format!("-{out}") } else { out }
}

fn opt_rate(v: Option<f64>) -> String {
    v.map_or("–".into(), group)
}

fn opt_ms(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) if v >= 100.0 => group(v),
        Some(v) => format!("{v:.1}"),
    }
}

fn ratio(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) if v < 0.1 => format!("{v:.3}×"),
        Some(v) => format!("{v:.2}×"),
    }
}

/// Record kinds in the order a run proceeds (others after, by name).
const KIND_ORDER: [&str; 6] = [
    "folder",
    "cycle_folder",
    "test_case",
    "test_cycle",
    "execution",
    "attachment",
];

fn pcts(p: &Percentiles) -> String {
    format!("{} / {}", opt_ms(p.p50), opt_ms(p.p99))
}

fn drain_line(out: &mut String, label: &str, d: &DrainFigures) {
    let _ = writeln!(
        out,
        "  {label:<56} {:>9} jobs {:>9} jobs/s   batch {:>3}, {} rows in table{}",
        group(d.jobs as f64),
        opt_rate(d.jobs_per_sec),
        d.knobs.batch_size,
        group(d.rows_in_table as f64),
        if d.timed_out { " (time limit)" } else { "" }
    );
}

impl Report {
    /// The human table (several lines, ending with a newline).
    pub fn table(&self) -> String {
        let mut o = String::new();
        let s = &self.settings;
        let _ = writeln!(
            o,
            "ztoq bench: {} build, {} CPUs, PostgreSQL {} ({}), {} total",
            self.bench.profile,
            self.bench.cpus,
            self.bench.postgres_version,
            self.bench.postgres,
            secs(self.bench.total_secs)
        );
        let _ = writeln!(
            o,
            "settings: concurrency {}, batch {}, poll {} ms, mock latency {} ms, qTest rate limit {}, fault rate {}",
            s.concurrency,
            s.batch_size,
            s.poll_ms,
            s.latency_ms,
            s.rate_limit
                .map_or("none".to_string(), |r| format!("{r} req/s")),
            s.fault_rate
        );
        for r in &self.runs {
            let _ = writeln!(o);
            let _ = writeln!(o, "== run: {} (run id {})", run_label(r), r.run_id);
            let e = &r.enqueue;
            let _ = writeln!(
                o,
                "enqueue     {:>9}   {:>7} records/s   {} records   peak RSS {:.0} MB",
                secs(e.wall_secs),
                opt_rate(e.records_per_sec),
                group(e.records as f64),
                e.peak_rss_mb
            );
            cpu_line(&mut o, "enqueue", &e.cpu);
            let _ = writeln!(
                o,
                "  requests  Zephyr {}, qTest {}",
                group(e.zephyr_requests as f64),
                group(e.qtest_requests as f64)
            );
            let x = &r.run;
            let _ = writeln!(
                o,
                "run         {:>9}   {:>7} records/s   {} done, {} failed, {} blocked{}",
                secs(x.wall_secs),
                opt_rate(x.records_per_sec),
                group(x.done as f64),
                x.failed,
                x.blocked,
                if x.finished { "" } else { "  (NOT FINISHED)" }
            );
            cpu_line(&mut o, "workers", &x.cpu);
            let _ = writeln!(
                o,
                "end to end  {:>9}   {:>7} records/s   (verify {}: {})",
                secs(x.end_to_end_secs),
                opt_rate(x.end_to_end_records_per_sec),
                secs(x.verify_secs),
                if x.verified { "OK" } else { "NOT OK" }
            );
            let _ = writeln!(
                o,
                "{:<14} {:>9} {:>10} {:>9} {:>22} {:>24}",
                "kind",
                "done",
                "records/s",
                "window",
                "latency p50/p99 ms",
                "ready→done p50/p99 ms"
            );
            let mut kinds: Vec<(&String, &KindFigures)> = x.by_kind.iter().collect();
            kinds.sort_by_key(|(k, _)| {
                (
                    KIND_ORDER
                        .iter()
                        .position(|o| o == k)
                        .unwrap_or(KIND_ORDER.len()),
                    k.to_string(),
                )
            });
            for (kind, k) in kinds {
                let _ = writeln!(
                    o,
                    "{:<14} {:>9} {:>10} {:>9} {:>22} {:>24}",
                    kind,
                    group(k.done as f64),
                    opt_rate(k.records_per_sec),
                    secs(k.window_secs),
                    pcts(&k.latency_ms),
                    pcts(&k.ready_to_done_ms)
                );
            }
            let _ = writeln!(
                o,
                "{:<14} {:>9} {:>10} {:>9} {:>22} {:>24}",
                "all",
                group(x.done as f64),
                opt_rate(x.records_per_sec),
                secs(x.wall_secs),
                pcts(&x.latency_ms),
                pcts(&x.ready_to_done_ms)
            );
            let _ = writeln!(
                o,
                "{:<14} {:>9} {:>12} {:>12} {:>9} {:>9}",
                "worker RSS MB", "peak", "first min", "last min", "end", "CPU s"
            );
            for w in &x.workers {
                let _ = writeln!(
                    o,
                    "{:<14} {:>9.0} {:>12.0} {:>12.0} {:>9.0} {:>9.1}",
                    w.name,
                    w.rss.peak_mb,
                    w.rss.first_minute_max_mb,
                    w.rss.last_minute_max_mb,
                    w.rss.end_mb,
                    w.cpu_secs
                );
            }
            let p = &x.postgres;
            let _ = writeln!(
                o,
                "postgres    database {:.0} MB; apalis.jobs {} rows ({:.0} MB); records {:.0} MB",
                p.database_size_mb,
                group(p.apalis_jobs_rows as f64),
                p.apalis_jobs_mb,
                p.records_mb
            );
            for (name, a) in [("qTest", &x.mocks.qtest), ("Zephyr", &x.mocks.zephyr)] {
                let _ = writeln!(
                    o,
                    "{name:<11} {} requests, {} ok/s, {} answered 429 ({}), {} injected errors",
                    group(a.requests as f64),
                    opt_rate(a.ok_per_sec),
                    a.rate_limited,
                    a.rate_limited_share
                        .map_or("–".into(), |s| format!("{:.2} %", s * 100.0)),
                    a.injected_errors
                );
            }
            if self.references.is_some() {
                let _ = writeln!(
                    o,
                    "vs refs     ztoq records/s = {} of bare SQL jobs/s, {} of apalis no-op jobs/s",
                    ratio(r.vs_references.bare_sql),
                    ratio(r.vs_references.apalis)
                );
            }
        }
        if let Some(refs) = &self.references {
            let _ = writeln!(o);
            let _ = writeln!(o, "== references ({})", refs.when);
            let b = &refs.bare_sql;
            let _ = writeln!(
                o,
                "  {:<56} {:>9} jobs {:>9} jobs/s   batch {}, {} connections (load {})",
                "bare SQL SKIP LOCKED claim+ack",
                group(b.jobs as f64),
                opt_rate(b.jobs_per_sec),
                b.batch,
                b.connections,
                secs(b.load_secs)
            );
            let _ = writeln!(
                o,
                "  {:<56} {:>9} jobs {:>9} jobs/s   (push_bulk, ztoq schema)",
                "apalis push",
                group(refs.apalis_push.jobs as f64),
                opt_rate(refs.apalis_push.jobs_per_sec)
            );
            drain_line(
                &mut o,
                &format!(
                    "apalis no-op drain ({} workers × {})",
                    refs.apalis.knobs.workers, refs.apalis.knobs.concurrency
                ),
                &refs.apalis,
            );
        }
        if let Some(c) = &self.queue_checks {
            let _ = writeln!(o);
            let _ = writeln!(o, "== apalis weak spots at {} rows", group(c.rows as f64));
            let _ = writeln!(
                o,
                "  {:<56} {:>9} jobs {:>9} jobs/s   per-row NOTIFY trigger",
                "push, stock schema",
                group(c.push_with_notify_trigger.jobs as f64),
                opt_rate(c.push_with_notify_trigger.jobs_per_sec)
            );
            let _ = writeln!(
                o,
                "  {:<56} {:>9} jobs {:>9} jobs/s   trigger dropped",
                "push, ztoq schema",
                group(c.push_without_trigger.jobs as f64),
                opt_rate(c.push_without_trigger.jobs_per_sec)
            );
            for d in &c.drains {
                drain_line(
                    &mut o,
                    &format!("{} schema, {}", d.schema, d.label),
                    &d.drain,
                );
            }
            let h = &c.handled;
            let yes = |b: bool| if b { "handled" } else { "NOT handled" };
            let _ = writeln!(
                o,
                "  claim query: {} ({} stock's jobs/s); fetch batch: {} ({} batch 10's); NOTIFY trigger: {} (push time with it {} without)",
                yes(h.claim_query),
                ratio(h.claim_speedup),
                yes(h.fetch_batch),
                ratio(h.batch_speedup),
                yes(h.no_notify_trigger),
                ratio(h.trigger_push_slowdown)
            );
        }
        let _ = writeln!(o);
        let _ = writeln!(o, "== targets");
        for t in &self.targets {
            let measured = t.measured.map_or("–".into(), |m| {
                if m.abs() >= 100.0 {
                    group(m)
                } else {
                    format!("{m:.2}")
                }
            });
            let _ = writeln!(
                o,
                "  {:<38} {:>10} {:<9} {:<30} target: {} [{}]",
                t.name,
                measured,
                t.unit,
                t.verdict(),
                t.target,
                t.on
            );
        }
        let _ = writeln!(
            o,
            "{}",
            if self.ok {
                "every run finished and verified"
            } else {
                "NOT every run finished and verified"
            }
        );
        o
    }
}

fn cpu_line(o: &mut String, who: &str, c: &PhaseCpu) {
    let _ = writeln!(
        o,
        "  CPU s     {who} {:.1}, mocks {:.1}, postgres {} (of {:.0} available)",
        c.ztoq_secs,
        c.mocks_secs,
        c.postgres_secs
            .map_or("– (not on this machine)".into(), |p| format!("{p:.1}")),
        c.available_secs
    );
}

fn secs(s: f64) -> String {
    if s >= 100.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_say_by_how_much() {
        let t = Target::new("x", "r".into(), "≥ 100", true, 100.0, Some(80.0), "u");
        assert_eq!(t.pass, Some(false));
        assert!((t.margin_pct.unwrap() + 20.0).abs() < 1e-9);
        assert!((t.factor_needed.unwrap() - 1.25).abs() < 1e-9);
        assert_eq!(t.verdict(), "MISS by 20.0 % (needs 1.25×)");
        let t = Target::new("x", "r".into(), "≤ 200", false, 200.0, Some(150.0), "MB");
        assert_eq!(t.pass, Some(true));
        assert_eq!(t.verdict(), "PASS (+25.0 %)");
        let t = Target::new("x", "r".into(), "≤ 200", false, 200.0, None, "MB");
        assert_eq!(t.pass, None);
        assert_eq!(t.verdict(), "not measured");
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(group(0.0), "0");
        assert_eq!(group(999.4), "999");
        assert_eq!(group(1000.0), "1,000");
        assert_eq!(group(1234567.0), "1,234,567");
        assert_eq!(group(-12345.0), "-12,345");
    }
}
