//! What a page of items adds to the [`Tally`] before it is stored: its repeats and the
//! client's notes, its unreadable items (as records failed with their reason) and the
//! degradations the transform will make to the items that came through.

use crate::report::Tally;
use std::borrow::Cow;
use tracing::warn;
use ztoq_model::RecordKind;
use ztoq_store::records::NewRecord;
use ztoq_zephyr::{BadItem, PageItems};

/// The unreadable items of a page: their records and why each fails.
#[derive(Default)]
pub(crate) struct Unreadable {
    /// One record per unreadable item, keyed by its label.
    pub(crate) records: Vec<NewRecord>,
    /// `(source id, reason)` for each of them.
    pub(crate) failures: Vec<(i64, String)>,
}

/// Takes in a page of `kind`: counts (and logs) its repeats, the client's notes, its
/// unreadable items and, per item, the degradations `item` gives with the item's key.
/// Returns the unreadable items, to be inserted and failed with the page.
pub(crate) fn intake<'a, T>(
    tally: &mut Tally,
    kind: RecordKind,
    page: &'a PageItems<T>,
    item: impl Fn(&'a T) -> (Cow<'a, str>, Vec<String>),
) -> Unreadable {
    tally.page(kind, page);
    let mut unreadable = Unreadable::default();
    add_bad(
        kind,
        &page.bad.iter().collect::<Vec<_>>(),
        &mut unreadable.records,
        &mut unreadable.failures,
        tally,
    );
    for it in &page.items {
        let (key, notes) = item(it);
        for note in notes {
            tally.degraded(kind, &key, note);
        }
    }
    unreadable
}

/// Adds the records of unreadable items (failed with their reason) to `new` and `failures`.
pub(crate) fn add_bad(
    kind: RecordKind,
    bad: &[&BadItem],
    new: &mut Vec<NewRecord>,
    failures: &mut Vec<(i64, String)>,
    tally: &mut Tally,
) {
    for b in bad {
        let id = b.source_id();
        let label = b.label();
        warn!(kind = kind.as_str(), record = %label, position = %b.position, reason = %b.reason, "unreadable source item");
        tally.unreadable += 1;
        new.push(NewRecord {
            source_id: id,
            source_key: label.clone(),
        });
        let at = if b.id.is_none() && b.key.is_none() {
            String::new() // the label is the position
        } else {
            format!(" ({})", b.position)
        };
        failures.push((
            id,
            format!(
                "{kind} {label} cannot be read from Zephyr{at}: {}",
                b.reason
            ),
        ));
    }
}
