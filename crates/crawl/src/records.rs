//! A page of test cases, test cycles or executions into the snapshot ([`Staged`]: the
//! `stage_*` functions), then into the records table ([`insert_and_fail`]): one record per
//! item, its dependency edges, and the records failed at once (a second case with the same
//! key, an execution whose test case or cycle is missing, unreadable items).

use crate::page::Unreadable;
use tracing::warn;
use ztoq_model::RecordKind;
use ztoq_model::zephyr::{TestCase, TestCycle, TestExecution};
use ztoq_store::records::{self, Inserted, NewDep, NewRecord};
use ztoq_store::snapshot;
use ztoq_zephyr::excerpt;

/// A page stored in the snapshot, its records not yet created: the records, their edges, and
/// the records to fail at once with their reasons.
#[derive(Debug, Default)]
pub(crate) struct Staged {
    /// The page's records (unreadable and duplicate items included).
    pub(crate) new: Vec<NewRecord>,
    /// Their dependency edges.
    pub(crate) deps: Vec<NewDep>,
    /// `(source id, reason)` of the records failed at once.
    pub(crate) failures: Vec<(i64, String)>,
}

/// Inserts records with their edges, then fails the ones in `failures` (blocking their
/// dependents). Returns what the insert did and how many were failed.
pub(crate) async fn insert_and_fail(
    tx: &mut sqlx::PgConnection,
    run_id: i64,
    kind: RecordKind,
    new: &[NewRecord],
    deps: &[NewDep],
    failures: &[(i64, String)],
) -> Result<(Inserted, u64), sqlx::Error> {
    let inserted = records::insert_records(tx, run_id, kind, new, deps).await?;
    let failed = records::fail_by_source(tx, run_id, kind, failures).await?;
    Ok((inserted, failed))
}

/// The records of a page of items that live in folders, and their edges to the folder
/// records (`parent_kind`). `identity` gives an item's id, key and folder id.
pub(crate) fn records_in_folders<'a, T>(
    page: &'a [T],
    parent_kind: RecordKind,
    identity: impl Fn(&'a T) -> (i64, &'a String, Option<i64>),
) -> (Vec<NewRecord>, Vec<NewDep>) {
    let mut new = Vec::with_capacity(page.len());
    let mut deps = Vec::with_capacity(page.len());
    for item in page {
        let (id, key, folder) = identity(item);
        new.push(NewRecord {
            source_id: id,
            source_key: excerpt(key, 200),
        });
        if let Some(folder) = folder {
            deps.push(NewDep {
                child_source_id: id,
                parent_kind,
                parent_source_id: folder,
            });
        }
    }
    (new, deps)
}

/// Stores a page of test cases and returns their records. A case whose key is already held
/// by another id (a case listed again under a new version id while the crawl ran) fails naming
/// both: it would otherwise be a second qTest copy of the same case.
pub(crate) async fn stage_test_cases(
    tx: &mut sqlx::PgConnection,
    run_id: i64,
    cases: &[TestCase],
    unreadable: &Unreadable,
) -> Result<Staged, sqlx::Error> {
    let keys: Vec<String> = cases.iter().map(|c| c.key.clone()).collect();
    let mut known = snapshot::test_case_ids_by_keys(tx, run_id, &keys).await?;
    let mut keep = Vec::with_capacity(cases.len());
    let mut extra = unreadable.records.clone();
    let mut failures = unreadable.failures.clone();
    for c in cases {
        match known.get(&c.key) {
            Some(&first) if first != c.id => {
                let label = format!("{} (#{})", excerpt(&c.key, 200), c.id);
                warn!(record = %label, first, "a second test case with the same key");
                extra.push(NewRecord {
                    source_id: c.id,
                    source_key: label.clone(),
                });
                failures.push((
                    c.id,
                    format!(
                        "test_case {label}: its key is already held by test case #{first} \
                         (listed twice, e.g. under a new version id while the crawl ran); \
                         only #{first} is migrated"
                    ),
                ));
            }
            _ => {
                known.insert(c.key.clone(), c.id);
                keep.push(c.clone());
            }
        }
    }
    snapshot::save_test_cases(tx, run_id, &keep).await?;
    let (mut new, deps) = records_in_folders(&keep, RecordKind::Folder, |c| {
        (c.id, &c.key, c.folder.as_ref().map(|f| f.id))
    });
    new.extend(extra);
    Ok(Staged {
        new,
        deps,
        failures,
    })
}

