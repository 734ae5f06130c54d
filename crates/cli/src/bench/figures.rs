//! Turning counters read around a phase into report figures: CPU seconds by who
//! ([`CpuMark`]), what the mocks answered, percentiles of the workers' duration histograms.

use std::time::Instant;
use ztoq_bench::cpu;
use ztoq_bench::measure::Percentiles;
use ztoq_bench::prom::{Histogram, Sample};
use ztoq_bench::report::{ApiFigures, PhaseCpu};
use ztoq_mock::faults::FaultStats;

/// `n / secs`, or `None` when no time passed.
pub(super) fn rate(n: u64, secs: f64) -> Option<f64> {
    (secs > 0.0).then(|| n as f64 / secs)
}

/// What the mocks answered between two snapshots, over `secs`.
pub(super) fn api_figures(before: &FaultStats, after: &FaultStats, secs: f64) -> ApiFigures {
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
pub(super) fn histogram_ms(samples: &[Sample], keep: impl Fn(&Sample) -> bool) -> Percentiles {
    let h = Histogram::collect(samples, "ztoq_record_duration_seconds", |s| {
        s.label("outcome") == Some("done") && keep(s)
    });
    Percentiles {
        p50: h.quantile(0.5).map(|s| s * 1000.0),
        p99: h.quantile(0.99).map(|s| s * 1000.0),
    }
}

/// CPU counters at one moment: this process (the mocks), the children it reaped, Postgres.
pub(super) struct CpuMark {
    at: Instant,
    own: cpu::Stat,
    postgres: Option<f64>,
}

impl CpuMark {
    pub(super) fn now(postmaster: Option<u32>) -> CpuMark {
        CpuMark {
            at: Instant::now(),
            own: cpu::own(),
            postgres: postmaster.and_then(cpu::tree_cpu_secs),
        }
    }

    /// CPU seconds of the child processes waited for since `self`.
    pub(super) fn reaped_since(&self) -> f64 {
        cpu::own().children_cpu_secs - self.own.children_cpu_secs
    }

    /// CPU used since `self`, with `ztoq_secs` for the phase's processes.
    pub(super) fn since(&self, postmaster: Option<u32>, ztoq_secs: f64) -> PhaseCpu {
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
