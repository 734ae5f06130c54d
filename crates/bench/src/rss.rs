//! Memory of other processes, read from `/proc/<pid>/status` (Linux): the resident set now
//! (`VmRSS`) and the kernel's high-water mark of it (`VmHWM`).
//!
//! A [`Sampler`] reads every watched process (and its CPU time, see [`crate::cpu`]) on a plain thread (not the async runtime, which
//! may be busy serving the mocks) at a fixed interval. Since `VmHWM` is the peak the kernel
//! itself tracked, the last sample taken before a process exits gives its peak RSS up to that
//! moment; only growth within the final interval can be missed. No `wait4`/`ru_maxrss` (which
//! would need `libc` and would fight tokio over reaping the child).

use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Resident memory of one process at one moment, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcMemory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the highest `VmRSS` the kernel has seen for the process.
    pub hwm_kib: u64,
}

/// Parses the `VmRSS` and `VmHWM` lines of a `/proc/<pid>/status` text.
pub fn parse_status(text: &str) -> Option<ProcMemory> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
    };
    let rss_kib = field("VmRSS:")?;
    let hwm_kib = field("VmHWM:").unwrap_or(rss_kib);
    Some(ProcMemory { rss_kib, hwm_kib })
}

/// Reads a process's memory; `None` once it has exited (or on a system without `/proc`).
pub fn read(pid: u32) -> Option<ProcMemory> {
    parse_status(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// Memory of one process over time.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// The process.
    pub pid: u32,
    /// `(seconds since the sampler started, VmRSS KiB)`.
    pub samples: Vec<(f64, u64)>,
    /// The last `VmHWM` read.
    pub hwm_kib: u64,
    /// User + system CPU seconds at the last sample.
    pub cpu_secs: f64,
}

/// What [`Series::summary`] reports, in MiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RssSummary {
    /// Peak resident set (`VmHWM`, or the largest sample if larger).
    pub peak_mb: f64,
    /// Largest `VmRSS` sample within the first minute.
    pub first_minute_max_mb: f64,
    /// Largest `VmRSS` sample within the last minute sampled.
    pub last_minute_max_mb: f64,
    /// The last `VmRSS` sample.
    pub end_mb: f64,
    /// Seconds between the first and last sample.
    pub sampled_secs: f64,
    /// Samples taken.
    pub samples: usize,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl Series {
    /// Peak, first-minute, last-minute and final figures. With less than two minutes of
    /// samples the two windows overlap.
    pub fn summary(&self) -> RssSummary {
        let max_in = |from: f64, to: f64| {
            self.samples
                .iter()
                .filter(|(t, _)| *t >= from && *t <= to)
                .map(|(_, k)| *k)
                .max()
                .unwrap_or(0)
        };
        let first = self.samples.first().map_or(0.0, |s| s.0);
        let last = self.samples.last().map_or(0.0, |s| s.0);
        let largest = self.samples.iter().map(|s| s.1).max().unwrap_or(0);
        RssSummary {
            peak_mb: mib(self.hwm_kib.max(largest)),
            first_minute_max_mb: mib(max_in(first, first + 60.0)),
            last_minute_max_mb: mib(max_in(last - 60.0, last)),
            end_mb: mib(self.samples.last().map_or(0, |s| s.1)),
            sampled_secs: last - first,
            samples: self.samples.len(),
        }
    }
}

/// Samples a set of processes on a thread until [`Sampler::stop`].
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Series>>,
}

impl Sampler {
    /// Starts sampling `pids` every `interval` (the first sample is taken at once).
    pub fn start(pids: Vec<u32>, interval: Duration) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut series: Vec<Series> = pids
                .iter()
                .map(|&pid| Series {
                    pid,
                    ..Series::default()
                })
                .collect();
            loop {
                let t = started.elapsed().as_secs_f64();
                for s in &mut series {
                    if let Some(m) = read(s.pid) {
                        s.samples.push((t, m.rss_kib));
                        s.hwm_kib = s.hwm_kib.max(m.hwm_kib);
                    }
                    if let Some(c) = crate::cpu::stat(s.pid) {
                        s.cpu_secs = c.cpu_secs;
                    }
                }
                if flag.load(Ordering::Relaxed) {
                    return series;
                }
                // Sleep in short steps so that `stop` answers quickly.
                let wake = Instant::now() + interval;
                while Instant::now() < wake && !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20).min(interval));
                }
            }
        });
        Sampler { stop, thread }
    }

    /// Takes one last sample and returns every process's series (in the order given).
    pub fn stop(self) -> Vec<Series> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_status() {
        let text =
            "Name:\tztoq-worker\nVmPeak:\t  900000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\n";
        assert_eq!(
            parse_status(text),
            Some(ProcMemory {
                rss_kib: 40960,
                hwm_kib: 51200
            })
        );
        assert_eq!(parse_status("Name:\tkthreadd\n"), None);
    }

    #[test]
    fn samples_this_process() {
        let sampler = Sampler::start(vec![std::process::id()], Duration::from_millis(10));
        std::thread::sleep(Duration::from_millis(60));
        let series = sampler.stop();
        assert_eq!(series.len(), 1);
        let s = series[0].summary();
        assert!(s.samples >= 2, "{s:?}");
        assert!(
            s.peak_mb > 0.0 && s.end_mb > 0.0 && s.peak_mb >= s.end_mb,
            "{s:?}"
        );
    }

    #[test]
    fn windows_of_a_long_series() {
        let s = Series {
            pid: 1,
            samples: (0..=180)
                .map(|t| (t as f64, 1024 * (t as u64 + 1)))
                .collect(),
            hwm_kib: 0,
            cpu_secs: 0.0,
        };
        let r = s.summary();
        assert_eq!(r.first_minute_max_mb, 61.0);
        assert_eq!(r.last_minute_max_mb, 181.0);
        assert_eq!(r.end_mb, 181.0);
        assert_eq!(r.peak_mb, 181.0);
        assert_eq!(r.sampled_secs, 180.0);
    }
}
