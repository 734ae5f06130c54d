//! The canonical snapshot of the Zephyr source: bulk writes of listed pages (multi-row
//! `UNNEST` inserts, one statement per page), reads of single items for the worker, and reads
//! of a page of items at once for the verifier (`many`). Items are read back from `raw`, so
//! the worker sees exactly what the API sent.
//! Writes are upserts: enqueueing again refreshes the snapshot without duplicating it.
//!
//! Invariant: no NUL reaches Postgres (`text` and `jsonb` refuse it, failing the whole
//! statement): every write goes through `pg_safe`, which removes them (the Zephyr client
//! already does, and reports it; this is the last line of defence).
//!
//! One module per object family (project and lookups; folders and test cycles; test cases and
//! their steps; executions and their steps; attachments), plus `raw`, which turns items into
//! the `raw` column (NULs removed) and back; everything public is re-exported here.

mod attachments;
mod executions;
mod many;
mod project;
mod raw;
mod structure;
mod test_cases;
#[cfg(test)]
mod tests;

pub use attachments::{SrcAttachment, attachment, attachment_name, save_attachments};
pub use executions::{
    execution_steps, previous_executions, save_execution_steps_many, save_executions,
};
pub use many::{
    attachments_by_id, execution_steps_by_execution, executions_by_id, folders_by_id,
    test_cases_by_id, test_cycles_by_id, test_steps_by_case,
};
pub use project::{lookups, save_lookups, save_project};
pub use structure::{folder, save_folders, save_test_cycles, test_cycle};
pub use test_cases::{
    save_test_cases, save_test_steps, save_test_steps_many, test_case, test_case_id_by_key,
    test_case_ids_by_keys, test_steps,
};
