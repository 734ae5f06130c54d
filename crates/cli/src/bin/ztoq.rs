//! `ztoq`: look at and steer runs (status, failures, retry, verify, rollback) and the
//! one-command demo.

use clap::{Parser, Subcommand};
use ztoq_cli::commands;

#[derive(Parser)]
#[command(
    version,
    about = "Migrates Zephyr Scale projects to qTest Manager: run status, failures, retry, verify, rollback, demo"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Counts of a run's records by kind and state.
    Status(commands::RunArgs),
    /// The failed and blocked records of a run, with their reasons.
    Failures(commands::FailuresArgs),
    /// Queues a run's failed records again and unblocks their dependents.
    Retry(commands::RunArgs),
    /// Reads qTest back and compares it with the source snapshot.
    Verify(commands::VerifyArgs),
    /// Removes from qTest what a run created, children first; safe to interrupt and repeat.
    Rollback(ztoq_cli::rollback::RollbackArgs),
    /// A whole migration on this machine: throwaway Postgres, mock APIs, workers, report.
    Demo(ztoq_cli::demo::DemoArgs),
    /// Issue 4's benchmark: enqueue, workers, references, targets (table and JSON).
    Bench(ztoq_cli::bench::BenchArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ztoq_cli::logging::init("warn");
    let ok = match Cli::parse().command {
        Command::Status(a) => commands::status(a).await.map(|_| true)?,
        Command::Failures(a) => commands::failures(a).await.map(|_| true)?,
        Command::Retry(a) => commands::retry(a).await.map(|_| true)?,
        Command::Verify(a) => commands::verify(a).await?,
        Command::Rollback(a) => ztoq_cli::rollback::rollback(a).await?,
        Command::Demo(a) => ztoq_cli::demo::run(a).await?,
        Command::Bench(a) => ztoq_cli::bench::run(a).await?,
    };
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
