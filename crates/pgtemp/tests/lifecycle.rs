//! `TempPostgres` against the real server binaries: start, connect (TCP, `pg_isready`, `psql`),
//! settings applied, restart keeps data and port, stop/Drop remove everything, and a killed
//! owner is cleaned up by the watchdog. Helpers that must run in a separate process are
//! `#[ignore]`d tests of this same binary, re-executed with `ZTOQ_PGTEMP_HELPER=1`.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ztoq_pgtemp::{PgTempError, Size, TempPostgres};

const HELPER_ENV: &str = "ZTOQ_PGTEMP_HELPER";

/// Runs one SQL statement through `psql` and returns its unaligned output.
fn psql(pg: &TempPostgres, sql: &str) -> String {
    let out = Command::new(pg.bin_dir().join("psql"))
        .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(pg.url())
        .args(["-c", sql])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psql {sql:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn pg_isready(pg: &TempPostgres) -> bool {
    Command::new(pg.bin_dir().join("pg_isready"))
        .args(["-h", "127.0.0.1", "-d", "ztoq", "-p"])
        .arg(pg.port().to_string())
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success()
}

fn postmaster_pid(data: &Path) -> u32 {
    let text = std::fs::read_to_string(data.join("postmaster.pid")).unwrap();
    text.lines().next().unwrap().trim().parse().unwrap()
}

/// Gone, or a zombie waiting for a (container) init that never reaps.
fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

fn accepts(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Polls `cond` for up to 30 s.
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn start_connect_restart_stop() {
    let pg = TempPostgres::start().await.unwrap();
    let port = pg.port();
    let root: PathBuf = pg.data_dir().parent().unwrap().to_owned();
    assert_eq!(
        pg.url(),
        format!("postgres://postgres@127.0.0.1:{port}/ztoq")
    );
    assert!(root.starts_with("/tmp") && root.is_dir());
    assert!(pg.log_file().starts_with(&root) && pg.log_file().is_file());
    assert!(accepts(port));
    assert!(pg_isready(&pg));

    // The throwaway settings are in force, and we are in database `ztoq`.
    let settings = psql(
        &pg,
        "select current_database(), current_setting('fsync'), \
         current_setting('synchronous_commit'), current_setting('full_page_writes'), \
         current_setting('shared_buffers'), current_setting('max_connections'), \
         current_setting('listen_addresses'), current_setting('unix_socket_directories')",
    );
    assert_eq!(
        settings,
        format!("ztoq|off|off|off|256MB|200|127.0.0.1|{}", root.display())
    );
    // The unix socket lives in the temp dir.
    assert!(root.join(format!(".s.PGSQL.{port}")).exists());

    psql(&pg, "create table t (x int); insert into t values (42)");
    let pid = postmaster_pid(pg.data_dir());

    pg.restart().await.unwrap();
    let new_pid = postmaster_pid(pg.data_dir());
    assert_ne!(pid, new_pid, "restart must run a new postmaster");
    assert_eq!(pg.port(), port);
    assert!(pg_isready(&pg));
    assert_eq!(
        psql(&pg, "select x from t"),
        "42",
        "data survives a restart"
    );

    pg.stop().await.unwrap();
    assert!(!root.exists(), "{} should be removed", root.display());
    assert!(process_gone(new_pid));
    assert!(!accepts(port));
}

#[tokio::test]
async fn drop_stops_and_removes() {
    let pg = TempPostgres::start().await.unwrap();
    let root = pg.data_dir().parent().unwrap().to_owned();
    let pid = postmaster_pid(pg.data_dir());
    let port = pg.port();
    drop(pg);
    assert!(!root.exists());
    assert!(process_gone(pid));
    assert!(!accepts(port));
}

#[tokio::test]
async fn clusters_are_independent() {
    let (a, b) = tokio::join!(TempPostgres::start(), TempPostgres::start());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.port(), b.port());
    assert_ne!(a.data_dir(), b.data_dir());
    psql(&a, "create table only_in_a (x int)");
    assert_eq!(
        psql(
            &b,
            "select count(*) from pg_tables where tablename = 'only_in_a'"
        ),
        "0"
    );
    a.stop().await.unwrap();
    assert!(pg_isready(&b), "stopping one leaves the other running");
    b.stop().await.unwrap();
}

/// The owner is SIGKILLed (no `Drop`): the watchdog must still stop the server and clean up.
#[test]
fn killed_owner_is_cleaned_up() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "helper_start_and_hang",
            "--ignored",
            "--nocapture",
        ])
        .env(HELPER_ENV, "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let ready = stdout
        .lines()
        .map(Result::unwrap)
        .find(|line| line.starts_with("READY "))
        .expect("helper exited before the cluster was ready");
    let mut fields = ready.split_whitespace().skip(1);
    let root = PathBuf::from(fields.next().unwrap());
    let port: u16 = fields.next().unwrap().parse().unwrap();
    let pid = postmaster_pid(&root.join("data"));
    assert!(accepts(port));

    child.kill().unwrap(); // SIGKILL: no unwinding, no Drop
    child.wait().unwrap();

    eventually("the watchdog removes the dir", || !root.exists());
    eventually("the postmaster exits", || process_gone(pid));
    assert!(!accepts(port));
}

