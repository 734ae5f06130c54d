//! A throwaway local PostgreSQL cluster for ztoq's demo, tests and benchmarks: [`TempPostgres`]
//! runs `initdb` into a fresh `/tmp/ztoq-pg-XXXXXXXX`, starts a postmaster on `127.0.0.1` and a
//! free port with settings that trade durability for speed, creates database `ztoq`, and tears
//! everything down again.
//!
//! Invariants:
//! - one directory per cluster, created fresh, removed on [`TempPostgres::stop`] or `Drop`;
//! - the server listens on 127.0.0.1 only (plus a unix socket inside its own directory), with
//!   `trust` authentication: never expose it, never keep data in it;
//! - cleanup survives the owner dying: a small watchdog process (`sh`, in its own process
//!   group) waits on a pipe from the owner; when the owner drops the handle *or is killed*
//!   (even by SIGKILL, when `Drop` cannot run) the pipe closes and the watchdog stops the server
//!   (`pg_ctl stop -m immediate`) and removes the directory. This is best effort: if the
//!   watchdog itself is killed too (e.g. the whole container or cgroup goes), a `/tmp/ztoq-pg-*`
//!   directory may stay behind, and the next boot's `/tmp` cleanup takes it.
//!
//! Running as root is supported (CI containers): server tools then run as the `postgres` OS
//! user through `runuser -u postgres --`, since `initdb` and `postgres` refuse root.
#![warn(missing_docs)]

mod error;
mod locate;
mod process;
pub mod testdb;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

pub use error::PgTempError;
pub use locate::BIN_ENV;
use process::{Invoker, check, log_len, log_tail};

/// Database created in every cluster and named by [`TempPostgres::url`].
pub const DATABASE: &str = "ztoq";

/// How many times to pick a new port when another process grabs ours before the server binds.
const PORT_ATTEMPTS: usize = 5;

/// Seconds `pg_ctl` may wait for start-up or shutdown.
const PG_CTL_TIMEOUT_SECS: &str = "60";

/// Log lines quoted in start/restart errors.
const LOG_TAIL_LINES: usize = 40;

/// Server settings for a throwaway benchmark database: fast, not durable.
const SETTINGS: &[(&str, &str)] = &[
    ("listen_addresses", "'127.0.0.1'"),
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
    ("shared_buffers", "256MB"),
    ("max_connections", "200"),
];

/// How a cluster is sized: [`Size::Tests`] for many small databases, [`Size::Run`] for a whole
/// project's run (demo, benchmark) on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// The settings above as they are (`shared_buffers=256MB`, default WAL size).
    Tests,
    /// Also a buffer cache of a quarter of this machine's memory (256 MB … 4 GB) and WAL room
    /// for a 500k-record run between checkpoints (`max_wal_size=8GB`,
    /// `checkpoint_timeout=30min`). Measured (BENCHMARKS.md): a 500k run's database is ~3 GB;
    /// with 256 MB of buffers its records/s fell 17 % below a 50k run's, with 4 GB it matched.
    Run,
}

/// `shared_buffers` of a [`Size::Run`] cluster, in MB: a quarter of `MemTotal` (the usual
/// starting point for a dedicated server), clamped to 256 MB … 4 GB; 256 MB when unknown.
fn run_shared_buffers_mb() -> u64 {
    let total_kb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .unwrap_or(0);
    (total_kb / 4 / 1024).clamp(256, 4096)
}

/// A running throwaway PostgreSQL cluster; stopped and deleted on [`stop`](Self::stop) or
/// `Drop` (see the crate docs for what happens when the owning process is killed).
#[derive(Debug)]
pub struct TempPostgres {
    /// `/tmp/ztoq-pg-XXXXXXXX`: holds `data/`, `log` and the unix socket.
    root: PathBuf,
    data: PathBuf,
    log: PathBuf,
    bin: PathBuf,
    port: u16,
    invoker: Invoker,
    /// Cleans up if we die; its stdin is the pipe whose EOF triggers it.
    watchdog: Option<std::process::Child>,
    /// Set once `stop` has shut the server down and removed the directory.
    stopped: bool,
}

impl TempPostgres {
    /// Finds the newest `/usr/lib/postgresql/*/bin` (or `$ZTOQ_PG_BIN`), runs `initdb` (as the
    /// `postgres` user via `runuser` when root), starts the server on 127.0.0.1 and a free port
    /// (retrying on a port collision) with `fsync=off`, `synchronous_commit=off`,
    /// `full_page_writes=off`, `shared_buffers=256MB`, `max_connections=200` and the unix
    /// socket in the temp dir, creates database `ztoq`, and returns once it accepts
    /// connections. Sized for tests ([`Size::Tests`]); see [`start_sized`](Self::start_sized).
    ///
    /// On failure everything created so far is removed; start errors quote the server log.
    pub async fn start() -> Result<TempPostgres, PgTempError> {
        Self::start_sized(Size::Tests).await
    }