/// Stores a page of test cycles and returns their records, each waiting for its cycle folder.
pub(crate) async fn stage_test_cycles(
    tx: &mut sqlx::PgConnection,
    run_id: i64,
    cycles: &[TestCycle],
    unreadable: &Unreadable,
) -> Result<Staged, sqlx::Error> {
    snapshot::save_test_cycles(tx, run_id, cycles).await?;
    let (mut new, deps) = records_in_folders(cycles, RecordKind::CycleFolder, |c| {
        (c.id, &c.key, c.folder.as_ref().map(|f| f.id))
    });
    new.extend(unreadable.records.iter().cloned());
    Ok(Staged {
        new,
        deps,
        failures: unreadable.failures.clone(),
    })
}

/// The source key of an execution: its key, or `#id`.
pub(crate) fn execution_key(e: &TestExecution) -> String {
    e.key
        .as_deref()
        .map(|k| excerpt(k, 200))
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| format!("#{}", e.id))
}

/// Stores a page of executions and returns their records, each waiting for its test case, its
/// cycle and the previous execution of the same pair. An execution whose test case is not in
/// the source, or that has no cycle, fails naming why.
pub(crate) async fn stage_executions(
    tx: &mut sqlx::PgConnection,
    run_id: i64,
    page: &[TestExecution],
    unreadable: &Unreadable,
) -> Result<Staged, sqlx::Error> {
    snapshot::save_executions(tx, run_id, page).await?;
    let keys: Vec<String> = page
        .iter()
        .filter_map(|e| e.test_case_key_and_version().map(|(k, _)| k))
        .collect();
    let case_ids = snapshot::test_case_ids_by_keys(tx, run_id, &keys).await?;
    let ids: Vec<i64> = page.iter().map(|e| e.id).collect();
    let previous = snapshot::previous_executions(tx, run_id, &ids).await?;
    let mut new: Vec<NewRecord> = page
        .iter()
        .map(|e| NewRecord {
            source_id: e.id,
            source_key: execution_key(e),
        })
        .collect();
    new.extend_from_slice(&unreadable.records);
    let mut deps = Vec::new();
    let mut bad: Vec<(i64, String)> = unreadable.failures.clone();
    for e in page {
        let key = execution_key(e);
        match e.test_case_key_and_version() {
            None => bad.push((e.id, format!("execution {key}: testCase.self does not name a test case version: {:?}", e.test_case.self_url.as_deref().map(|u| excerpt(u, 200))))),
            Some((case_key, _)) => match case_ids.get(&case_key) {
                Some(case_id) => deps.push(NewDep { child_source_id: e.id, parent_kind: RecordKind::TestCase, parent_source_id: *case_id }),
                None => bad.push((e.id, format!("execution {key}: its test case {case_key} is not in the source (deleted or archived)"))),
            },
        }
        match &e.test_cycle {
            Some(c) => deps.push(NewDep {
                child_source_id: e.id,
                parent_kind: RecordKind::TestCycle,
                parent_source_id: c.id,
            }),
            None => bad.push((
                e.id,
                format!("execution {key}: ad-hoc executions (no test cycle) are not migrated yet"),
            )),
        }
        if let Some(prev) = previous.get(&e.id) {
            deps.push(NewDep {
                child_source_id: e.id,
                parent_kind: RecordKind::Execution,
                parent_source_id: *prev,
            });
        }
    }
    Ok(Staged {
        new,
        deps,
        failures: bad,
    })
}
