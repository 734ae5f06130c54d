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

// One thread: a worker's own CPU per record is small (JSON, HTTP, SQL framing) and mostly
// waits on the APIs and Postgres; the multi-threaded runtime spent more on cross-thread
// wake-ups (futex, IPIs, context switches: perf) than on the work. Measured with `ztoq bench
// --records 20000 --workers 2`: worker CPU 0.90 -> 0.59 ms per record. Run more processes
// to use more cores.
#[tokio::main(flavor = "current_thread")]
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
