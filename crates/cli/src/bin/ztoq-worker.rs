//! `ztoq-worker`: processes migration jobs until SIGTERM; start as many as you like.

use clap::Parser;

#[derive(Parser)]
#[command(
    version,
    about = "Processes ztoq migration jobs from Postgres until SIGTERM",
    // A flag given twice takes its last value (wrappers can append overrides).
    args_override_self = true
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
