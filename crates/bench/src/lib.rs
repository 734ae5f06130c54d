//! The pieces of `ztoq bench` (issue 4's benchmark), kept out of the CLI so they can be
//! tested on their own:
//!
//! - [`rss`]: memory of the enqueue and worker processes, sampled from `/proc`;
//! - [`cpu`]: CPU seconds of those processes, of the benchmark's own (the mocks) and of a
//!   local Postgres server, to say where a run's time goes;
//! - [`prom`]: scraping a worker's `/metrics` and percentiles of its duration histograms;
//! - [`measure`]: figures of a finished run read from its database (per-kind windows,
//!   ready → done latency, database size, queue rows, which apalis weak spots are handled);
//! - [`references`] and [`plan`]: the bare-SQL and apalis-postgres reference queues with
//!   no-op jobs, and apalis's weak spots measured at N rows;
//! - [`pg`]: the benchmark's own databases on the server;
//! - [`report`]: the JSON report, the targets and the human table.
//!
//! Unlike the rest of ztoq, this crate writes SQL outside `ztoq-store`: it is measurement
//! (sizes, percentiles, reference tables), never state ztoq relies on.
#![warn(missing_docs)]

pub mod cpu;
pub mod measure;
pub mod pg;
pub mod plan;
pub mod prom;
pub mod references;
pub mod report;
pub mod rss;
