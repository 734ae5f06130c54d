//! The folder trees (test-case folders and cycle folders): read whole, since a child may be
//! listed before its parent, then one batch of records per tree, each waiting for its parent.
//! A folder on a parent loop fails naming the loop.

use crate::error::EnqueueError;
use crate::page::add_bad;
use crate::records::insert_and_fail;
use crate::report::Tally;
use crate::retry::next_items;
use crate::tx::in_tx;
use std::collections::HashMap;
use ztoq_http::RetryPolicy;
use ztoq_model::RecordKind;
use ztoq_model::zephyr::Folder;
use ztoq_store::records::{NewDep, NewRecord};
use ztoq_store::snapshot;
use ztoq_zephyr::{BadItem, ZephyrClient, excerpt};

/// Reads all folders of project `key`, stores them in the snapshot and creates their records,
/// one transaction per tree.
pub(crate) async fn enqueue_folders(
    pool: &sqlx::PgPool,
    zephyr: &ZephyrClient,
    key: &str,
    run_id: i64,
    retry: &RetryPolicy,
    tally: &mut Tally,
) -> Result<(), EnqueueError> {
    let mut folders: Vec<Folder> = Vec::new();
    let mut bad_folders: Vec<(RecordKind, BadItem)> = Vec::new();
    let mut pager = zephyr.folders(key);
    while let Some(page) = next_items(&mut pager, retry).await? {
        let kinds: HashMap<i64, RecordKind> = page
            .items
            .iter()
            .filter_map(|f| folder_kind(&f.folder_type).map(|k| (f.id, k)))
            .collect();
        for note in &page.notes {
            let kind = note
                .id
                .and_then(|id| kinds.get(&id).copied())
                .unwrap_or(RecordKind::Folder);
            tally.note(kind, note);
        }
        tally.repeats(RecordKind::Folder, &page.repeated);
        for bad in page.bad {
            match bad.folder_type.as_deref() {
                Some("TEST_PLAN") => {}
                Some("TEST_CYCLE") => bad_folders.push((RecordKind::CycleFolder, bad)),
                _ => bad_folders.push((RecordKind::Folder, bad)),
            }
        }
        folders.extend(page.items);
    }
    for (folder_type, kind) in [
        ("TEST_CASE", RecordKind::Folder),
        ("TEST_CYCLE", RecordKind::CycleFolder),
    ] {
        // One per id (a repeat the pager could not see must not reach one upsert twice).
        let mut ids = std::collections::HashSet::new();
        let tree: Vec<Folder> = folders
            .iter()
            .filter(|f| f.folder_type == folder_type && ids.insert(f.id))
            .cloned()
            .collect();
        let loops = folder_loops(&tree);
        let mut new: Vec<NewRecord> = tree
            .iter()
            .map(|f| NewRecord {
                source_id: f.id,
                source_key: folder_key(f),
            })
            .collect();
        let deps: Vec<NewDep> = tree
            .iter()
            .filter(|f| !loops.contains_key(&f.id))
            .filter_map(|f| {
                f.parent_id.map(|p| NewDep {
                    child_source_id: f.id,
                    parent_kind: kind,
                    parent_source_id: p,
                })
            })
            .collect();
        let mut failures: Vec<(i64, String)> = loops.into_iter().collect();
        failures.sort();
        let bad: Vec<&BadItem> = bad_folders
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, b)| b)
            .collect();
        add_bad(kind, &bad, &mut new, &mut failures, tally);
        for f in &tree {
            for note in ztoq_transform::folder_notes(f) {
                tally.degraded(kind, &folder_key(f), note);
            }
        }
        let (inserted, failed) = in_tx!(pool, |tx| {
            snapshot::save_folders(tx, run_id, &tree).await?;
            insert_and_fail(tx, run_id, kind, &new, &deps, &failures).await
        })?;
        tally.add(kind, inserted);
        tally.failed += failed;
    }
    Ok(())
}

/// The record kind of a folder type (`None`: test-plan folders are not migrated).
fn folder_kind(folder_type: &str) -> Option<RecordKind> {
    match folder_type {
        "TEST_CASE" => Some(RecordKind::Folder),
        "TEST_CYCLE" => Some(RecordKind::CycleFolder),
        _ => None,
    }
}

