//! The human table of a [`Report`]: a header, one section per run, the reference queues,
//! apalis's weak spots and the targets. Numbers are written by [`super::format`].

use super::figures::{KindFigures, PhaseCpu, QueueChecks, References, Report, RunReport};
use super::format::{NONE, count, measured, opt_rate, pcts, ratio, run_label, secs};
use crate::references::DrainFigures;
use std::fmt::Display;
use std::fmt::Write as _;

/// Record kinds in the order a run proceeds (others after, by name).
const KIND_ORDER: [&str; 6] = [
    "folder",
    "cycle_folder",
    "test_case",
    "test_cycle",
    "execution",
    "attachment",
];

/// Widths of the per-kind columns: done, records/s, window, latency, ready → done.
const KIND_COLUMNS: [usize; 5] = [9, 10, 9, 22, 24];
/// Widths of the worker columns: peak, first min, last min, end (RSS, MB), CPU s.
const WORKER_COLUMNS: [usize; 5] = [9, 12, 12, 9, 9];

/// One line of a column block: `first` left-aligned in 14 characters, then each cell
/// right-aligned in its width (header and data lines alike).
fn row<S: AsRef<str>>(o: &mut String, widths: &[usize], first: &str, cells: &[S]) {
    let _ = write!(o, "{first:<14}");
    for (cell, width) in cells.iter().zip(widths) {
        let _ = write!(o, " {:>width$}", cell.as_ref());
    }
    let _ = writeln!(o);
}

/// One queue line: label, jobs, jobs/s, then what is particular to it.
fn queue_line(
    o: &mut String,
    label: &str,
    jobs: u64,
    jobs_per_sec: Option<f64>,
    tail: impl Display,
) {
    let _ = writeln!(
        o,
        "  {label:<56} {:>9} jobs {:>9} jobs/s   {tail}",
        count(jobs),
        opt_rate(jobs_per_sec)
    );
}

/// A queue line for a drain: its batch size and the rows in its table.
fn drain_line(o: &mut String, label: &str, d: &DrainFigures) {
    queue_line(
        o,
        label,
        d.jobs,
        d.jobs_per_sec,
        format_args!(
            "batch {:>3}, {} rows in table{}",
            d.knobs.batch_size,
            count(d.rows_in_table),
            if d.timed_out { " (time limit)" } else { "" }
        ),
    );
}

/// Who used the CPU during a phase.
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

impl Report {
    /// The human table (several lines, ending with a newline).
    pub fn table(&self) -> String {
        let mut o = String::new();
        self.header(&mut o);
        for r in &self.runs {
            run_section(&mut o, r, self.references.is_some());
        }
        if let Some(refs) = &self.references {
            references_section(&mut o, refs);
        }
        if let Some(c) = &self.queue_checks {
            checks_section(&mut o, c);
        }
        self.targets_section(&mut o);
        o
    }

