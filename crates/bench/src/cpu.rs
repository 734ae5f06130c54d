//! CPU time of processes, from `/proc/<pid>/stat` (Linux; `USER_HZ` = 100 ticks/s, the
//! value the kernel always reports to user space). CPU seconds say where a run's time goes
//! even on a machine shared with other work, where wall times stretch.
//!
//! - the benchmark's own process (the in-process mocks, progress, verification), and the
//!   children it has reaped (`cutime`: the enqueue process and workers, exactly, once waited);
//! - a Postgres server running on this machine: the postmaster's own time, what its exited
//!   backends used (reaped: `cutime`), and its live backends.

use std::collections::HashMap;

/// Clock ticks per second of `/proc/*/stat` times.
const USER_HZ: f64 = 100.0;

/// Fields of one `/proc/<pid>/stat` line.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stat {
    /// Parent process id.
    pub ppid: u32,
    /// User + system CPU of the process, s.
    pub cpu_secs: f64,
    /// User + system CPU of its children it has waited for, s.
    pub children_cpu_secs: f64,
}

/// Parses a `/proc/<pid>/stat` line (the command name may hold spaces and parentheses).
pub fn parse_stat(line: &str) -> Option<Stat> {
    let rest = &line[line.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    Some(Stat {
        ppid: f.get(1)?.parse().ok()?,
        cpu_secs: (n(11)? + n(12)?) / USER_HZ,
        children_cpu_secs: (n(13)? + n(14)?) / USER_HZ,
    })
}

/// A process's [`Stat`]; `None` once it is gone.
pub fn stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// This process's [`Stat`].
pub fn own() -> Stat {
    stat(std::process::id()).unwrap_or_default()
}

/// `/proc/<pid>/comm`.
pub fn comm(pid: u32) -> Option<String> {
    Some(
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .ok()?
            .trim()
            .to_string(),
    )
}

/// CPU seconds used so far by `root` and everything under it: its own time, its reaped
/// children's, and each live descendant's own time and reaped children's. A process that
/// exited but was not yet waited for is missed (briefly).
pub fn tree_cpu_secs(root: u32) -> Option<f64> {
    let top = stat(root)?;
    let mut children: HashMap<u32, Vec<(u32, Stat)>> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(s) = stat(pid) {
                children.entry(s.ppid).or_default().push((pid, s));
            }
        }
    }
    let mut total = top.cpu_secs + top.children_cpu_secs;
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        for (pid, s) in children.get(&p).map(Vec::as_slice).unwrap_or_default() {
            total += s.cpu_secs + s.children_cpu_secs;
            stack.push(*pid);
        }
    }
    Some(total)
}

/// The postmaster of a local Postgres server, found from one of its backends' pid (`SELECT
/// pg_backend_pid()`): the backend's parent, if it runs on this machine as `postgres`.
pub fn postmaster_of(backend_pid: u32) -> Option<u32> {
    let ppid = stat(backend_pid)?.ppid;
    let name = comm(ppid)?;
    (name == "postgres" || name == "postmaster").then_some(ppid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_lines() {
        let line = "1234 (ztoq worker) S 77 1234 1234 0 -1 4194560 500 0 0 0 250 50 7 3 20 0 9 0 100 1000 200 18446744073709551615";
        let s = parse_stat(line).unwrap();
        assert_eq!(s.ppid, 77);
        assert!((s.cpu_secs - 3.0).abs() < 1e-9);
        assert!((s.children_cpu_secs - 0.1).abs() < 1e-9);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn reads_this_process() {
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        let s = own();
        assert!(s.cpu_secs >= 0.0);
        assert!(tree_cpu_secs(std::process::id()).unwrap() >= s.cpu_secs);
        assert_eq!(postmaster_of(std::process::id()), None);
    }
}
