//! The crawl: project, lookups, folders, test cases, cycles and executions, page by page, into
//! the snapshot and the records tables.

use crate::preflight::resolve_settings;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tracing::info;
use ztoq_http::{ApiError, ClientOptions, ErrorClass, Secret};
use ztoq_model::RecordKind;
use ztoq_model::zephyr::{Folder, TestExecution};
use ztoq_qtest::{QtestAuth, QtestClient};
use ztoq_store::records::{self, Inserted, NewDep, NewRecord};
use ztoq_store::{runs, snapshot};
use ztoq_zephyr::ZephyrClient;

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

/// What an enqueue did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EnqueueReport {
    /// The run.
    pub run_id: i64,
    /// New records per kind (existing ones are not counted).
    pub inserted: HashMap<RecordKind, u64>,
    /// New records runnable at once.
    pub ready: u64,
    /// Records failed at enqueue (their source is inconsistent).
    pub failed: u64,
    /// Wall time.
    pub elapsed_secs: f64,
}

struct Tally {
    inserted: HashMap<RecordKind, u64>,
    ready: u64,
    failed: u64,
}

impl Tally {
    fn add(&mut self, kind: RecordKind, i: Inserted) {
        *self.inserted.entry(kind).or_default() += i.inserted;
        self.ready += i.ready;
        self.failed += i.missing_parent;
    }
}

/// Runs an enqueue against `pool` (already migrated).
pub async fn enqueue(
    config: &EnqueueConfig,
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
    zephyr.healthcheck().await.map_err(EnqueueError::zephyr)?;
    let qtest = QtestClient::connect(
        &config.qtest_url,
        config.qtest_project_id,
        config.qtest_auth.clone(),
        &config.http,
    )
    .await
    .map_err(EnqueueError::qtest)?;
    let key = config.project_key.as_str();
    let (project, settings, execution_statuses) = resolve_settings(&zephyr, &qtest, key).await?;
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
        let values = zephyr
            .statuses(key, status_type)
            .await
            .map_err(EnqueueError::zephyr)?;
        snapshot::save_lookups(&mut conn, run_id, "status", status_type, &values).await?;
    }
    let priorities = zephyr.priorities(key).await.map_err(EnqueueError::zephyr)?;
    snapshot::save_lookups(&mut conn, run_id, "priority", "", &priorities).await?;
    let environments = zephyr
        .environments(key)
        .await
        .map_err(EnqueueError::zephyr)?;
    snapshot::save_lookups(&mut conn, run_id, "environment", "", &environments).await?;
    drop(conn);

    let mut tally = Tally {
        inserted: HashMap::new(),
        ready: 0,
        failed: 0,
    };

    // Folders: all of them, then one batch per tree (a child may be listed before its parent).
    let mut folders: Vec<Folder> = Vec::new();
    let mut pager = zephyr.folders(key);
    while let Some(page) = pager.next_page().await.map_err(EnqueueError::zephyr)? {
        folders.extend(page);
    }
    for (folder_type, kind) in [
        ("TEST_CASE", RecordKind::Folder),
        ("TEST_CYCLE", RecordKind::CycleFolder),
    ] {
        let tree: Vec<&Folder> = folders
            .iter()
            .filter(|f| f.folder_type == folder_type)
            .collect();
        let new: Vec<NewRecord> = tree
            .iter()
            .map(|f| NewRecord {
                source_id: f.id,
                source_key: format!("{} (#{})", f.name, f.id),
            })
            .collect();
        let deps: Vec<NewDep> = tree
            .iter()
            .filter_map(|f| {
                f.parent_id.map(|p| NewDep {
                    child_source_id: f.id,
                    parent_kind: kind,
                    parent_source_id: p,
                })
            })
            .collect();
        let owned: Vec<Folder> = tree.into_iter().cloned().collect();
        let inserted = in_tx!(pool, |tx| {
            snapshot::save_folders(tx, run_id, &owned).await?;
            records::insert_records(tx, run_id, kind, &new, &deps).await
        })?;
        tally.add(kind, inserted);
    }
    drop(folders);

    // Test cases, page by page, each waiting for its folder.
    let mut pager = zephyr.test_cases(key);
    while let Some(page) = pager.next_page().await.map_err(EnqueueError::zephyr)? {
        let (new, deps) = records_in_folders(&page, RecordKind::Folder, |c| {
            (c.id, &c.key, c.folder.as_ref().map(|f| f.id))
        });
        let inserted = in_tx!(pool, |tx| {
            snapshot::save_test_cases(tx, run_id, &page).await?;
            records::insert_records(tx, run_id, RecordKind::TestCase, &new, &deps).await
        })?;
        tally.add(RecordKind::TestCase, inserted);
    }

    // Test cycles, each waiting for its cycle folder.
    let mut pager = zephyr.test_cycles(key);
    while let Some(page) = pager.next_page().await.map_err(EnqueueError::zephyr)? {
        let (new, deps) = records_in_folders(&page, RecordKind::CycleFolder, |c| {
            (c.id, &c.key, c.folder.as_ref().map(|f| f.id))
        });
        let inserted = in_tx!(pool, |tx| {
            snapshot::save_test_cycles(tx, run_id, &page).await?;
            records::insert_records(tx, run_id, RecordKind::TestCycle, &new, &deps).await
        })?;
        tally.add(RecordKind::TestCycle, inserted);
    }

    // Executions: each waits for its test case, its cycle and the previous execution of the
    // same pair (whose test run it shares).
    let mut pager = zephyr.executions(key);
    while let Some(page) = pager.next_page().await.map_err(EnqueueError::zephyr)? {
        let (inserted, failed) = in_tx!(pool, |tx| enqueue_executions(tx, run_id, &page).await)?;
        tally.add(RecordKind::Execution, inserted);
        tally.failed += failed;
    }

    let mut conn = pool.acquire().await?;
    runs::mark_enqueued(&mut conn, run_id).await?;
    let report = EnqueueReport {
        run_id,
        inserted: tally.inserted,
        ready: tally.ready,
        failed: tally.failed,
        elapsed_secs: started.elapsed().as_secs_f64(),
    };
    info!(
        run_id,
        elapsed_secs = report.elapsed_secs,
        "enqueue finished"
    );
    Ok(report)
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
            source_key: key.clone(),
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

/// The source key of an execution: its key, or `#id`.
fn execution_key(e: &TestExecution) -> String {
    e.key
        .clone()
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| format!("#{}", e.id))
}

async fn enqueue_executions(
    tx: &mut sqlx::PgConnection,
    run_id: i64,
    page: &[TestExecution],
) -> Result<(Inserted, u64), sqlx::Error> {
    snapshot::save_executions(tx, run_id, page).await?;
    let keys: Vec<String> = page
        .iter()
        .filter_map(|e| e.test_case_key_and_version().map(|(k, _)| k))
        .collect();
    let case_ids = snapshot::test_case_ids_by_keys(tx, run_id, &keys).await?;
    let ids: Vec<i64> = page.iter().map(|e| e.id).collect();
    let previous = snapshot::previous_executions(tx, run_id, &ids).await?;
    let new: Vec<NewRecord> = page
        .iter()
        .map(|e| NewRecord {
            source_id: e.id,
            source_key: execution_key(e),
        })
        .collect();
    let mut deps = Vec::new();
    let mut bad: Vec<(i64, String)> = Vec::new();
    for e in page {
        let key = execution_key(e);
        match e.test_case_key_and_version() {
            None => bad.push((e.id, format!("execution {key}: testCase.self does not name a test case version: {:?}", e.test_case.self_url))),
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