/// How a folder is named in records and messages: `name (#id)`.
fn folder_key(f: &Folder) -> String {
    format!("{} (#{})", excerpt(&f.name, 120), f.id)
}

/// Folders on a parent loop (A → B → A, or a folder its own parent), each with the reason
/// naming the loop from it. Folders below a loop are not on it: they wait for (and are
/// blocked by) the looping ones.
fn folder_loops(tree: &[Folder]) -> HashMap<i64, String> {
    let by_id: HashMap<i64, &Folder> = tree.iter().map(|f| (f.id, f)).collect();
    // 0 unseen, 1 on the current walk, 2 finished.
    let mut mark: HashMap<i64, u8> = HashMap::new();
    let mut out = HashMap::new();
    for start in tree {
        let mut walk: Vec<i64> = Vec::new();
        let mut cur = Some(start.id);
        while let Some(id) = cur {
            match mark.get(&id).copied().unwrap_or(0) {
                0 => {
                    mark.insert(id, 1);
                    walk.push(id);
                    cur = by_id
                        .get(&id)
                        .and_then(|f| f.parent_id)
                        .filter(|p| by_id.contains_key(p));
                }
                1 => {
                    // `id` is on this walk: the walk from it is a loop.
                    let from = walk.iter().position(|w| *w == id).unwrap_or(0);
                    let ring = &walk[from..];
                    for (i, member) in ring.iter().enumerate() {
                        let label =
                            |m: &i64| by_id.get(m).map_or(format!("#{m}"), |f| folder_label(f));
                        // A long loop is named by its first folders and its length.
                        let mut chain: Vec<String> = ring[i..]
                            .iter()
                            .chain(&ring[..i])
                            .take(8)
                            .map(label)
                            .collect();
                        if ring.len() > 8 {
                            chain.push(format!("… ({} folders in all)", ring.len()));
                        }
                        chain.push(label(member));
                        out.insert(
                            *member,
                            format!(
                                "folder {} is in a parent loop: {} (a folder cannot be its own \
                                 ancestor)",
                                folder_label(by_id[member]),
                                chain.join(" → ")
                            ),
                        );
                    }
                    break;
                }
                _ => break,
            }
        }
        for id in walk {
            mark.insert(id, 2);
        }
    }
    out
}

fn folder_label(f: &Folder) -> String {
    format!("'{}' (#{})", excerpt(&f.name, 80), f.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn folder(id: i64, parent: Option<i64>) -> Folder {
        Folder {
            id,
            parent_id: parent,
            name: format!("F{id}"),
            index: 0,
            folder_type: "TEST_CASE".into(),
            project: None,
        }
    }

    #[test]
    fn loops_are_found_and_named_from_each_member() {
        let tree = [
            folder(1, None),
            folder(2, Some(1)),
            folder(3, Some(4)),
            folder(4, Some(3)),
            folder(5, Some(3)),  // below the loop: not on it
            folder(6, Some(6)),  // its own parent
            folder(7, Some(99)), // parent elsewhere: not a loop
        ];
        let loops = folder_loops(&tree);
        let mut ids: Vec<i64> = loops.keys().copied().collect();
        ids.sort();
        assert_eq!(ids, [3, 4, 6]);
        assert_eq!(
            loops[&3],
            "folder 'F3' (#3) is in a parent loop: 'F3' (#3) → 'F4' (#4) → 'F3' (#3) \
             (a folder cannot be its own ancestor)"
        );
        assert!(loops[&4].contains("'F4' (#4) → 'F3' (#3) → 'F4' (#4)"));
        assert!(loops[&6].contains("'F6' (#6) → 'F6' (#6)"));
        assert!(folder_loops(&tree[..2]).is_empty());
        let ring: Vec<Folder> = (1..=100)
            .map(|i| folder(i, Some(if i == 100 { 1 } else { i + 1 })))
            .collect();
        let loops = folder_loops(&ring);
        assert_eq!(loops.len(), 100);
        assert!(
            loops[&1].contains("… (100 folders in all) → 'F1' (#1)"),
            "{}",
            loops[&1]
        );
        assert!(loops[&1].len() < 600);
    }

    #[test]
    fn long_chains_are_walked_once() {
        let tree: Vec<Folder> = (1..=20_000)
            .map(|i| folder(i, (i > 1).then_some(i - 1)))
            .collect();
        let started = Instant::now();
        assert!(folder_loops(&tree).is_empty());
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
