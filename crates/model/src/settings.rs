//! [`RunSettings`]: what ztoq-enqueue resolves against the target once (field ids, the status
//! map) and every worker reads from the run. Stored as JSON in `runs.settings`; never holds a
//! secret.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The label of the qTest field that carries each item's Zephyr key: the marker by which a
/// retry finds an item an earlier attempt may already have created.
pub const ZEPHYR_KEY_FIELD: &str = "Zephyr Key";

/// Settings resolved at enqueue.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunSettings {
    /// Id of the "Zephyr Key" field on qTest test cases.
    pub test_case_key_field_id: i64,
    /// Id of the "Zephyr Key" field on qTest test runs (and so on their logs).
    pub test_run_key_field_id: i64,
    /// Zephyr execution-status id → qTest execution-status id.
    pub status_map: HashMap<i64, i64>,
    /// The qTest status used for a step result that has none.
    pub unexecuted_status_id: i64,
}
