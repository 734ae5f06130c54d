//! Issue 4's targets, evaluated against the runs of a report: each one's threshold, the
//! measured value, pass or miss, and by how much.

use super::figures::{RunReport, Settings, div};
use super::format::run_label;
use serde::Serialize;

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

/// Records/s of `than` ÷ records/s of `base` (worker phase).
fn speedup(base: &RunReport, than: &RunReport) -> Option<f64> {
    div(than.run.records_per_sec, base.run.records_per_sec)
}

/// Evaluates issue 4's targets on the runs. Targets stated for 500k records are expressed as
/// rates (500k in 30 s = 16,667 records/s; 500k in 5 min ≈ 1,700 records/s) so that they
/// apply to a run of any size; the comparisons between runs are made only when the runs
/// needed were part of the invocation.
pub fn evaluate(settings: &Settings, runs: &[RunReport]) -> Vec<Target> {
    let mut out = Vec::new();
    // The throughput targets are stated for mocks with no added latency, no limit and no
    // faults; with any of those the run measures something else (the scaling or the limit).
    let plain =
        settings.latency_ms == 0 && settings.rate_limit.is_none() && settings.fault_rate == 0.0;
    for r in runs {
        let on = run_label(r);
        if plain {
            out.push(Target::new(
                "enqueue throughput",
                on.clone(),
                "500k records enqueued in ≤ 30 s (≥ 16,667 records/s)",
                true,
                ENQUEUE_RECORDS_PER_SEC,
                r.enqueue.records_per_sec,
                "records/s",
            ));
        }
        out.push(Target::new(
            "enqueue peak RSS",
            on.clone(),
            "≤ 200 MB",
            false,
            ENQUEUE_RSS_MB,
            Some(r.enqueue.peak_rss_mb),
            "MB",
        ));
        if plain {
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
        }
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
            let measured = speedup(small, large).map(|x| (x - 1.0).abs() * 100.0);
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
                let measured = speedup(one, many);
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
}
