//! A list's pages through Postgres in two overlapped steps: page N+1's snapshot rows (and the
//! snapshot reads its records need) are written on one connection while page N's records,
//! edges and jobs are written on another. Postgres runs one backend per connection, so the
//! two halves use both cores instead of one (a 500k-record enqueue was bound by a single
//! backend's CPU).
//!
//! Each step is a transaction of its own, committed in order: a page's snapshot rows are
//! committed before its records exist, so a worker never finds a record without its source
//! item; a crash between the two leaves snapshot rows that the next enqueue refreshes and then
//! gives their records. Records are written strictly in page order (an execution's previous
//! execution, on an earlier page, has its record by then).

use crate::error::EnqueueError;
use crate::page::{Unreadable, intake};
use crate::prefetch::Prefetch;
use crate::records::{Staged, insert_and_fail};
use crate::report::Tally;
use crate::tx::in_tx;
use serde::de::DeserializeOwned;
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use ztoq_model::RecordKind;

/// Stores a page in the snapshot and returns its records (one of `crate::records`'s `stage_*`).
pub(crate) type StageFn<T> =
    for<'a> fn(
        &'a mut sqlx::PgConnection,
        i64,
        &'a [T],
        &'a Unreadable,
    ) -> Pin<Box<dyn Future<Output = Result<Staged, sqlx::Error>> + Send + 'a>>;

/// An item's key and the degradations the transform will make to it (for the report).
pub(crate) type NotesFn<T> = for<'a> fn(&'a T) -> (Cow<'a, str>, Vec<String>);

/// Writes every page of `pages` (records of `kind`): its snapshot with `stage`, then its
/// records, the next page's snapshot overlapping this page's records.
pub(crate) async fn pipeline<T: DeserializeOwned + Send + 'static>(
    pool: &sqlx::PgPool,
    run_id: i64,
    kind: RecordKind,
    mut pages: Prefetch<T>,
    tally: &mut Tally,
    notes: NotesFn<T>,
    stage: StageFn<T>,
) -> Result<(), EnqueueError> {
    let mut staged: Option<Staged> = None;
    loop {
        let page = pages.next().await?;
        if page.is_none() && staged.is_none() {
            return Ok(());
        }
        let bad = page.as_ref().map(|p| intake(tally, kind, p, notes));
        let snapshot = async {
            match (&page, &bad) {
                (Some(p), Some(bad)) => {
                    in_tx!(pool, |tx| stage(tx, run_id, &p.items, bad).await).map(Some)
                }
                _ => Ok(None),
            }
        };
        let records = async {
            match &staged {
                Some(s) => in_tx!(pool, |tx| {
                    insert_and_fail(tx, run_id, kind, &s.new, &s.deps, &s.failures).await
                })
                .map(Some),
                None => Ok(None),
            }
        };
        let (next, written) = tokio::join!(snapshot, records);
        if let Some((inserted, failed)) = written? {
            tally.add(kind, inserted);
            tally.failed += failed;
        }
        staged = next?;
    }
}
