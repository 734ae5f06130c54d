//! ztoq's qTest Manager v3 client: the sink side of the migration. It logs in (or takes a
//! token), reads field settings and execution statuses, creates modules, test cases with steps,
//! test cycles, test runs, manual test logs and attachments, reads them back (by listing
//! with each endpoint's own paging, or by Data Query search for idempotency checks), and
//! deletes them again for a rollback (a 404 on delete is [`Deletion::AlreadyGone`]).
//!
//! Every call goes through `ztoq_http::send` and `read_json`, so failures arrive as classified
//! [`ApiError`]s (transient, permanent, auth) and every request is counted and timed under
//! `api="qtest"` and an operation name (`create_test_case`, `search`, …). Any 2xx is success:
//! qTest answers 200 to some creates and 201 to others.
//!
//! Invariant: the token and password never reach a log, an error message or `Debug` output;
//! they are [`Secret`]s exposed only in the `Authorization` header and the login form.
#![warn(missing_docs)]

mod client;
mod endpoints;
mod lists;
mod query;

pub use client::{CycleParent, Deletion, QtestAuth, QtestClient, RunParent};
pub use query::quote_query_value;
pub use ztoq_http::{ApiError, ClientOptions, ErrorClass, Secret};
pub use ztoq_model::qtest;
