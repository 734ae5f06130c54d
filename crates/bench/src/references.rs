//! The two reference queues ztoq's throughput is compared with, on the same Postgres server
//! (each in a database of its own), with no-op jobs:
//!
//! - [`bare_sql`]: a table of N rows and K connections, each looping one statement that
//!   claims up to `batch` pending rows `FOR UPDATE SKIP LOCKED` and marks them done (claim and
//!   ack in one round trip): the floor cost of a Postgres queue on this machine.
//! - [`apalis_push`] + [`apalis_drain`]: apalis-postgres itself, N jobs pushed with its bulk
//!   sink and drained by W in-process apalis workers with a no-op handler and the knobs ztoq's
//!   worker uses (queue name, batch size, poll interval, heartbeat, concurrency).
//!
//! The same two functions measure apalis's weak spots at N rows (see `ztoq bench`): the stock
//! claim query vs ztoq's, fetch batch 10 vs 32 vs 100, and inserts with vs without apalis's
//! per-row NOTIFY trigger.

use anyhow::{Context, Result, bail};
use apalis::prelude::*;
use apalis_postgres::{Config, PostgresStorage};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Jobs/s, or `None` when nothing was timed.
fn rate(jobs: u64, secs: f64) -> Option<f64> {
    (secs > 0.0 && jobs > 0).then(|| jobs as f64 / secs)
}

/// What [`bare_sql`] measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BareSqlFigures {
    /// Jobs (rows) drained.
    pub jobs: u64,
    /// Concurrent connections claiming.
    pub connections: usize,
    /// Rows claimed (and acked) per statement.
    pub batch: usize,
    /// Seconds to insert the rows (one `INSERT … SELECT generate_series`).
    pub load_secs: f64,
    /// Seconds from the first claim to the last ack.
    pub drain_secs: f64,
    /// `jobs / drain_secs`.
    pub jobs_per_sec: Option<f64>,
}

/// The bare-SQL reference queue (see the module docs). Creates table `bench_queue` in the
/// database of `url`.
pub async fn bare_sql(
    url: &str,
    jobs: u64,
    connections: usize,
    batch: usize,
) -> Result<BareSqlFigures> {
    let connections = connections.max(1);
    let pool = PgPoolOptions::new()
        .max_connections(connections as u32 + 1)
        .connect(url)
        .await
        .context("connecting for the bare-SQL reference")?;
    sqlx::query("DROP TABLE IF EXISTS bench_queue")
        .execute(&pool)
        .await?;
    sqlx::query(
        "CREATE TABLE bench_queue (
             id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             status text NOT NULL DEFAULT 'pending',
             payload jsonb NOT NULL,
             created_at timestamptz NOT NULL DEFAULT now(),
             done_at timestamptz)",
    )
    .execute(&pool)
    .await?;
    sqlx::query("CREATE INDEX bench_queue_pending ON bench_queue (id) WHERE status = 'pending'")
        .execute(&pool)
        .await?;
    let started = Instant::now();
    sqlx::query(
        "INSERT INTO bench_queue (payload)
         SELECT jsonb_build_object('n', g) FROM generate_series(1, $1::bigint) AS g",
    )
    .bind(jobs as i64)
    .execute(&pool)
    .await?;
    sqlx::query("ANALYZE bench_queue").execute(&pool).await?;
    let load_secs = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let pool = pool.clone();
        tasks.spawn(async move {
            let mut conn = pool.acquire().await?;
            let mut done = 0u64;
            loop {
                let n = sqlx::query(
                    "WITH c AS (
                         SELECT id FROM bench_queue WHERE status = 'pending'
                         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
                     UPDATE bench_queue q SET status = 'done', done_at = now()
                     FROM c WHERE q.id = c.id",
                )
                .bind(batch as i64)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                if n == 0 {
                    return Ok::<u64, sqlx::Error>(done);
                }
                done += n;
            }
        });
    }
    let mut drained = 0;
    while let Some(r) = tasks.join_next().await {
        drained += r.context("a bare-SQL claimer panicked")??;
    }
    let drain_secs = started.elapsed().as_secs_f64();
    if drained != jobs {
        bail!("bare-SQL reference drained {drained} of {jobs} rows");
    }
    pool.close().await;
    Ok(BareSqlFigures {
        jobs,
        connections,
        batch,
        load_secs,
        drain_secs,
        jobs_per_sec: rate(jobs, drain_secs),
    })
}

/// The payload of a reference job.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct NoopJob {
    /// Sequence number (payloads differ, as real ones do).
    pub n: u64,
}

/// What [`apalis_push`] measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PushFigures {
    /// Jobs pushed.
    pub jobs: u64,
    /// Seconds for all of them.
    pub secs: f64,
    /// `jobs / secs`.
    pub jobs_per_sec: Option<f64>,
}

