//! The crawl: project, lookups, folders, test cases, cycles and executions, page by page, into
//! the snapshot and the records tables.
//!
//! Every request is retried on transient failures ([`CRAWL_RETRY`]). Pages are read leniently:
//! an item that cannot be read becomes a failed record naming its position and why; a folder
//! on a parent loop fails naming the loop; an execution of a test case that is not in the
//! source fails naming both; repeated items are dropped; degraded items (NULs removed, lone
//! surrogates replaced, text cut to qTest's limits) are logged and listed in the report.

use crate::preflight::resolve_settings_with;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tracing::{info, warn};
use ztoq_http::{ApiError, ClientOptions, ErrorClass, RetryPolicy, Secret};
use ztoq_model::RecordKind;
use ztoq_model::zephyr::{Folder, TestCase, TestExecution};
use ztoq_qtest::{QtestAuth, QtestClient};
use ztoq_store::records::{self, Inserted, NewDep, NewRecord};
use ztoq_store::{runs, snapshot};
use ztoq_zephyr::{BadItem, ItemNote, PageItems, Pager, ZephyrClient, excerpt};

/// Runs `$body` (which uses `$tx: &mut PgConnection`) in a transaction, retrying it on
/// deadlocks and lost connections.
macro_rules! in_tx {
    ($pool:expr, |$tx:ident| $body:expr) => {{
        let mut wait = Duration::from_millis(50);
        let mut tries = 0;
        loop {
            let mut tx = $pool.begin().await?;
            let result = {
                let $tx: &mut sqlx::PgConnection = &mut tx;
                $body
            };
            let result = match result {
                Ok(v) => tx.commit().await.map(|_| v),
                Err(e) => Err(e),
            };
            match result {
                Err(e) if ztoq_store::is_retryable(&e) && tries < 10 => {
                    tries += 1;
                    tracing::warn!(error = %e, "retrying a page's transaction");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                other => break other,
            }
        }
    }};
}

/// What an enqueue needs.
#[derive(Debug, Clone)]
pub struct EnqueueConfig {
    /// Zephyr base URL (`…/v2`).
    pub zephyr_url: String,
    /// Zephyr API token.
    pub zephyr_token: Secret,
    /// Zephyr project key.
    pub project_key: String,
    /// qTest base URL.
    pub qtest_url: String,
    /// qTest credentials.
    pub qtest_auth: QtestAuth,
    /// qTest project id.
    pub qtest_project_id: i64,
    /// Items per Zephyr page (≤ 1000).
    pub page_size: u32,
    /// HTTP client settings.
    pub http: ClientOptions,
}

/// Why an enqueue stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnqueueError {
    /// An API refused the credentials.
    #[error("{api} refused the credentials: {source}")]
    Auth {
        /// `Zephyr` or `qTest`.
        api: &'static str,
        /// The refusal.
        source: ApiError,
    },
    /// An API call failed.
    #[error("{api}: {source}")]
    Api {
        /// `Zephyr` or `qTest`.
        api: &'static str,
        /// The failure.
        source: ApiError,
    },
    /// The target cannot take this source as it is.
    #[error("preflight: {0}")]
    Preflight(String),
    /// Postgres failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

impl EnqueueError {
    fn api(api: &'static str, source: ApiError) -> Self {
        if source.class() == ErrorClass::Auth {
            EnqueueError::Auth { api, source }
        } else {
            EnqueueError::Api { api, source }
        }
    }
    pub(crate) fn zephyr(source: ApiError) -> Self {
        Self::api("Zephyr", source)
    }
    pub(crate) fn qtest(source: ApiError) -> Self {
        Self::api("qTest", source)
    }
}

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

#[derive(Default)]
struct Tally {
    inserted: HashMap<RecordKind, u64>,
    ready: u64,
    failed: u64,
    unreadable: u64,
    repeated: u64,
    degraded_total: u64,
    degraded: Vec<Degradation>,
}

impl Tally {
    fn add(&mut self, kind: RecordKind, i: Inserted) {
        *self.inserted.entry(kind).or_default() += i.inserted;
        self.ready += i.ready;
        self.failed += i.missing_parent;
    }

    /// Records (and logs) a degradation.
    fn degraded(&mut self, kind: RecordKind, source_key: &str, note: String) {
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
    fn repeats(&mut self, kind: RecordKind, ids: &[i64]) {
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
    fn note(&mut self, kind: RecordKind, note: &ItemNote) {
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
    fn page<T>(&mut self, kind: RecordKind, page: &PageItems<T>) {
        self.repeats(kind, &page.repeated);
        for note in &page.notes {
            self.note(kind, note);
        }
    }
}

/// The crawl's retries of a request that failed transiently (timeouts, resets, 5xx, 429):
/// 8 attempts in all, backoff from 250 ms to 30 s with full jitter, `Retry-After` honoured.
pub const CRAWL_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 8,
    base: Duration::from_millis(250),
    max: Duration::from_secs(30),
};

/// Runs `call` until it succeeds, fails for good, or `retry` allows no more attempts.
pub(crate) async fn retrying<T, F, Fut>(
    retry: &RetryPolicy,
    operation: &str,
    mut call: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ApiError>>,
{
    let mut failures = 0;
    loop {
        match call().await {
            Err(e) => failures = backoff(retry, operation, failures, e).await?,
            Ok(v) => return Ok(v),
        }
    }
}

/// After a failure: waits and returns the new failure count when another attempt is due,
/// else gives the error back.
async fn backoff(
    retry: &RetryPolicy,
    operation: &str,
    failures: u32,
    e: ApiError,
) -> Result<u32, ApiError> {
    let failures = failures + 1;
    if e.class() != ErrorClass::Transient || !retry.allows_another(failures) {
        return Err(e);
    }
    let delay = retry.delay(failures, e.retry_after());
    warn!(
        operation,
        attempt = failures,
        delay_ms = delay.as_millis() as u64,
        error = %e,
        "transient failure; retrying"
    );
    tokio::time::sleep(delay).await;
    Ok(failures)
}

/// The next page of a list (lenient: bad items come back as such), retried on transient
/// failures (the pager keeps its position, so the same page is asked again).
async fn next_items<T: DeserializeOwned>(
    pager: &mut Pager<T>,
    retry: &RetryPolicy,
) -> Result<Option<PageItems<T>>, EnqueueError> {
    let mut failures = 0;
    loop {
        match pager.next_items().await {
            Ok(page) => return Ok(page),
            Err(e) => {
                failures = backoff(retry, pager.operation(), failures, e)
                    .await
                    .map_err(EnqueueError::zephyr)?;
            }
        }
    }
}

/// Runs an enqueue against `pool` (already migrated), retrying requests per [`CRAWL_RETRY`].
pub async fn enqueue(
    config: &EnqueueConfig,
    pool: &sqlx::PgPool,
) -> Result<EnqueueReport, EnqueueError> {
    enqueue_with_retry(config, &CRAWL_RETRY, pool).await
}

/// Runs an enqueue against `pool` (already migrated), retrying requests per `retry`.
pub async fn enqueue_with_retry(
    config: &EnqueueConfig,
    retry: &RetryPolicy,
    pool: &sqlx::PgPool,
) -> Result<EnqueueReport, EnqueueError> {
    let started = Instant::now();
    let zephyr = ZephyrClient::new(
        &config.zephyr_url,
        config.zephyr_token.clone(),
        &config.http,
    )
    .map_err(EnqueueError::zephyr)?
    .with_page_size(config.page_size);
    retrying(retry, "healthcheck", || zephyr.healthcheck())
        .await
        .map_err(EnqueueError::zephyr)?;
    let qtest = retrying(retry, "connect", || {
        QtestClient::connect(
            &config.qtest_url,
            config.qtest_project_id,
            config.qtest_auth.clone(),
            &config.http,
        )
    })
    .await
    .map_err(EnqueueError::qtest)?;
    let key = config.project_key.as_str();
    let (project, settings, execution_statuses) =
        resolve_settings_with(&zephyr, &qtest, key, retry).await?;
    let settings_json =
        serde_json::to_value(&settings).map_err(|e| EnqueueError::Preflight(e.to_string()))?;

    let mut conn = pool.acquire().await?;
    let run = runs::upsert(
        &mut conn,
        &config.zephyr_url,
        key,
        &config.qtest_url,
        config.qtest_project_id,
        &settings_json,
    )
    .await?;
    let run_id = run.id;
    info!(run_id, project = key, "enqueue started");
    snapshot::save_project(&mut conn, run_id, &project).await?;
    snapshot::save_lookups(
        &mut conn,
        run_id,
        "status",
        "TEST_EXECUTION",
        &execution_statuses,
    )
    .await?;
    for status_type in ["TEST_CASE", "TEST_CYCLE"] {
        let values = retrying(retry, "list_statuses", || zephyr.statuses(key, status_type))
            .await
            .map_err(EnqueueError::zephyr)?;
        snapshot::save_lookups(&mut conn, run_id, "status", status_type, &values).await?;
    }
    let priorities = retrying(retry, "list_priorities", || zephyr.priorities(key))
        .await
        .map_err(EnqueueError::zephyr)?;
    snapshot::save_lookups(&mut conn, run_id, "priority", "", &priorities).await?;
    let environments = retrying(retry, "list_environments", || zephyr.environments(key))
        .await
        .map_err(EnqueueError::zephyr)?;
    snapshot::save_lookups(&mut conn, run_id, "environment", "", &environments).await?;
    drop(conn);

    let mut tally = Tally::default();

    // Folders: all of them, then one batch per tree (a child may be listed before its parent).
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
        add_bad(kind, &bad, &mut new, &mut failures, &mut tally);
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
    drop(folders);

    // Test cases, page by page, each waiting for its folder.
    let mut pager = zephyr.test_cases(key);
    while let Some(page) = next_items(&mut pager, retry).await? {
        let kind = RecordKind::TestCase;
        tally.page(kind, &page);
        let mut unreadable = Vec::new();
        let mut failures = Vec::new();
        add_bad(
            kind,
            &page.bad.iter().collect::<Vec<_>>(),
            &mut unreadable,
            &mut failures,
            &mut tally,
        );
        for case in &page.items {
            for note in ztoq_transform::test_case_notes(case) {
                tally.degraded(kind, &case.key, note);
            }
        }
        let (inserted, failed) = in_tx!(pool, |tx| {
            enqueue_test_cases(tx, run_id, &page.items, &unreadable, &failures).await
        })?;
        tally.add(kind, inserted);
        tally.failed += failed;
    }

    // Test cycles, each waiting for its cycle folder.
    let mut pager = zephyr.test_cycles(key);
    while let Some(page) = next_items(&mut pager, retry).await? {
        let kind = RecordKind::TestCycle;
        tally.page(kind, &page);
        let (mut new, deps) = records_in_folders(&page.items, RecordKind::CycleFolder, |c| {
            (c.id, &c.key, c.folder.as_ref().map(|f| f.id))
        });
        let mut failures = Vec::new();
        add_bad(
            kind,
            &page.bad.iter().collect::<Vec<_>>(),
            &mut new,
            &mut failures,
            &mut tally,
        );
        for cycle in &page.items {
            for note in ztoq_transform::test_cycle_notes(cycle) {
                tally.degraded(kind, &cycle.key, note);
            }
        }
        let (inserted, failed) = in_tx!(pool, |tx| {
            snapshot::save_test_cycles(tx, run_id, &page.items).await?;
            insert_and_fail(tx, run_id, kind, &new, &deps, &failures).await
        })?;
        tally.add(kind, inserted);
        tally.failed += failed;
    }

    // Executions: each waits for its test case, its cycle and the previous execution of the
    // same pair (whose test run it shares).
    let mut pager = zephyr.executions(key);
    while let Some(page) = next_items(&mut pager, retry).await? {
        let kind = RecordKind::Execution;
        tally.page(kind, &page);
        let mut unreadable = Vec::new();
        let mut failures = Vec::new();
        add_bad(
            kind,
            &page.bad.iter().collect::<Vec<_>>(),
            &mut unreadable,
            &mut failures,
            &mut tally,
        );
        for e in &page.items {
            for note in ztoq_transform::execution_notes(e) {
                tally.degraded(kind, &execution_key(e), note);
            }
        }
        let (inserted, failed) = in_tx!(pool, |tx| {
            enqueue_executions(tx, run_id, &page.items, &unreadable, &failures).await
        })?;
        tally.add(kind, inserted);
        tally.failed += failed;
    }

    let mut conn = pool.acquire().await?;
    runs::mark_enqueued(&mut conn, run_id).await?;
    let report = EnqueueReport {
        run_id,
        inserted: tally.inserted,
        ready: tally.ready,
        failed: tally.failed,
        unreadable: tally.unreadable,
        repeated: tally.repeated,
        degraded_total: tally.degraded_total,
        degraded: tally.degraded,
        elapsed_secs: started.elapsed().as_secs_f64(),
    };
    info!(
        run_id,
        elapsed_secs = report.elapsed_secs,
        failed = report.failed,
        unreadable = report.unreadable,
        repeated = report.repeated,
        degraded = report.degraded_total,
        "enqueue finished"
    );
    Ok(report)
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

/// Adds the records of unreadable items (failed with their reason) to `new` and `failures`.
fn add_bad(
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

/// Inserts records with their edges, then fails the ones in `failures` (blocking their
/// dependents). Returns what the insert did and how many were failed.
async fn insert_and_fail(
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
fn records_in_folders<'a, T>(
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

/// Stores a page of test cases and creates their records. A case whose key is already held by
/// another id (a case listed again under a new version id while the crawl ran) fails naming
/// both: it would otherwise be a second qTest copy of the same case.
async fn enqueue_test_cases(
    tx: &mut sqlx::PgConnection,
    run_id: i64,
    cases: &[TestCase],
    unreadable: &[NewRecord],
    unreadable_reasons: &[(i64, String)],
) -> Result<(Inserted, u64), sqlx::Error> {
    let keys: Vec<String> = cases.iter().map(|c| c.key.clone()).collect();
    let mut known = snapshot::test_case_ids_by_keys(tx, run_id, &keys).await?;
    let mut keep = Vec::with_capacity(cases.len());
    let mut extra = unreadable.to_vec();
    let mut failures = unreadable_reasons.to_vec();
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
    insert_and_fail(tx, run_id, RecordKind::TestCase, &new, &deps, &failures).await
}

/// The source key of an execution: its key, or `#id`.
fn execution_key(e: &TestExecution) -> String {
    e.key
        .as_deref()
        .map(|k| excerpt(k, 200))
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| format!("#{}", e.id))
}

async fn enqueue_executions(
    tx: &mut sqlx::PgConnection,
    run_id: i64,
    page: &[TestExecution],
    unreadable: &[NewRecord],
    unreadable_reasons: &[(i64, String)],
) -> Result<(Inserted, u64), sqlx::Error> {
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
    new.extend_from_slice(unreadable);
    let mut deps = Vec::new();
    let mut bad: Vec<(i64, String)> = unreadable_reasons.to_vec();
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
    let inserted = records::insert_records(tx, run_id, RecordKind::Execution, &new, &deps).await?;
    let failed = records::fail_by_source(tx, run_id, RecordKind::Execution, &bad).await?;
    Ok((inserted, failed))
}

#[cfg(test)]
mod tests {
    use super::*;

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
