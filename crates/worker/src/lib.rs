//! `ztoq-worker`'s engine: pulls record jobs from Postgres (apalis-postgres), migrates each
//! record, and commits its outcome.
//!
//! Per record: read what it needs from Zephyr (steps, step results, attachment bytes),
//! transform it (`ztoq-transform`), write it to qTest, then in ONE transaction store the qTest
//! id, mark the record done and release the dependents that waited only for it. The records in
//! flight are read and settled in batches ([`batch`]): one transaction commits the outcomes of
//! all the records that finished meanwhile. When an
//! earlier attempt may already have reached qTest (a crash, a timeout after the request left),
//! the item is first looked up in qTest by its marker and adopted instead of created again.
//!
//! Failures are classified ([`ztoq_http::ErrorClass`]): transient ones are retried as new
//! jobs with exponential backoff and full jitter ([`retry`]); permanent ones fail the record
//! with its reason and block its dependents; refused credentials postpone the record without
//! spending an attempt and mark the run paused.
#![warn(missing_docs)]

mod batch;
pub mod config;
mod context;
mod failure;
mod handler;
mod kinds;
pub mod metrics;
pub mod retry;
mod runner;

pub use config::WorkerConfig;
pub use runner::{RunError, run};
