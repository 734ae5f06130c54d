//! `ztoq-mock zephyr|qtest`: serves a mock API for tests, demos and benchmarks.

use clap::Parser;

#[derive(Parser)]
#[command(version, about = "Mock Zephyr Scale and qTest Manager APIs")]
struct Cli {
    #[command(subcommand)]
    command: ztoq_cli::mock::MockCommand,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ztoq_cli::logging::init("info");
    ztoq_cli::mock::run(Cli::parse().command).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
