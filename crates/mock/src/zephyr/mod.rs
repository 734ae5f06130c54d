//! Mock Zephyr Scale Cloud v2 server: a deterministic project generated lazily from
//! `(seed, scale)`, served on the real `/v2` paths with the real paging, error bodies and
//! bearer auth, plus mock-only controls under `/__mock`.
//!
//! Invariant: the project is never materialised. Entity `i` of every type is computed from
//! `(seed, i)` in O(1) (see `layout` and `generate`), so a 500,000-record project costs a few
//! integers and any page costs O(page size). The only mutable state is the small set of
//! corrupted test cases and the hostile-mode switch (see `hostile`: one of each kind of
//! broken source data, planted after the base project).
//!
//! Routes (all `GET` under `/v2` need `Authorization: Bearer <token>`):
//! `/healthcheck`, `/projects`, `/projects/{idOrKey}`, `/folders`, `/folders/{id}`,
//! `/statuses`, `/priorities`, `/environments`, `/testcases`, `/testcases/nextgen`,
//! `/testcases/{key}`, `/testcases/{key}/teststeps`, `/testcases/{key}/attachments[/{id}]`,
//! `/testcycles`, `/testcycles/{idOrKey}`, `/testexecutions`, `/testexecutions/nextgen`,
//! `/testexecutions/{idOrKey}`, `/testexecutions/{idOrKey}/teststeps`,
//! `/testexecutions/{idOrKey}/attachments[/{id}]`; controls: `GET /__mock/summary`,
//! `POST /__mock/corrupt` `{"testCaseKey": …}`, `DELETE /__mock/corrupt`,
//! `GET /__mock/hostile` (the plan), `POST /__mock/hostile` (on), `DELETE /__mock/hostile` (off).

mod attachments;
mod auth;
mod content;
mod controls;
mod executions;
mod generate;
mod hostile;
mod layout;
mod paging;
mod routes;

pub use generate::Dataset;
pub use hostile::{BIG_TEXT_BYTES, HUGE_ATTACHMENT_BYTES, HostilePlan, REPEAT};
pub use layout::MAX_SCALE;

use axum::Router;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// What to generate and how to authenticate.
#[derive(Debug, Clone)]
pub struct ZephyrMockConfig {
    /// Seed of the generated project: same seed and scale, same project.
    pub seed: u64,
    /// About the number of migratable records (folders, cases, cycles, executions,
    /// attachments); capped at [`MAX_SCALE`].
    pub scale: u64,
    /// Project key, e.g. `ACME`.
    pub project_key: String,
    /// The bearer token requests must carry.
    pub token: String,
    /// Origin for absolute `self`/`next` URLs (with or without `/v2`); by default taken from
    /// the request's `Host` header, else `http://127.0.0.1`.
    pub base_url: Option<String>,
}

impl Default for ZephyrMockConfig {
    fn default() -> Self {
        ZephyrMockConfig {
            seed: 1,
            scale: 1000,
            project_key: "ACME".to_string(),
            token: "zephyr-mock-token".to_string(),
            base_url: None,
        }
    }
}

/// How many entities of each kind the generated project holds.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Summary {
    /// Folders of the `TEST_CASE` tree.
    pub test_case_folders: u64,
    /// Folders of the `TEST_CYCLE` tree.
    pub test_cycle_folders: u64,
    /// Folders of the `TEST_PLAN` tree (ztoq skips them).
    pub test_plan_folders: u64,
    /// Test cases.
    pub test_cases: u64,
    /// Inline steps over all test cases.
    pub test_steps: u64,
    /// Test cycles.
    pub test_cycles: u64,
    /// Test executions.
    pub executions: u64,
    /// Step results over all executions.
    pub execution_steps: u64,
    /// Attachments of test cases.
    pub test_case_attachments: u64,
    /// Attachments of executions.
    pub execution_attachments: u64,
}

/// The mock's shared state: the lazy project and the runtime controls.
#[derive(Debug)]
pub struct ZephyrState {
    config: ZephyrMockConfig,
    data: Dataset,
    summary: Summary,
    corrupt: Mutex<HashSet<String>>,
    hostile: AtomicBool,
}

impl ZephyrState {
    /// Lays out the project (O(test cases + executions) integer work to count steps; no
    /// entity is stored).
    pub fn new(config: ZephyrMockConfig) -> Arc<Self> {
        let data = Dataset::new(config.seed, config.scale, &config.project_key);
        let summary = summarise(&data);
        Arc::new(ZephyrState {
            config,
            data,
            summary,
            corrupt: Mutex::new(HashSet::new()),
            hostile: AtomicBool::new(false),
        })
    }

