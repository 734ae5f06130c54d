//! ztoq-enqueue's engine: checks both APIs, resolves the target's settings, pages through a
//! Zephyr project into the canonical snapshot, and turns every item into a record with its
//! dependency edges; records with nothing to wait for get a job at once.
//!
//! Memory stays flat: each page is written in two transactions (its snapshot rows, then its
//! records, edges and jobs, the next page's snapshot meanwhile: `pipeline`) and dropped once
//! written; at most two more pages are read ahead (`prefetch`). Only the folder trees are held
//! whole (they are small, and a child folder may be listed before its parent).
//!
//! Enqueueing the same project into the same qTest project again continues the same run:
//! the snapshot is refreshed, new items get records, existing records are left alone.
//!
//! A hostile source does not stop it: requests failing transiently are retried with backoff
//! ([`CRAWL_RETRY`]); an item that cannot be read, a folder loop, a missing folder or test
//! case fail that record with a reason naming it; repeated items are dropped; degraded ones
//! are reported ([`EnqueueReport::degraded`]). See `docs/mapping.md`, "Broken source data".
#![warn(missing_docs)]

mod crawl;
mod error;
mod folders;
mod page;
mod pipeline;
mod prefetch;
mod preflight;
mod records;
mod report;
mod retry;
mod tx;

pub use crawl::{EnqueueConfig, enqueue, enqueue_with_retry};
pub use error::EnqueueError;
pub use preflight::{map_statuses, resolve_settings, resolve_settings_with};
pub use report::{Degradation, EnqueueReport, MAX_LISTED_DEGRADATIONS};
pub use retry::CRAWL_RETRY;
pub use ztoq_http::RetryPolicy;
