//! Logging set-up shared by the binaries: `RUST_LOG`-style filtering (default `info`), to
//! stderr, so stdout stays for results (a run id, a JSON report).

use tracing_subscriber::EnvFilter;

/// Initialises logging once.
pub fn init(default: &str) {
    let filter = EnvFilter::try_from_env("ZTOQ_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
