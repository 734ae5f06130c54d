//! What an enqueue did: the [`EnqueueReport`] it returns, the [`Degradation`]s it lists, and
//! the [`Tally`] the crawl keeps them in (logging each repeat and degradation as it counts it).

use std::collections::HashMap;
use tracing::warn;
use ztoq_model::RecordKind;
use ztoq_store::records::Inserted;
use ztoq_zephyr::{ItemNote, PageItems};

/// One degraded item: migrated, but not exactly as it is in Zephyr.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Degradation {
    /// Its record kind.
    pub kind: RecordKind,
    /// Its key (or name and id).
    pub source_key: String,
    /// What changed.
    pub note: String,
}

/// At most this many degradations are listed in the report (all are logged and counted).
pub const MAX_LISTED_DEGRADATIONS: usize = 200;

/// What an enqueue did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EnqueueReport {
    /// The run.
    pub run_id: i64,
    /// New records per kind (existing ones are not counted).
    pub inserted: HashMap<RecordKind, u64>,
    /// New records runnable at once.
    pub ready: u64,
    /// Records failed at enqueue (their source is inconsistent or unreadable).
    pub failed: u64,
    /// Of those, items that could not be read at all (each failed, naming its position).
    pub unreadable: u64,
    /// Items dropped because a page repeated them.
    pub repeated: u64,
    /// Degraded items (NULs removed, lone surrogates replaced, text cut to qTest's limits).
    pub degraded_total: u64,
    /// The first [`MAX_LISTED_DEGRADATIONS`] of them.
    pub degraded: Vec<Degradation>,
    /// Wall time.
    pub elapsed_secs: f64,
}

/// The counts of an enqueue in progress.
#[derive(Default)]
pub(crate) struct Tally {
    inserted: HashMap<RecordKind, u64>,
    ready: u64,
    /// Records failed so far.
    pub(crate) failed: u64,
    /// Of those, items that could not be read.
    pub(crate) unreadable: u64,
    repeated: u64,
    degraded_total: u64,
    degraded: Vec<Degradation>,
}

impl Tally {
    /// Counts what an insert of `kind` records did.
    pub(crate) fn add(&mut self, kind: RecordKind, i: Inserted) {
        *self.inserted.entry(kind).or_default() += i.inserted;
        self.ready += i.ready;
        self.failed += i.missing_parent;
    }

    /// Records (and logs) a degradation.
    pub(crate) fn degraded(&mut self, kind: RecordKind, source_key: &str, note: String) {
        warn!(
            kind = kind.as_str(),
            record = source_key,
            "source item degraded: {note}"
        );
        self.degraded_total += 1;
        if self.degraded.len() < MAX_LISTED_DEGRADATIONS {
            self.degraded.push(Degradation {
                kind,
                source_key: source_key.to_string(),
                note,
            });
        }
    }

    /// Counts items a page repeated (they were dropped).
    pub(crate) fn repeats(&mut self, kind: RecordKind, ids: &[i64]) {
        if !ids.is_empty() {
            warn!(
                kind = kind.as_str(),
                ?ids,
                "a page repeated items already read; dropped"
            );
            self.repeated += ids.len() as u64;
        }
    }

    /// Records the degradation of an item the client noted (NULs, lone surrogates).
    pub(crate) fn note(&mut self, kind: RecordKind, note: &ItemNote) {
        let folder = matches!(kind, RecordKind::Folder | RecordKind::CycleFolder);
        let key = match (&note.key, note.id) {
            (Some(k), Some(id)) if folder => format!("{k} (#{id})"),
            (Some(k), _) => k.clone(),
            (None, Some(id)) => format!("#{id}"),
            (None, None) => "?".to_string(),
        };
        self.degraded(kind, &key, note.note.clone());
    }

    /// [`Tally::repeats`] and [`Tally::note`] for a page.
    pub(crate) fn page<T>(&mut self, kind: RecordKind, page: &PageItems<T>) {
        self.repeats(kind, &page.repeated);
        for note in &page.notes {
            self.note(kind, note);
        }
    }

    /// The report of run `run_id`, which took `elapsed_secs`.
    pub(crate) fn into_report(self, run_id: i64, elapsed_secs: f64) -> EnqueueReport {
        EnqueueReport {
            run_id,
            inserted: self.inserted,
            ready: self.ready,
            failed: self.failed,
            unreadable: self.unreadable,
            repeated: self.repeated,
            degraded_total: self.degraded_total,
            degraded: self.degraded,
            elapsed_secs,
        }
    }
}
