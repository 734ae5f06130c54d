//! `ztoq-worker`: processes migration jobs until SIGTERM; start as many as you like.

use clap::Parser;

#[derive(Parser)]
#[command(
    version,
    about = "Processes ztoq migration jobs from Postgres until SIGTERM"
)]
struct Cli {
    #[command(flatten)]
    args: ztoq_cli::commands::WorkerArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ztoq_cli::logging::init("info");
    ztoq_cli::commands::worker(Cli::parse().args).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
