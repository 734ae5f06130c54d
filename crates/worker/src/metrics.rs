//! Prometheus metrics of a worker: names, help texts, buckets and the exporter.
//!
//! Labels are low-cardinality by design (kind, outcome, reason, api, operation, status
//! class, state); record keys go in tracing spans, never in labels.

use metrics::{describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
use std::net::SocketAddr;
use std::time::Duration;

/// Seconds buckets for record and API durations (5 ms … 60 s).
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Buckets for records per batch (up to `crate::batch`'s largest batch, 64).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

/// Installs the global recorder and serves `/metrics` on `addr`.
pub fn install(addr: SocketAddr) -> Result<(), String> {
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .map_err(|e| e.to_string())?
        .set_buckets_for_metric(Matcher::Full("ztoq_batch_records".into()), BATCH_BUCKETS)
        .map_err(|e| e.to_string())?
        .install()
        .map_err(|e| e.to_string())?;
    describe();
    Ok(())
}

/// Help texts for every metric ztoq emits.
pub fn describe() {
    describe_counter!(
        "ztoq_records_total",
        "Records processed, by kind and outcome (done, retry, failed, postponed, skipped)."
    );
    describe_histogram!(
        "ztoq_record_duration_seconds",
        metrics::Unit::Seconds,
        "Time to process one record attempt, by kind and outcome."
    );
    describe_counter!(
        "ztoq_retries_total",
        "Transient failures scheduled for another attempt, by kind and reason."
    );
    describe_counter!(
        "ztoq_records_adopted_total",
        "Records whose qTest copy, created by an earlier attempt, was found and adopted instead of created again."
    );
    describe_gauge!(
        "ztoq_jobs_in_flight",
        "Records being processed by this worker now."
    );
    describe_histogram!(
        "ztoq_batch_records",
        "Records per batch of the worker's Postgres work, by op (load: lock and read claimed records; settle: commit finished records' outcomes)."
    );
    describe_histogram!(
        "ztoq_batch_duration_seconds",
        metrics::Unit::Seconds,
        "Time of one batch of the worker's Postgres work, by op (load, settle)."
    );
    describe_gauge!(
        "ztoq_queue_jobs",
        "Jobs in the queue by state (Pending, Queued, Running), all runs."
    );
    describe_counter!(
        "ztoq_api_requests_total",
        "API requests by api, operation and status class."
    );
    describe_histogram!(
        "ztoq_api_request_duration_seconds",
        metrics::Unit::Seconds,
        "API request latency by api and operation."
    );
}

/// Polls the queue depth every 10 s into `ztoq_queue_jobs{state}`.
pub fn spawn_queue_depth_poller(pool: sqlx::PgPool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tick.tick().await;
            let Ok(mut conn) = pool.acquire().await else {
                continue;
            };
            if let Ok(depth) = ztoq_store::report::queue_depth(&mut conn).await {
                for state in ["Pending", "Queued", "Running"] {
                    let n = depth.get(state).copied().unwrap_or(0);
                    metrics::gauge!("ztoq_queue_jobs", "state" => state).set(n as f64);
                }
            }
        }
    });
}
