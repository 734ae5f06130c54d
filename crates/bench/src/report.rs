//! The benchmark's result: one serialisable [`Report`] (printed as one JSON object), the
//! targets of issue 4 evaluated against it, and the human table. This module only wires its
//! parts together and re-exports them, so callers keep writing `report::Report`,
//! `report::evaluate` and so on:
//!
//! - `figures`: the report's structs (the JSON's fields, in order) and [`div`];
//! - `targets`: issue 4's thresholds and [`evaluate`];
//! - `table`: [`Report::table`];
//! - `format`: how the table writes numbers ([`group`]) and labels.

mod figures;
mod format;
mod table;
mod targets;

pub use figures::{
    ApiFigures, EnqueueFigures, Handled, KindFigures, LabelledDrain, Meta, MockFigures, PhaseCpu,
    QueueChecks, Ratios, References, Report, RunFigures, RunReport, Settings, WorkerFigures, div,
    now_rfc3339,
};
pub use format::group;
pub use targets::{
    END_TO_END_RECORDS_PER_SEC, ENQUEUE_RECORDS_PER_SEC, ENQUEUE_RSS_MB, MAX_429_SHARE,
    RATE_LIMIT_SHARE, SCALE_TOLERANCE, SCALING, Target, WORKER_RSS_MB, evaluate,
};

#[cfg(test)]
mod tests;
