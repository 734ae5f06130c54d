//! Running the mock servers: `ztoq-mock zephyr|qtest`, and in-process for `ztoq demo` and the
//! tests. Each mock is wrapped by the fault injector (latency, errors, rate limit), which is
//! idle unless configured.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use ztoq_mock::faults::{FaultConfig, Faults};
use ztoq_mock::qtest::{QtestMockConfig, QtestState};
use ztoq_mock::zephyr::{ZephyrMockConfig, ZephyrState};

/// Fault-injection flags shared by both mocks.
#[derive(Debug, Clone, Args)]
pub struct FaultArgs {
    /// Added latency per request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of requests (0..1) answered with an injected 500/502/503/429.
    #[arg(long, default_value_t = 0.0)]
    pub fault_rate: f64,
    /// Requests per second served before answering 429 (none: unlimited).
    #[arg(long)]
    pub rate_limit: Option<f64>,
    /// Retry-After (seconds) sent with 429s.
    #[arg(long, default_value_t = 1)]
    pub retry_after_secs: u64,
}

impl FaultArgs {
    fn config(&self) -> FaultConfig {
        FaultConfig {
            latency_ms: self.latency_ms,
            fault_rate: self.fault_rate,
            rate_limit: self.rate_limit,
            retry_after_secs: self.retry_after_secs,
        }
    }
}

/// Which mock to serve.
#[derive(Debug, Subcommand)]
pub enum MockCommand {
    /// A Zephyr Scale Cloud v2 API serving a generated project.
    Zephyr {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
        /// Seed of the generated project.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// About how many records the project holds.
        #[arg(long, default_value_t = 2000)]
        scale: u64,
        /// Project key.
        #[arg(long, default_value = "ACME")]
        project_key: String,
        /// Bearer token clients must send.
        #[arg(long, env = "ZTOQ_MOCK_ZEPHYR_TOKEN", default_value = DEMO_ZEPHYR_TOKEN, hide_default_value = true)]
        token: String,
        /// Fault injection.
        #[command(flatten)]
        faults: FaultArgs,
    },
    /// A qTest Manager v3 API holding one empty project.
    Qtest {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8082")]
        listen: SocketAddr,
        /// Project id.
        #[arg(long, default_value_t = 1)]
        project_id: i64,
        /// Bearer token clients must send (and `/oauth/token` hands out).
        #[arg(long, env = "ZTOQ_MOCK_QTEST_TOKEN", default_value = DEMO_QTEST_TOKEN, hide_default_value = true)]
        token: String,
        /// Fault injection.
        #[command(flatten)]
        faults: FaultArgs,
    },
}

/// The demo's Zephyr token (JWT-shaped, as real ones are).
pub const DEMO_ZEPHYR_TOKEN: &str =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ6dG9xLWRlbW8ifQ.ZGVtby1zaWduYXR1cmU";
/// The demo's qTest token.
pub const DEMO_QTEST_TOKEN: &str = "ztoq-demo-qtest-token";

/// A mock running in this process.
pub struct RunningMock {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its fault injector (adjustable at run time).
    pub faults: Arc<Faults>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningMock {
    /// Base URL (`http://127.0.0.1:port`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningMock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    listen: SocketAddr,
    router: axum::Router,
    faults: FaultConfig,
) -> Result<RunningMock> {
    let faults = Faults::new(faults);
    let app = ztoq_mock::faults::wrap(router, faults.clone());
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "mock server stopped");
        }
    });
    Ok(RunningMock { addr, faults, task })
}

/// Starts a Zephyr mock.
pub async fn start_zephyr(
    listen: SocketAddr,
    config: ZephyrMockConfig,
    faults: FaultConfig,
) -> Result<(RunningMock, Arc<ZephyrState>)> {
    let state = ZephyrState::new(config);
    let mock = serve(listen, ztoq_mock::zephyr::router(state.clone()), faults).await?;
    Ok((mock, state))
}

/// Starts a qTest mock.
pub async fn start_qtest(
    listen: SocketAddr,
    config: QtestMockConfig,
    faults: FaultConfig,
) -> Result<(RunningMock, Arc<QtestState>)> {
    let state = QtestState::new(config);
    let mock = serve(listen, ztoq_mock::qtest::router(state.clone()), faults).await?;
    Ok((mock, state))
}

/// `ztoq-mock`: serves one mock until interrupted.
pub async fn run(command: MockCommand) -> Result<()> {
    let mock = match command {
        MockCommand::Zephyr {
            listen,
            seed,
            scale,
            project_key,
            token,
            faults,
        } => {
            let config = ZephyrMockConfig {
                seed,
                scale,
                project_key,
                token,
                base_url: None,
            };
            let (mock, state) = start_zephyr(listen, config, faults.config()).await?;
            tracing::info!(url = %format!("{}/v2", mock.url()), summary = ?state.summary(), "Zephyr mock listening");
            mock
        }
        MockCommand::Qtest {
            listen,
            project_id,
            token,
            faults,
        } => {
            let config = QtestMockConfig {
                project_id,
                token,
                ..QtestMockConfig::default()
            };
            let (mock, _) = start_qtest(listen, config, faults.config()).await?;
            tracing::info!(url = %mock.url(), project_id, "qTest mock listening");
            mock
        }
    };
    crate::commands::stop_signal().await;
    drop(mock);
    Ok(())
}