    /// [`start`](Self::start), with the cluster sized by `size`.
    pub async fn start_sized(size: Size) -> Result<TempPostgres, PgTempError> {
        let bin = locate::find_bin_dir()?;
        let invoker = Invoker {
            as_root: locate::is_root(),
        };
        let root = locate::make_temp_root()?;
        // From here on, an early return drops `pg`, which removes `root`.
        let mut pg = TempPostgres {
            data: root.join("data"),
            log: root.join("log"),
            root,
            bin,
            port: 0,
            invoker,
            watchdog: None,
            stopped: false,
        };
        if invoker.as_root {
            pg.chown_root().await?;
        }
        pg.watchdog = Some(process::spawn_watchdog(
            &pg.root,
            &pg.bin.join("pg_ctl"),
            invoker,
        )?);
        pg.initdb().await?;
        pg.write_settings(size)?;
        pg.start_on_free_port().await?;
        pg.create_database(DATABASE).await?;
        tracing::info!(port = pg.port, dir = %pg.root.display(), "throwaway postgres ready");
        Ok(pg)
    }

    /// `postgres://postgres@127.0.0.1:PORT/ztoq`.
    pub fn url(&self) -> String {
        self.url_for(DATABASE)
    }

    /// The URL of another database in this cluster (e.g. `postgres`, to create more).
    pub fn url_for(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's data directory (`PGDATA`); its parent is the temp dir that is removed.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The server log file (inside the temp dir, so it goes with it).
    pub fn log_file(&self) -> &Path {
        &self.log
    }

    /// The directory of the server binaries in use (`pgbench`, `psql` are there too).
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// Stops the server (`pg_ctl stop -m fast`) and removes the temp dir, reporting failures
    /// (which `Drop` can only log).
    pub async fn stop(mut self) -> Result<(), PgTempError> {
        let args = self.pg_ctl_args(&["-m", "fast", "stop"], false);
        let (mut cmd, line) =
            self.invoker
                .tokio_command(&self.bin.join("pg_ctl"), &args, &self.root);
        check(&line, cmd.output().await, String::new)?;
        std::fs::remove_dir_all(&self.root)
            .map_err(|e| PgTempError::io(format!("removing {}", self.root.display()), e))?;
        self.stopped = true;
        tracing::info!(port = self.port, "throwaway postgres stopped and removed");
        Ok(())
    }

    /// Restarts the server in place (`pg_ctl restart -m fast`): same port, same data. For
    /// crash and reconnect tests.
    pub async fn restart(&self) -> Result<(), PgTempError> {
        let from = log_len(&self.log);
        let args = self.pg_ctl_args(&["-m", "fast", "restart"], true);
        let (mut cmd, line) =
            self.invoker
                .tokio_command(&self.bin.join("pg_ctl"), &args, &self.root);
        check(&line, cmd.output().await, || {
            log_tail(&self.log, from, LOG_TAIL_LINES)
        })?;
        tracing::info!(port = self.port, "throwaway postgres restarted");
        Ok(())
    }

    /// Hands the temp dir to the `postgres` user (we are root and it runs the server).
    async fn chown_root(&self) -> Result<(), PgTempError> {
        let mut cmd = tokio::process::Command::new("chown");
        cmd.arg("postgres:postgres").arg(&self.root);
        let line = format!("chown postgres:postgres {}", self.root.display());
        check(&line, cmd.output().await, || {
            "is there a `postgres` OS user? (Debian's postgresql package creates it)".to_owned()
        })?;
        Ok(())
    }

    /// `initdb` with trust auth, UTF-8, no fsync; C.UTF-8 locale where available, else C.
    async fn initdb(&self) -> Result<(), PgTempError> {
        let mut last = None;
        for locale in ["--locale=C.UTF-8", "--no-locale"] {
            let args: Vec<OsString> = vec![
                "-D".into(),
                self.data.clone().into(),
                "-U".into(),
                "postgres".into(),
                "--auth=trust".into(),
                "-E".into(),
                "UTF8".into(),
                locale.into(),
                "-N".into(),
            ];
            let (mut cmd, line) =
                self.invoker
                    .tokio_command(&self.bin.join("initdb"), &args, &self.root);
            match check(&line, cmd.output().await, String::new) {
                Ok(_) => return Ok(()),
                Err(e) => {
                    tracing::debug!(error = %e, "initdb failed; trying the next locale");
                    // initdb removes what it created on failure; make sure before retrying.
                    let _ = std::fs::remove_dir_all(&self.data);
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| PgTempError::NotInstalled(locate::NOT_INSTALLED.into())))
    }

    /// Appends our settings to `postgresql.conf` (later lines win over initdb's defaults).
    fn write_settings(&self, size: Size) -> Result<(), PgTempError> {
        let conf = self.data.join("postgresql.conf");
        let socket_dir = self.root.to_string_lossy().replace('\'', "''");
        let mut text = String::from("\n# ztoq-pgtemp: throwaway cluster, speed over durability\n");
        for (name, value) in SETTINGS {
            text.push_str(&format!("{name} = {value}\n"));
        }
        if size == Size::Run {
            // Later lines win in postgresql.conf.
            let buffers = run_shared_buffers_mb();
            text.push_str(&format!(
                "shared_buffers = {buffers}MB\nmax_wal_size = 8GB\ncheckpoint_timeout = 30min\n"
            ));
        }
        text.push_str(&format!("unix_socket_directories = '{socket_dir}'\n"));
        std::fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| PgTempError::io(format!("appending settings to {}", conf.display()), e))
    }

    /// `pg_ctl start` on a free port, picking another one if the bind loses a race.
    async fn start_on_free_port(&mut self) -> Result<(), PgTempError> {
        let mut attempt = 1;
        loop {
            self.port = locate::free_port()?;
            let from = log_len(&self.log);
            let args = self.pg_ctl_args(&["start"], true);
            let (mut cmd, line) =
                self.invoker
                    .tokio_command(&self.bin.join("pg_ctl"), &args, &self.root);
            let tail = || log_tail(&self.log, from, LOG_TAIL_LINES);
            match check(&line, cmd.output().await, tail) {
                Ok(_) => return Ok(()),
                Err(e) if attempt < PORT_ATTEMPTS && is_port_collision(&tail()) => {
                    tracing::warn!(port = self.port, error = %e, "port taken; retrying");
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `createdb` over TCP: also proves the server accepts connections.
    async fn create_database(&self, name: &str) -> Result<(), PgTempError> {
        let mut cmd = tokio::process::Command::new(self.bin.join("createdb"));
        cmd.args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .arg(name)
            .current_dir(&self.root)
            .stdin(std::process::Stdio::null());
        let line = format!("createdb -h 127.0.0.1 -U postgres -p {} {name}", self.port);
        check(&line, cmd.output().await, || {
            log_tail(&self.log, 0, LOG_TAIL_LINES)
        })?;
        Ok(())
    }

    /// `pg_ctl -D data [-l log -o "-p PORT"] -w -t 60 <action…>`.
    fn pg_ctl_args(&self, action: &[&str], with_start_options: bool) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["-D".into(), self.data.clone().into()];
        if with_start_options {
            args.extend([
                "-l".into(),
                self.log.clone().into(),
                "-o".into(),
                format!("-p {}", self.port).into(),
            ]);
        }
        args.extend(["-w".into(), "-t".into(), PG_CTL_TIMEOUT_SECS.into()]);
        args.extend(action.iter().map(OsString::from));
        args
    }
}

/// Whether a failed start's log says the port was taken (then another port may work).
fn is_port_collision(log: &str) -> bool {
    log.contains("Address already in use") || log.contains("could not create any TCP/IP sockets")
}

impl Drop for TempPostgres {
    /// Best effort, blocking: `pg_ctl stop -m fast`, remove the dir, then release the watchdog
    /// (which finishes the job with `-m immediate` if the stop failed).
    fn drop(&mut self) {
        if !self.stopped {
            let mut server_stopped = true;
            if self.data.join("postmaster.pid").exists() {
                let args = self.pg_ctl_args(&["-m", "fast", "stop"], false);
                let (mut cmd, line) =
                    self.invoker
                        .std_command(&self.bin.join("pg_ctl"), &args, &self.root);
                if let Err(e) = check(&line, cmd.output(), String::new) {
                    tracing::warn!(error = %e, "stopping throwaway postgres on drop");
                    server_stopped = false;
                }
            }
            if server_stopped
                && let Err(e) = std::fs::remove_dir_all(&self.root)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(dir = %self.root.display(), error = %e, "removing temp dir");
            }
        }
        if let Some(mut watchdog) = self.watchdog.take() {
            drop(watchdog.stdin.take());
            let _ = watchdog.wait();
        }
    }
}