#[test]
#[ignore = "helper for killed_owner_is_cleaned_up"]
fn helper_start_and_hang() {
    if std::env::var_os(HELPER_ENV).is_none() {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pg = rt.block_on(TempPostgres::start()).unwrap();
    let root = pg.data_dir().parent().unwrap().display().to_string();
    println!("READY {root} {}", pg.port());
    std::thread::sleep(Duration::from_secs(120));
    drop(pg);
}

/// `$ZTOQ_PG_BIN` pointing nowhere gives `NotInstalled` with the install hint (run in a child
/// process: setting the variable here would race the other tests).
#[test]
fn bad_bin_dir_is_not_installed() {
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "helper_expect_not_installed", "--ignored"])
        .env(HELPER_ENV, "1")
        .env(ztoq_pgtemp::BIN_ENV, "/nonexistent/ztoq-pg-bin")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
#[ignore = "helper for bad_bin_dir_is_not_installed"]
fn helper_expect_not_installed() {
    if std::env::var_os(HELPER_ENV).is_none() {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    match rt.block_on(TempPostgres::start()) {
        Err(PgTempError::NotInstalled(msg)) => {
            assert!(msg.contains("apt-get install postgresql"), "{msg}");
            assert!(msg.contains("DATABASE_URL"), "{msg}");
            assert!(msg.contains("/nonexistent/ztoq-pg-bin"), "{msg}");
        }
        other => panic!("expected NotInstalled, got {other:?}"),
    }
}

/// A cluster sized for a run has a quarter of this machine's memory as buffer cache (256 MB …
/// 4 GB) and WAL room between checkpoints; a test cluster keeps 256 MB and the default WAL.
#[tokio::test]
async fn run_clusters_are_sized_to_the_machine() {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total_kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .unwrap();
    let expected_mb = (total_kb / 4 / 1024).clamp(256, 4096);
    let setting_mb = |pg: &TempPostgres, name: &str| -> u64 {
        psql(
            pg,
            &format!("select pg_size_bytes(current_setting('{name}')) / (1024 * 1024)"),
        )
        .parse()
        .unwrap()
    };
    let (run, tests) = tokio::join!(TempPostgres::start_sized(Size::Run), TempPostgres::start());
    let (run, tests) = (run.unwrap(), tests.unwrap());
    assert_eq!(setting_mb(&run, "shared_buffers"), expected_mb);
    assert_eq!(setting_mb(&run, "max_wal_size"), 8192);
    assert_eq!(psql(&run, "show checkpoint_timeout"), "30min");
    assert_eq!(setting_mb(&tests, "shared_buffers"), 256);
    assert_eq!(setting_mb(&tests, "max_wal_size"), 1024);
    run.stop().await.unwrap();
    tests.stop().await.unwrap();
}