    /// Entity counts.
    pub fn summary(&self) -> Summary {
        self.summary.clone()
    }

    /// The generated project, to compute expected entities in tests.
    pub fn dataset(&self) -> &Dataset {
        &self.data
    }

    /// The configuration.
    pub fn config(&self) -> &ZephyrMockConfig {
        &self.config
    }

    /// Makes `GET /testcases/{key}/teststeps` answer a complete but invalid body.
    pub fn corrupt_test_steps(&self, test_case_key: &str) {
        self.corrupt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(test_case_key.to_string());
    }

    /// Clears every corruption.
    pub fn clear_corruptions(&self) {
        self.corrupt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Turns hostile mode on or off: the base project plus one of each kind of broken or
    /// hostile source data ([`HostilePlan`]); [`ZephyrState::summary`] keeps counting the
    /// base project only.
    pub fn set_hostile(&self, on: bool) {
        self.hostile.store(on, Ordering::SeqCst);
    }

    /// Whether hostile mode is on.
    pub fn is_hostile(&self) -> bool {
        self.hostile.load(Ordering::SeqCst)
    }

    /// What hostile mode plants (whether or not it is on).
    pub fn hostile_plan(&self) -> HostilePlan {
        self.data.hostile_plan()
    }

    fn is_corrupt(&self, test_case_key: &str) -> bool {
        self.corrupt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(test_case_key)
    }
}

fn summarise(data: &Dataset) -> Summary {
    let l = &data.layout;
    let test_steps = (0..l.cases).map(|i| data.step_count(i)).sum();
    let execution_steps = (0..l.pairs)
        .map(|p| data.step_count(l.pair(p).1) * (l.runs.items_of(p).end - l.runs.items_of(p).start))
        .sum();
    Summary {
        test_case_folders: l.case_tree.count(),
        test_cycle_folders: l.cycle_tree.count(),
        test_plan_folders: l.plan_folders,
        test_cases: l.cases,
        test_steps,
        test_cycles: l.cycles,
        executions: l.executions,
        execution_steps,
        test_case_attachments: l.case_attachments.items(),
        execution_attachments: l.execution_attachments.items(),
    }
}

/// The mock's router: `/v2/...` (bearer auth) and `/__mock/...` (no auth).
pub fn router(state: Arc<ZephyrState>) -> Router {
    use {attachments as att, executions as ex, routes as r};
    let api = Router::new()
        .route("/healthcheck", get(r::healthcheck))
        .route("/projects", get(r::list_projects))
        .route("/projects/{projectIdOrKey}", get(r::get_project))
        .route("/folders", get(r::list_folders))
        .route("/folders/{folderId}", get(r::get_folder))
        .route("/statuses", get(r::list_statuses))
        .route("/priorities", get(r::list_priorities))
        .route("/environments", get(r::list_environments))
        .route("/testcases", get(r::list_test_cases))
        .route("/testcases/nextgen", get(r::list_test_cases_nextgen))
        .route("/testcases/{testCaseKey}", get(r::get_test_case))
        .route("/testcases/{testCaseKey}/teststeps", get(r::get_test_steps))
        .route(
            "/testcases/{testCaseKey}/attachments",
            get(att::list_test_case),
        )
        .route(
            "/testcases/{testCaseKey}/attachments/{attachmentId}",
            get(att::get_test_case),
        )
        .route("/testcycles", get(ex::list_test_cycles))
        .route("/testcycles/{testCycleIdOrKey}", get(ex::get_test_cycle))
        .route("/testexecutions", get(ex::list_executions))
        .route("/testexecutions/nextgen", get(ex::list_executions_nextgen))
        .route(
            "/testexecutions/{testExecutionIdOrKey}",
            get(ex::get_execution),
        )
        .route(
            "/testexecutions/{testExecutionIdOrKey}/teststeps",
            get(ex::get_execution_steps),
        )
        .route(
            "/testexecutions/{testExecutionIdOrKey}/attachments",
            get(att::list_execution),
        )
        .route(
            "/testexecutions/{testExecutionIdOrKey}/attachments/{attachmentId}",
            get(att::get_execution),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_bearer,
        ));
    Router::new()
        .nest("/v2", api)
        .route("/__mock/summary", get(controls::summary))
        .route(
            "/__mock/corrupt",
            axum::routing::post(controls::corrupt).delete(controls::clear),
        )
        .route(
            "/__mock/hostile",
            get(controls::hostile_plan)
                .post(controls::hostile_on)
                .delete(controls::hostile_off),
        )
        .fallback(r::not_found)
        .with_state(state)
}

#[cfg(test)]
mod tests;
