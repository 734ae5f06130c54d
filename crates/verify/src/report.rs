//! The verification report and its two renderings (a table for people, JSON for machines).

use serde::Serialize;
use std::collections::BTreeMap;
use ztoq_model::RecordKind;

/// One kind's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct KindReport {
    /// Items in the source (records of the kind).
    pub source: u64,
    /// Records done.
    pub migrated: u64,
    /// Records failed.
    pub failed: u64,
    /// Records blocked by a failed dependency.
    pub blocked: u64,
    /// Records not finished yet.
    pub pending: u64,
    /// Done records whose qTest copy matches the source field by field.
    pub verified: u64,
    /// Copies found in qTest where ztoq put them (more than `migrated` means duplicates).
    pub in_qtest: u64,
}

/// One difference between the source and the qTest copy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mismatch {
    /// Kind.
    pub kind: RecordKind,
    /// Source key or name.
    pub source_key: String,
    /// qTest id, when there is a copy.
    pub qtest_id: Option<i64>,
    /// The field (or `missing`, `duplicate`).
    pub field: String,
    /// What the source says qTest must hold.
    pub expected: String,
    /// What qTest holds.
    pub actual: String,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    /// The run.
    pub run_id: i64,
    /// Every record migrated and every copy matching.
    pub ok: bool,
    /// Figures per kind.
    pub kinds: BTreeMap<RecordKind, KindReport>,
    /// Differences.
    pub mismatches: Vec<Mismatch>,
}

impl VerifyReport {
    /// Prints the report as a table.
    pub fn print(&self) {
        println!(
            "verification of run {}: {}",
            self.run_id,
            if self.ok { "OK" } else { "NOT OK" }
        );
        println!(
            "{:<14} {:>9} {:>9} {:>8} {:>8} {:>8} {:>9} {:>9}",
            "kind", "source", "migrated", "failed", "blocked", "pending", "in qTest", "verified"
        );
        for (kind, k) in &self.kinds {
            println!(
                "{:<14} {:>9} {:>9} {:>8} {:>8} {:>8} {:>9} {:>9}",
                kind.as_str(),
                k.source,
                k.migrated,
                k.failed,
                k.blocked,
                k.pending,
                k.in_qtest,
                k.verified
            );
        }
        for m in self.mismatches.iter().take(50) {
            println!(
                "  {} {} (qTest {:?}) {}: expected {:?}, found {:?}",
                m.kind, m.source_key, m.qtest_id, m.field, m.expected, m.actual
            );
        }
        if self.mismatches.len() > 50 {
            println!("  … and {} more (see --json)", self.mismatches.len() - 50);
        }
    }
}