/// Pushes `jobs` no-op jobs into `queue` with apalis-postgres's own bulk sink
/// (`TaskSink::push_bulk`: one multi-row `INSERT … SELECT unnest(…)` per chunk of `chunk`).
pub async fn apalis_push(pool: &PgPool, queue: &str, jobs: u64, chunk: u64) -> Result<PushFigures> {
    let mut storage =
        PostgresStorage::<NoopJob>::new(pool).with_config(Config::default().queue(queue));
    let started = Instant::now();
    let mut n = 0;
    while n < jobs {
        let end = (n + chunk.max(1)).min(jobs);
        let batch: Vec<NoopJob> = (n..end).map(|n| NoopJob { n }).collect();
        storage
            .push_bulk(batch)
            .await
            .map_err(|e| anyhow::anyhow!("pushing reference jobs: {e}"))?;
        n = end;
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(PushFigures {
        jobs,
        secs,
        jobs_per_sec: rate(jobs, secs),
    })
}

/// How the reference workers fetch: the knobs of ztoq's worker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueKnobs {
    /// Worker count (each with its own pool, as separate processes would have).
    pub workers: usize,
    /// Jobs handled at once per worker.
    pub concurrency: usize,
    /// Jobs claimed per fetch (`Config::batch_size`).
    pub batch_size: usize,
    /// Polling interval of an idle worker, ms (`poll_with_interval`).
    pub poll_ms: u64,
    /// Heartbeat interval, seconds.
    pub heartbeat_secs: u64,
    /// Missed heartbeats before a worker's jobs are rescued.
    pub missed_heartbeats: usize,
}

/// What [`apalis_drain`] measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrainFigures {
    /// Jobs handled (may be fewer than asked when the time limit hit first).
    pub jobs: u64,
    /// Rows in `apalis.jobs` (all queues) when the drain started.
    pub rows_in_table: u64,
    /// The knobs.
    pub knobs: QueueKnobs,
    /// Seconds from starting the workers to the last job handled.
    pub secs: f64,
    /// `jobs / secs`.
    pub jobs_per_sec: Option<f64>,
    /// Stopped by the time limit before `jobs` were handled.
    pub timed_out: bool,
}

struct DrainState {
    handled: AtomicU64,
    target: u64,
    last: Mutex<Option<Instant>>,
    reached: tokio::sync::Notify,
}

async fn noop(_job: NoopJob, state: Data<Arc<DrainState>>) -> Result<(), BoxDynError> {
    let n = state.handled.fetch_add(1, Ordering::Relaxed) + 1;
    if n <= state.target {
        // Jobs handled after the target (while the workers stop) do not count.
        *state.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
    }
    if n == state.target {
        state.reached.notify_one();
    }
    Ok(())
}

/// Starts `knobs.workers` apalis workers on `queue` with a no-op handler and stops them once
/// `jobs` jobs were handled or `limit` passed. `url` is the database; each worker gets a pool
/// of its own.
pub async fn apalis_drain(
    url: &str,
    queue: &str,
    jobs: u64,
    knobs: &QueueKnobs,
    limit: Duration,
) -> Result<DrainFigures> {
    let mut pools = Vec::new();
    for _ in 0..knobs.workers.max(1) {
        pools.push(
            PgPoolOptions::new()
                .max_connections(4)
                .connect(url)
                .await
                .context("connecting for the apalis reference")?,
        );
    }
    let rows_in_table: i64 = sqlx::query_scalar("SELECT count(*) FROM apalis.jobs")
        .fetch_one(&pools[0])
        .await?;
    let state = Arc::new(DrainState {
        handled: AtomicU64::new(0),
        target: jobs,
        last: Mutex::new(None),
        reached: tokio::sync::Notify::new(),
    });
    let config = Config::default()
        .queue(queue)
        .batch_size(knobs.batch_size.max(1))
        .heartbeat_interval(Duration::from_secs(knobs.heartbeat_secs.max(1)))
        .missed_heartbeats(knobs.missed_heartbeats);
    let poll = Duration::from_millis(knobs.poll_ms.max(1));
    let concurrency = knobs.concurrency.max(1);
    let mut monitor = Monitor::new();
    for (i, pool) in pools.iter().enumerate() {
        let pool = pool.clone();
        let config = config.clone();
        let state = state.clone();
        let name = format!("bench-{queue}-{}-{i}", std::process::id());
        monitor = monitor.register(move |restarts| {
            let storage = PostgresStorage::<NoopJob>::new(&pool)
                .with_config(config.clone())
                .poll_with_interval(poll);
            WorkerBuilder::new(format!("{name}-{restarts}"))
                .backend(storage)
                .concurrency(concurrency)
                .data(state.clone())
                .build(noop)
        });
    }
    let started = Instant::now();
    let signal_state = state.clone();
    let timed_out = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let timed_out_flag = timed_out.clone();
    monitor
        .should_restart(|_, e| {
            tracing::warn!(error = %e, "reference worker error; restarting it");
            true
        })
        .shutdown_timeout(Duration::from_secs(10))
        .run_with_signal(async move {
            if tokio::time::timeout(limit, signal_state.reached.notified())
                .await
                .is_err()
            {
                timed_out_flag.store(true, Ordering::Relaxed);
            }
            Ok(())
        })
        .await
        .map_err(|e| anyhow::anyhow!("apalis reference workers: {e}"))?;
    let handled = state.handled.load(Ordering::Relaxed);
    let last = *state.last.lock().unwrap_or_else(PoisonError::into_inner);
    let secs = last.map_or(0.0, |l| l.duration_since(started).as_secs_f64());
    for pool in pools {
        pool.close().await;
    }
    Ok(DrainFigures {
        jobs: handled.min(jobs),
        rows_in_table: rows_in_table as u64,
        knobs: knobs.clone(),
        secs,
        jobs_per_sec: rate(handled.min(jobs), secs),
        timed_out: timed_out.load(Ordering::Relaxed) && handled < jobs,
    })
}
