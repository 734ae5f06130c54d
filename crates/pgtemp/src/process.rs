//! Running PostgreSQL's own tools: as the `postgres` OS user through `runuser` when we are root
//! (initdb and postgres refuse to run as root), directly otherwise; plus the watchdog process
//! that cleans up if the owning process dies without running `Drop`.
//!
//! Invariant: every command gets stdin from `/dev/null` and the server's output always goes to
//! the log file (`pg_ctl -l`), so no child holds our pipes open and `output()` never hangs.

use std::ffi::OsString;
use std::io::{BufRead, Seek};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Output, Stdio};

use crate::PgTempError;

/// How to invoke a server tool: through `runuser -u postgres --` or directly.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Invoker {
    pub(crate) as_root: bool,
}

impl Invoker {
    /// The full argument vector for `program args…`, prefixed with `runuser` when root.
    fn argv(self, program: &Path, args: &[OsString]) -> Vec<OsString> {
        let mut argv: Vec<OsString> = Vec::with_capacity(args.len() + 4);
        if self.as_root {
            argv.extend(["runuser", "-u", "postgres", "--"].map(OsString::from));
        }
        argv.push(program.into());
        argv.extend(args.iter().cloned());
        argv
    }

    /// An async command (for the `start`/`stop`/`restart` paths).
    pub(crate) fn tokio_command(
        self,
        program: &Path,
        args: &[OsString],
        cwd: &Path,
    ) -> (tokio::process::Command, String) {
        let argv = self.argv(program, args);
        let mut cmd = tokio::process::Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        (cmd, display(&argv))
    }

    /// A blocking command (for `Drop`, which cannot await).
    pub(crate) fn std_command(
        self,
        program: &Path,
        args: &[OsString],
        cwd: &Path,
    ) -> (std::process::Command, String) {
        let argv = self.argv(program, args);
        let mut cmd = std::process::Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        (cmd, display(&argv))
    }
}

/// The command line as a human would type it (for error messages and logs).
pub(crate) fn display(argv: &[OsString]) -> String {
    argv.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Converts a finished command into `Ok(output)` or a [`PgTempError::Command`].
pub(crate) fn check(
    line: &str,
    result: std::io::Result<Output>,
    extra: impl FnOnce() -> String,
) -> Result<Output, PgTempError> {
    let output = result.map_err(|e| PgTempError::Command {
        command: line.to_owned(),
        detail: format!("could not run it: {e}"),
    })?;
    if output.status.success() {
        return Ok(output);
    }
    let mut detail = format!("{}", output.status);
    for (name, bytes) in [("stderr", &output.stderr), ("stdout", &output.stdout)] {
        let text = String::from_utf8_lossy(bytes);
        if !text.trim().is_empty() {
            detail.push_str(&format!("\n--- {name} ---\n{}", text.trim_end()));
        }
    }
    let extra = extra();
    if !extra.is_empty() {
        detail.push('\n');
        detail.push_str(&extra);
    }
    Err(PgTempError::Command {
        command: line.to_owned(),
        detail,
    })
}

/// The last `lines` lines of the server log written after byte `from`, headed for an error.
pub(crate) fn log_tail(log: &Path, from: u64, lines: usize) -> String {
    let Ok(mut file) = std::fs::File::open(log) else {
        return format!("--- server log {} is missing ---", log.display());
    };
    if file.seek(std::io::SeekFrom::Start(from)).is_err() {
        return String::new();
    }
    let all: Vec<String> = std::io::BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .collect();
    let tail = &all[all.len().saturating_sub(lines)..];
    format!(
        "--- last {} lines of {} ---\n{}",
        tail.len(),
        log.display(),
        tail.join("\n")
    )
}

/// The current length of the log (where the next start's output will begin).
pub(crate) fn log_len(log: &Path) -> u64 {
    std::fs::metadata(log).map_or(0, |m| m.len())
}

/// Shell script run by the watchdog. It blocks reading stdin, a pipe whose only writer is the
/// owning process: EOF means the owner dropped the handle or died (even by SIGKILL). Then, if
/// a server is still running, it stops it (immediate mode) and removes the directory.
const WATCHDOG_SCRIPT: &str = r#"
root=$1; pg_ctl=$2; as_root=$3
read -r _ignored || true
if [ -f "$root/data/postmaster.pid" ]; then
  if [ "$as_root" = 1 ]; then
    runuser -u postgres -- "$pg_ctl" -D "$root/data" -m immediate -w -t 30 stop
  else
    "$pg_ctl" -D "$root/data" -m immediate -w -t 30 stop
  fi
fi
rm -rf -- "$root"
"#;

/// Starts the watchdog for `root` in its own process group (so a Ctrl-C aimed at the test
/// run does not kill it before it has cleaned up). Keep the returned child's stdin open for as
/// long as the cluster should live.
pub(crate) fn spawn_watchdog(
    root: &Path,
    pg_ctl: &Path,
    invoker: Invoker,
) -> Result<std::process::Child, PgTempError> {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(WATCHDOG_SCRIPT)
        .arg("ztoq-pgtemp-watchdog")
        .arg(root)
        .arg(pg_ctl)
        .arg(if invoker.as_root { "1" } else { "0" })
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| PgTempError::io("spawning the cleanup watchdog (sh)", e))
}
