//! ztoq-enqueue's engine: checks both APIs, resolves the target's settings, pages through a
//! Zephyr project into the canonical snapshot, and turns every item into a record with its
//! dependency edges; records with nothing to wait for get a job at once.
//!
//! Memory stays flat: each page is written (snapshot rows, records, edges, jobs) in one
//! transaction and dropped before the next is read. Only the folder trees are held whole
//! (they are small, and a child folder may be listed before its parent).
//!
//! Enqueueing the same project into the same qTest project again continues the same run:
//! the snapshot is refreshed, new items get records, existing records are left alone.
#![warn(missing_docs)]

mod crawl;
mod preflight;

pub use crawl::{EnqueueConfig, EnqueueError, EnqueueReport, enqueue};
pub use preflight::{map_statuses, resolve_settings};
