//! What a rollback reports: per kind counts, the failed deletes, the table printed for people
//! and the progress lines on stderr.

use super::ORDER;
use serde::Serialize;
use std::collections::BTreeMap;
use ztoq_model::RecordKind;

/// What happened to one kind's records, counted in records (the executions sharing a test run
/// count one each).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KindReport {
    /// Items qTest deleted in this invocation.
    pub deleted: u64,
    /// Items found gone (404, or their owner already removed) in this invocation.
    pub already_gone: u64,
    /// Items whose delete failed in this invocation.
    pub failed: u64,
    /// Items kept because something under them could not be removed.
    pub kept: u64,
    /// Items rolled back by this and earlier invocations.
    pub rolled_back: u64,
    /// Items still in qTest (failed + kept).
    pub remaining: u64,
}

/// A delete that failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackFailure {
    /// Kind of the record(s).
    pub kind: RecordKind,
    /// Source key of the (first) record.
    pub source_key: String,
    /// Records waiting on this item (several for a shared test run).
    pub records: usize,
    /// Why.
    pub error: String,
}

/// The outcome of `ztoq rollback`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackReport {
    /// The run.
    pub run_id: i64,
    /// Whether the run is rolled back: nothing it created is left in qTest.
    pub rolled_back: bool,
    /// Whether an earlier rollback of the run had started.
    pub resumed: bool,
    /// Waiting or queued records cancelled (`--force`).
    pub cancelled: u64,
    /// Per kind, in rollback order.
    pub kinds: BTreeMap<RecordKind, KindReport>,
    /// Failed deletes (at most 100 listed).
    pub failures: Vec<RollbackFailure>,
    /// Failed deletes in all.
    pub failure_count: u64,
    /// Wall time.
    pub elapsed_secs: f64,
}

impl RollbackReport {
    pub(super) fn new(run_id: i64) -> Self {
        RollbackReport {
            run_id,
            rolled_back: false,
            resumed: false,
            cancelled: 0,
            kinds: ORDER.iter().map(|k| (*k, KindReport::default())).collect(),
            failures: Vec::new(),
            failure_count: 0,
            elapsed_secs: 0.0,
        }
    }

    pub(super) fn kind(&mut self, kind: RecordKind) -> &mut KindReport {
        self.kinds.entry(kind).or_default()
    }

    pub(super) fn fail(
        &mut self,
        kind: RecordKind,
        source_key: &str,
        records: usize,
        error: String,
    ) {
        self.kind(kind).failed += records as u64;
        self.failure_count += 1;
        if self.failures.len() < 100 {
            self.failures.push(RollbackFailure {
                kind,
                source_key: source_key.to_string(),
                records,
                error,
            });
        }
    }

    /// For people.
    pub fn print(&self) {
        println!(
            "{:<14} {:>9} {:>9} {:>8} {:>8} {:>12} {:>10}",
            "kind", "deleted", "gone", "failed", "kept", "rolled back", "remaining"
        );
        for kind in ORDER {
            let k = self.kinds.get(&kind).copied().unwrap_or_default();
            println!(
                "{:<14} {:>9} {:>9} {:>8} {:>8} {:>12} {:>10}",
                kind.as_str(),
                k.deleted,
                k.already_gone,
                k.failed,
                k.kept,
                k.rolled_back,
                k.remaining
            );
        }
        for f in &self.failures {
            println!("FAILED  {} {} — {}", f.kind, f.source_key, f.error);
        }
        if self.failure_count > self.failures.len() as u64 {
            println!(
                "  … and {} more",
                self.failure_count - self.failures.len() as u64
            );
        }
        if self.rolled_back {
            println!(
                "run {}: rolled back; nothing it created is left in qTest ({:.1}s)",
                self.run_id, self.elapsed_secs
            );
        } else {
            println!(
                "run {}: NOT fully rolled back; fix the causes above and run `ztoq rollback --run {}` again ({:.1}s)",
                self.run_id, self.run_id, self.elapsed_secs
            );
        }
    }
}

pub(super) fn progress_line(kind: RecordKind, report: &mut RollbackReport) {
    let k = report.kind(kind);
    eprintln!(
        "rollback {kind}: {} deleted, {} already gone, {} failed",
        k.deleted, k.already_gone, k.failed
    );
}
