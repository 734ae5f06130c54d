//! Running the mock servers: `ztoq-mock zephyr|qtest`, and in-process for `ztoq demo` and the
//! tests. Each mock is wrapped by the fault injector (latency and latency spikes, errors, rate
//! limit, resets, hangs, truncated bodies, lost responses), which is idle unless configured.

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
    /// Share of requests (0..1) delayed by --latency-spike-ms more.
    #[arg(long, default_value_t = 0.0)]
    pub latency_spike_rate: f64,
    /// Extra delay of a latency spike, in milliseconds.
    #[arg(long, default_value_t = 1_000)]
    pub latency_spike_ms: u64,
    /// Share of requests (0..1) whose connection is closed before they are handled (not applied).
    #[arg(long, default_value_t = 0.0)]
    pub reset_rate: f64,
    /// Share of requests (0..1) left hanging for --timeout-ms, then closed (not applied).
    #[arg(long, default_value_t = 0.0)]
    pub timeout_rate: f64,
    /// How long a hanging request hangs, in milliseconds.
    #[arg(long, default_value_t = 90_000)]
    pub timeout_ms: u64,
    /// Share of requests (0..1) handled, then answered with a body cut off partway.
    #[arg(long, default_value_t = 0.0)]
    pub truncate_rate: f64,
    /// Share of accepted POST/PUT requests (0..1) applied, then answered by closing the connection.
    #[arg(long, default_value_t = 0.0)]
    pub lost_response_rate: f64,
}

impl FaultArgs {
    fn config(&self) -> Result<FaultConfig> {
        let config = FaultConfig {
            latency_ms: self.latency_ms,
            latency_spike_rate: self.latency_spike_rate,
            latency_spike_ms: self.latency_spike_ms,
            fault_rate: self.fault_rate,
            rate_limit: self.rate_limit,
            retry_after_secs: self.retry_after_secs,
            reset_rate: self.reset_rate,
            timeout_rate: self.timeout_rate,
            timeout_ms: self.timeout_ms,
            truncate_rate: self.truncate_rate,
            lost_response_rate: self.lost_response_rate,
        };
        config.check().map_err(anyhow::Error::msg)?;
        Ok(config)
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
            let (mock, state) = start_zephyr(listen, config, faults.config()?).await?;
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
            let (mock, _) = start_qtest(listen, config, faults.config()?).await?;
            tracing::info!(url = %mock.url(), project_id, "qTest mock listening");
            mock
        }
    };
    crate::commands::stop_signal().await;
    drop(mock);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: MockCommand,
    }

    fn faults_of(args: &[&str]) -> FaultArgs {
        let cli = Cli::try_parse_from(["ztoq-mock"].iter().chain(args)).unwrap();
        match cli.command {
            MockCommand::Zephyr { faults, .. } | MockCommand::Qtest { faults, .. } => faults,
        }
    }

    #[test]
    fn fault_flags_reach_the_config() {
        let config = faults_of(&[
            "qtest",
            "--latency-ms",
            "5",
            "--latency-spike-rate",
            "0.1",
            "--latency-spike-ms",
            "700",
            "--fault-rate",
            "0.2",
            "--rate-limit",
            "50",
            "--retry-after-secs",
            "2",
            "--reset-rate",
            "0.03",
            "--timeout-rate",
            "0.04",
            "--timeout-ms",
            "3000",
            "--truncate-rate",
            "0.05",
            "--lost-response-rate",
            "0.06",
        ])
        .config()
        .unwrap();
        assert_eq!(
            config,
            FaultConfig {
                latency_ms: 5,
                latency_spike_rate: 0.1,
                latency_spike_ms: 700,
                fault_rate: 0.2,
                rate_limit: Some(50.0),
                retry_after_secs: 2,
                reset_rate: 0.03,
                timeout_rate: 0.04,
                timeout_ms: 3000,
                truncate_rate: 0.05,
                lost_response_rate: 0.06,
            }
        );
    }

    #[test]
    fn no_fault_flags_is_a_clean_mock() {
        let config = faults_of(&["zephyr"]).config().unwrap();
        assert_eq!(
            config,
            FaultConfig {
                retry_after_secs: 1,
                ..FaultConfig::default()
            }
        );
    }

    #[test]
    fn a_rate_out_of_range_is_refused() {
        for flag in [
            "--fault-rate",
            "--latency-spike-rate",
            "--reset-rate",
            "--timeout-rate",
            "--truncate-rate",
            "--lost-response-rate",
        ] {
            let e = faults_of(&["qtest", flag, "1.5"]).config().unwrap_err();
            let name = flag.trim_start_matches("--").replace('-', "_");
            assert!(e.to_string().contains(&name), "{flag}: {e}");
        }
    }
}
