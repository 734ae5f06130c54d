//! Runs a worker process: the pool, the migrations check, the Prometheus endpoint, and the
//! apalis-postgres worker that feeds [`crate::handler::handle`], until a stop signal.

use crate::config::WorkerConfig;
use crate::context::Ctx;
use crate::handler;
use apalis::prelude::*;
use apalis_postgres::{Config, PostgresStorage};
use std::sync::Arc;
use tracing::{debug, error, info};
use ztoq_store::jobs::{QUEUE, RecordJob};

/// Why a worker could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// Postgres could not be reached or migrated.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// The metrics endpoint could not be started.
    #[error("metrics endpoint: {0}")]
    Metrics(String),
    /// The queue failed.
    #[error("queue: {0}")]
    Queue(String),
    /// An API refused the credentials; the worker stopped (records kept their attempts).
    #[error("{0}")]
    Credentials(String),
}

/// Runs until `shutdown` resolves (then finishes in-flight records, up to the configured
/// deadline) or the queue fails for good.
pub async fn run(
    config: WorkerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    if let Some(addr) = config.metrics_addr {
        crate::metrics::install(addr).map_err(RunError::Metrics)?;
    }
    // The batched settlements, reads of the rarer kinds and lookups before an adoption, the
    // queue's fetches and heartbeats, the statistics keeper and the queue-depth poller; the
    // work locks and batched reads have a connection of their own (`crate::batch`).
    let pool = ztoq_store::connect(&config.database_url, 8).await?;
    ztoq_store::migrate(&pool).await?;
    let ctx = Arc::new(Ctx::new(pool.clone(), config.clone()));
    crate::metrics::spawn_queue_depth_poller(pool.clone());
    spawn_statistics_keeper(pool.clone());

    let name = format!("{}-{}-{}", config.name, hostname(), std::process::id());
    let heartbeat = (config.lease / 3).max(std::time::Duration::from_secs(1));
    // apalis claims, dispatches and keeps heartbeats; it neither marks a job running nor
    // records its result: ztoq finishes each job in the transaction that commits the record's
    // outcome (`ztoq_store::jobs::finish`), one write per job instead of two.
    let apalis_config = Config::default()
        .queue(QUEUE)
        .batch_size(config.batch_size)
        .heartbeat_interval(heartbeat)
        .missed_heartbeats(3)
        .lock_tasks(false)
        .persist_results(false);
    info!(worker = %name, concurrency = config.concurrency, batch = config.batch_size, lease_secs = config.lease.as_secs(), "worker starting");

    let poll = config.poll_interval;
    let stop_ctx = ctx.clone();
    let signal_ctx = ctx.clone();
    let concurrency = config.concurrency;
    let monitor = Monitor::new()
        .register(move |restarts| {
            let storage = PostgresStorage::<RecordJob>::new(&pool)
                .with_config(apalis_config.clone())
                .poll_with_interval(poll);
            let ctx = ctx.clone();
            WorkerBuilder::new(format!("{name}-{restarts}"))
                .backend(storage)
                .concurrency(concurrency)
                .data(ctx)
                .build(task)
        })
        .should_restart(|_, e| {
            error!(error = %e, "queue error; restarting the worker");
            true
        })
        .shutdown_timeout(config.shutdown_timeout);
    monitor
        .run_with_signal(async move {
            tokio::select! {
                () = shutdown => {
                    info!("stop requested: taking no new records, finishing those in flight");
                }
                () = signal_ctx.stopped() => {
                    info!("stopping: taking no new records, finishing those in flight");
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| RunError::Queue(e.to_string()))?;
    info!("worker stopped");
    match stop_ctx.stop_reason() {
        Some(reason) => Err(RunError::Credentials(reason)),
        None => Ok(()),
    }
}

async fn task(
    job: RecordJob,
    ctx: Data<Arc<Ctx>>,
    attempt: Attempt,
    task_id: TaskId,
) -> Result<(), BoxDynError> {
    handler::handle((*ctx).clone(), job, task_id.to_string(), attempt.current()).await.map_err(|e| {
        error!(error = %e, run_id = job.run_id, record_id = job.record_id, "could not record the outcome; the job will run again");
        Box::new(e) as BoxDynError
    })
}

/// Keeps the planner statistics of the per-record tables current while an enqueue grows
/// them (see `ztoq_store::stats`): checked at start, then every 5 s.
fn spawn_statistics_keeper(pool: sqlx::PgPool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tick.tick().await;
            let Ok(mut conn) = pool.acquire().await else {
                continue;
            };
            match ztoq_store::stats::analyze_if_stale(&mut conn).await {
                Ok(tables) if !tables.is_empty() => {
                    debug!(?tables, "refreshed planner statistics");
                }
                Ok(_) => {}
                Err(e) => debug!(error = %e, "could not refresh planner statistics"),
            }
        }
    });
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}
