//! Finding things on the host: the newest PostgreSQL server binaries, whether we run as root,
//! a free loopback port, and a fresh temp directory the `postgres` user can use.
//!
//! Invariant: the temp directory is created fresh (never reused) under `/tmp`, so a cluster
//! never starts on someone else's files, and the `postgres` user can always traverse to it.

use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::PgTempError;

/// Where Debian/Ubuntu install one `<version>/bin` per server major version.
const PG_LIB_ROOT: &str = "/usr/lib/postgresql";

/// Environment variable naming a directory that holds `initdb` and `pg_ctl`.
pub const BIN_ENV: &str = "ZTOQ_PG_BIN";

/// Parent of the throwaway directories (not `$TMPDIR`: that may sit inside `/root`, which the
/// `postgres` user cannot traverse).
const TEMP_PARENT: &str = "/tmp";

pub(crate) const NOT_INSTALLED: &str = "PostgreSQL server binaries not found under \
    /usr/lib/postgresql; install them with `apt-get install postgresql` or set DATABASE_URL";

/// `$ZTOQ_PG_BIN` when set, else the newest `/usr/lib/postgresql/*/bin` holding `initdb`.
pub(crate) fn find_bin_dir() -> Result<PathBuf, PgTempError> {
    if let Some(dir) = std::env::var_os(BIN_ENV).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if has_server_binaries(&dir) {
            Ok(dir)
        } else {
            Err(PgTempError::NotInstalled(format!(
                "{BIN_ENV}={} holds no initdb/pg_ctl; {NOT_INSTALLED}",
                dir.display()
            )))
        };
    }
    newest_bin_dir(Path::new(PG_LIB_ROOT))
        .ok_or_else(|| PgTempError::NotInstalled(NOT_INSTALLED.to_owned()))
}

fn has_server_binaries(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("pg_ctl").is_file()
}

/// The `<root>/<version>/bin` with the highest version (compared numerically: 9.6 < 15 < 16).
fn newest_bin_dir(root: &Path) -> Option<PathBuf> {
    std::fs::read_dir(root)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let bin = entry.path().join("bin");
            let name = entry.file_name().to_string_lossy().into_owned();
            has_server_binaries(&bin).then(|| (version_key(&name), bin))
        })
        .max()
        .map(|(_, bin)| bin)
}

fn version_key(name: &str) -> Vec<u32> {
    name.split('.')
        .map(|part| part.parse().unwrap_or(0))
        .collect()
}

/// Whether this process runs as root (then server commands go through `runuser -u postgres`).
pub(crate) fn is_root() -> bool {
    // /proc/self is owned by the effective uid; no libc needed.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A port on 127.0.0.1 that was free a moment ago (the caller retries if it is taken by the
/// time the server binds it).
pub(crate) fn free_port() -> Result<u16, PgTempError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| PgTempError::io("binding 127.0.0.1:0 to find a free port", e))?;
    let port = listener
        .local_addr()
        .map_err(|e| PgTempError::io("reading the bound port", e))?
        .port();
    Ok(port)
}

/// Creates a fresh `/tmp/ztoq-pg-XXXXXXXX` (mode 0700).
pub(crate) fn make_temp_root() -> Result<PathBuf, PgTempError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut last_error = None;
    for _ in 0..16 {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let seed = u64::from(std::process::id()) << 32
            ^ u64::from(nanos)
            ^ COUNTER
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let path = Path::new(TEMP_PARENT)
            .join(format!("ztoq-pg-{:08x}", seed as u32 ^ (seed >> 32) as u32));
        match std::fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => return Err(PgTempError::io(format!("creating {}", path.display()), e)),
        }
    }
    Err(PgTempError::io(
        format!("creating a fresh directory under {TEMP_PARENT}"),
        last_error.unwrap_or_else(|| std::io::Error::other("no attempt made")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_numerically_newest_version() {
        let root = make_temp_root().unwrap();
        for version in ["9.6", "15", "16", "100-broken"] {
            let bin = root.join(version).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            if version != "100-broken" {
                std::fs::write(bin.join("initdb"), "").unwrap();
                std::fs::write(bin.join("pg_ctl"), "").unwrap();
            }
        }
        assert_eq!(newest_bin_dir(&root), Some(root.join("16").join("bin")));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn no_install_gives_none() {
        assert_eq!(newest_bin_dir(Path::new("/nonexistent/ztoq")), None);
    }

    #[test]
    fn temp_roots_are_distinct() {
        let a = make_temp_root().unwrap();
        let b = make_temp_root().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("/tmp"));
        std::fs::remove_dir(&a).unwrap();
        std::fs::remove_dir(&b).unwrap();
    }
}
