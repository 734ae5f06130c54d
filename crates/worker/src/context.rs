//! Shared state of a worker process: the pool, and per run the settings and API clients
//! (built on first use: a run says which Zephyr and qTest to talk to; the worker's own
//! configuration holds the credentials).

use crate::batch::Batches;
use crate::config::WorkerConfig;
use crate::failure::{Failure, source};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Mutex;
use ztoq_model::settings::RunSettings;
use ztoq_qtest::QtestClient;
use ztoq_store::{ratelimit, runs};
use ztoq_zephyr::ZephyrClient;

/// What a record's migration needs about its run.
pub struct RunCtx {
    /// Run id.
    pub run_id: i64,
    /// Resolved settings.
    pub settings: RunSettings,
    /// Source client.
    pub zephyr: ZephyrClient,
    /// Target client.
    pub qtest: QtestClient,
    /// Whether this process has seen the run paused (so a success clears the flag once).
    pub paused: AtomicBool,
}

/// The worker process's shared state.
pub struct Ctx {
    /// Postgres.
    pub pool: PgPool,
    /// Batched loads and settlements of the records in flight.
    pub batches: Batches,
    /// Configuration.
    pub config: WorkerConfig,
    runs: Mutex<HashMap<i64, Arc<RunCtx>>>,
    /// Why this process must stop on its own (refused credentials); `None` while it may go on.
    stop: tokio::sync::watch::Sender<Option<String>>,
}

impl Ctx {
    /// New shared state; starts the batching tasks (see [`Batches::start`]).
    pub fn new(pool: PgPool, config: WorkerConfig) -> Self {
        Ctx {
            batches: Batches::start(pool.clone(), config.database_url.clone()),
            pool,
            config,
            runs: Mutex::new(HashMap::new()),
            stop: tokio::sync::watch::Sender::new(None),
        }
    }

    /// Asks the process to stop (no new records; those in flight finish) for `reason`.
    /// Returns whether this was the first request, so the reason is logged once.
    pub fn stop_for(&self, reason: String) -> bool {
        self.stop.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(reason);
            true
        })
    }

    /// The reason given to [`Ctx::stop_for`], if it was called.
    pub fn stop_reason(&self) -> Option<String> {
        self.stop.borrow().clone()
    }

    /// Resolves once [`Ctx::stop_for`] has been called.
    pub async fn stopped(&self) {
        let mut rx = self.stop.subscribe();
        // The sender lives as long as `self`, so this only ends when a reason is set.
        let _ = rx.wait_for(Option::is_some).await;
    }

    /// The run's context, built (settings read, clients connected) on first use.
    pub async fn run(&self, run_id: i64) -> Result<Arc<RunCtx>, Failure> {
        let mut runs = self.runs.lock().await;
        if let Some(ctx) = runs.get(&run_id) {
            return Ok(ctx.clone());
        }
        let mut conn = self.pool.acquire().await?;
        let run = runs::get(&mut conn, run_id)
            .await?
            .ok_or_else(|| source(format!("run {run_id} does not exist")))?;
        drop(conn);
        let settings: RunSettings = serde_json::from_value(run.settings.clone())
            .map_err(|e| source(format!("run {run_id} has unreadable settings: {e}")))?;
        let zephyr = ZephyrClient::new(
            &run.zephyr_url,
            self.config.zephyr_token.clone(),
            &self.config.http,
        )?;
        let qtest = QtestClient::connect(
            &run.qtest_url,
            run.qtest_project_id,
            self.config.qtest_auth.clone(),
            &self.config.http,
        )
        .await?;
        let qtest = match self.config.qtest_rate_limit {
            Some(per_second) => qtest
                .with_pacer(ratelimit::qtest_pacer(&self.pool, &run.qtest_url, per_second).await?),
            None => qtest,
        };
        let ctx = Arc::new(RunCtx {
            run_id,
            settings,
            zephyr,
            qtest,
            paused: AtomicBool::new(run.paused_reason.is_some()),
        });
        runs.insert(run_id, ctx.clone());
        Ok(ctx)
    }

    /// Forgets a run's clients (after refused credentials, so a fixed token is picked up by a
    /// fresh login).
    pub async fn forget(&self, run_id: i64) {
        self.runs.lock().await.remove(&run_id);
    }
}

impl RunCtx {
    /// Marks the run paused in this process; returns whether it was not already.
    pub fn set_paused(&self) -> bool {
        !self.paused.swap(true, Ordering::SeqCst)
    }

    /// Clears the paused mark; returns whether it was set.
    pub fn clear_paused(&self) -> bool {
        self.paused.swap(false, Ordering::SeqCst)
    }
}