    /// Build, machine, server and settings.
    fn header(&self, o: &mut String) {
        let s = &self.settings;
        let _ = writeln!(
            o,
            "ztoq bench: {} build, {} CPUs, PostgreSQL {} ({}; {}), {} total",
            self.bench.profile,
            self.bench.cpus,
            self.bench.postgres_version,
            self.bench.postgres,
            self.bench.postgres_sizing,
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
    }

    /// Each target, then whether every run finished and verified.
    fn targets_section(&self, o: &mut String) {
        let _ = writeln!(o);
        let _ = writeln!(o, "== targets");
        for t in &self.targets {
            let _ = writeln!(
                o,
                "  {:<38} {:>10} {:<9} {:<30} target: {} [{}]",
                t.name,
                measured(t.measured),
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
    }
}

/// One run: enqueue, worker phase, end to end, kinds, workers, database, mocks, references.
fn run_section(o: &mut String, r: &RunReport, with_references: bool) {
    let _ = writeln!(o);
    let _ = writeln!(o, "== run: {} (run id {})", run_label(r), r.run_id);
    let e = &r.enqueue;
    let _ = writeln!(
        o,
        "enqueue     {:>9}   {:>7} records/s   {} records   peak RSS {:.0} MB",
        secs(e.wall_secs),
        opt_rate(e.records_per_sec),
        count(e.records),
        e.peak_rss_mb
    );
    cpu_line(o, "enqueue", &e.cpu);
    let _ = writeln!(
        o,
        "  requests  Zephyr {}, qTest {}",
        count(e.zephyr_requests),
        count(e.qtest_requests)
    );
    let x = &r.run;
    let _ = writeln!(
        o,
        "run         {:>9}   {:>7} records/s   {} done, {} failed, {} blocked{}",
        secs(x.wall_secs),
        opt_rate(x.records_per_sec),
        count(x.done),
        x.failed,
        x.blocked,
        if x.finished { "" } else { "  (NOT FINISHED)" }
    );
    cpu_line(o, "workers", &x.cpu);
    let _ = writeln!(
        o,
        "end to end  {:>9}   {:>7} records/s   (verify {}: {})",
        secs(x.end_to_end_secs),
        opt_rate(x.end_to_end_records_per_sec),
        secs(x.verify_secs),
        if x.verified { "OK" } else { "NOT OK" }
    );
    row(
        o,
        &KIND_COLUMNS,
        "kind",
        &[
            "done",
            "records/s",
            "window",
            "latency p50/p99 ms",
            "ready→done p50/p99 ms",
        ],
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
        row(
            o,
            &KIND_COLUMNS,
            kind,
            &[
                count(k.done),
                opt_rate(k.records_per_sec),
                secs(k.window_secs),
                pcts(&k.latency_ms),
                pcts(&k.ready_to_done_ms),
            ],
        );
    }
    row(
        o,
        &KIND_COLUMNS,
        "all",
        &[
            count(x.done),
            opt_rate(x.records_per_sec),
            secs(x.wall_secs),
            pcts(&x.latency_ms),
            pcts(&x.ready_to_done_ms),
        ],
    );
    row(
        o,
        &WORKER_COLUMNS,
        "worker RSS MB",
        &["peak", "first min", "last min", "end", "CPU s"],
    );
    for w in &x.workers {
        row(
            o,
            &WORKER_COLUMNS,
            &w.name,
            &[
                format!("{:.0}", w.rss.peak_mb),
                format!("{:.0}", w.rss.first_minute_max_mb),
                format!("{:.0}", w.rss.last_minute_max_mb),
                format!("{:.0}", w.rss.end_mb),
                format!("{:.1}", w.cpu_secs),
            ],
        );
    }
    let p = &x.postgres;
    let _ = writeln!(
        o,
        "postgres    database {:.0} MB; apalis.jobs {} rows ({:.0} MB); records {:.0} MB",
        p.database_size_mb,
        count(p.apalis_jobs_rows),
        p.apalis_jobs_mb,
        p.records_mb
    );
    if !p.churn.is_empty() {
        let tables: Vec<String> = p
            .churn
            .iter()
            .map(|c| {
                format!(
                    "{} {} updates, {} HOT, {} dead rows, {} autovacuums",
                    c.table,
                    count(c.updates),
                    c.hot_updates_pct
                        .map_or_else(|| "-".to_string(), |pct| format!("{pct:.0} %")),
                    count(c.dead_rows),
                    c.autovacuums
                )
            })
            .collect();
        let _ = writeln!(o, "  churn     {}", tables.join("; "));
    }
    for (name, a) in [("qTest", &x.mocks.qtest), ("Zephyr", &x.mocks.zephyr)] {
        let _ = writeln!(
            o,
            "{name:<11} {} requests, {} ok/s, {} answered 429 ({}), {} injected errors",
            count(a.requests),
            opt_rate(a.ok_per_sec),
            a.rate_limited,
            a.rate_limited_share
                .map_or(NONE.into(), |s| format!("{:.2} %", s * 100.0)),
            a.injected_errors
        );
    }
    if with_references {
        let _ = writeln!(
            o,
            "vs refs     ztoq records/s = {} of bare SQL jobs/s, {} of apalis no-op jobs/s",
            ratio(r.vs_references.bare_sql),
            ratio(r.vs_references.apalis)
        );
    }
}

/// The bare-SQL queue, the apalis push and the apalis drain.
fn references_section(o: &mut String, refs: &References) {
    let _ = writeln!(o);
    let _ = writeln!(o, "== references ({})", refs.when);
    let b = &refs.bare_sql;
    queue_line(
        o,
        "bare SQL SKIP LOCKED claim+ack",
        b.jobs,
        b.jobs_per_sec,
        format_args!(
            "batch {}, {} connections (load {})",
            b.batch,
            b.connections,
            secs(b.load_secs)
        ),
    );
    queue_line(
        o,
        "apalis push",
        refs.apalis_push.jobs,
        refs.apalis_push.jobs_per_sec,
        "(push_bulk, ztoq schema)",
    );
    drain_line(
        o,
        &format!(
            "apalis no-op drain ({} workers × {})",
            refs.apalis.knobs.workers, refs.apalis.knobs.concurrency
        ),
        &refs.apalis,
    );
}

/// apalis's weak spots: pushes with and without the trigger, the drains, what is handled.
fn checks_section(o: &mut String, c: &QueueChecks) {
    let _ = writeln!(o);
    let _ = writeln!(o, "== apalis weak spots at {} rows", count(c.rows));
    for (label, push, tail) in [
        (
            "push, stock schema",
            &c.push_with_notify_trigger,
            "per-row NOTIFY trigger",
        ),
        (
            "push, ztoq schema",
            &c.push_without_trigger,
            "trigger dropped",
        ),
    ] {
        queue_line(o, label, push.jobs, push.jobs_per_sec, tail);
    }
    for d in &c.drains {
        drain_line(o, &format!("{} schema, {}", d.schema, d.label), &d.drain);
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
