//! [`WorkerConfig`]: everything a worker process needs, resolved once from flags and the
//! environment by the binary.

use crate::retry::RetryPolicy;
use std::net::SocketAddr;
use std::time::Duration;
use ztoq_http::{ClientOptions, Secret};
use ztoq_qtest::QtestAuth;

/// A worker process's settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Postgres URL.
    pub database_url: String,
    /// Zephyr API token (the URL comes from the run).
    pub zephyr_token: Secret,
    /// qTest credentials (the URL and project come from the run).
    pub qtest_auth: QtestAuth,
    /// Records processed at once by this process.
    pub concurrency: usize,
    /// Jobs claimed per fetch.
    pub batch_size: usize,
    /// How often an idle worker looks for new jobs.
    pub poll_interval: Duration,
    /// After how long without a heartbeat a worker's jobs are given to another worker.
    pub lease: Duration,
    /// How long a stopping worker waits for its in-flight records.
    pub shutdown_timeout: Duration,
    /// Retry policy for transient failures.
    pub retry: RetryPolicy,
    /// How long a record waits before trying again while credentials are refused.
    pub auth_pause: Duration,
    /// Where to serve Prometheus metrics (`None`: no endpoint).
    pub metrics_addr: Option<SocketAddr>,
    /// Worker name prefix (host and pid are added).
    pub name: String,
    /// HTTP client settings.
    pub http: ClientOptions,
    /// qTest requests per second for ALL workers of a qTest instance together (`None`:
    /// unpaced). Shared through Postgres (`ztoq_store::ratelimit`).
    pub qtest_rate_limit: Option<f64>,
}
