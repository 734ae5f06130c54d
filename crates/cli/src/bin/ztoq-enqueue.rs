//! `ztoq-enqueue`: reads a Zephyr Scale project into Postgres as records and jobs; prints the
//! run id.

use clap::Parser;

#[derive(Parser)]
#[command(
    version,
    about = "Reads a Zephyr Scale project into Postgres as migration jobs; prints the run id"
)]
struct Cli {
    #[command(flatten)]
    args: ztoq_cli::commands::EnqueueArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ztoq_cli::logging::init("info");
    ztoq_cli::commands::enqueue(Cli::parse().args).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
