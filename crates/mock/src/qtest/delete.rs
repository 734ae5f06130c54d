//! Deletes, as qTest does them: a module or test cycle that holds anything is refused (400)
//! unless `force=true`, which removes the whole subtree; deleting a test case also deletes its
//! steps, its attachments and its test runs; deleting a test run also deletes its test logs
//! (qTest has no delete for a single log) with their step logs and attachments. A missing
//! object is a 404, so a client repeating a delete sees "already gone".
//!
//! Invariant: after any delete, every index of the store (children lists, pid lists, search
//! index, runs by parent and by case, attachment count) holds only existing objects, so
//! `/__mock/summary` counts what a client can still read.

use super::QtestState;
use super::error::{MockError, MockResult, bool_param};
use super::routes_design::{Params, case_id, check_project};
use super::state::{Kind, Parent, Store, Target};
use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Serialize;
use std::sync::Arc;

/// qTest's `Message` answer to a successful delete.
#[derive(Debug, Serialize)]
pub(crate) struct DeletedOut {
    message: String,
}

pub(crate) fn deleted(message: String) -> Json<DeletedOut> {
    Json(DeletedOut { message })
}

/// Removes `id` from a list of ids (kept in ascending order by creation).
fn remove_id(ids: &mut Vec<i64>, id: i64) {
    match ids.binary_search(&id) {
        Ok(at) => {
            ids.remove(at);
        }
        Err(_) => ids.retain(|&x| x != id),
    }
}

impl Store {
    /// `DELETE …/modules/{id}[?force=true]`.
    pub fn delete_module(&mut self, id: i64, force: bool) -> MockResult<()> {
        let m = self
            .modules
            .get(&id)
            .ok_or_else(|| MockError::not_found(format!("Module {id} does not exist")))?;
        if !force && (!m.children.is_empty() || !m.cases.is_empty()) {
            return Err(MockError::bad_request(format!(
                "Module MD-{} contains sub modules or test cases; delete them first or use force=true",
                m.pid_no
            )));
        }
        self.remove_module_tree(id);
        Ok(())
    }

    /// `DELETE …/test-cases/{id}`.
    pub fn delete_case(&mut self, id: i64) -> MockResult<()> {
        if !self.cases.contains_key(&id) {
            return Err(MockError::not_found(format!(
                "Test case {id} does not exist"
            )));
        }
        self.remove_case(id);
        Ok(())
    }

    /// `DELETE …/test-cycles/{id}[?force=true]`.
    pub fn delete_cycle(&mut self, id: i64, force: bool) -> MockResult<()> {
        let c = self
            .cycles
            .get(&id)
            .ok_or_else(|| MockError::not_found(format!("Test cycle {id} does not exist")))?;
        let has_runs = self
            .runs_by_parent
            .get(&Parent::Cycle(id))
            .is_some_and(|r| !r.is_empty());
        if !force && (!c.children.is_empty() || has_runs) {
            return Err(MockError::bad_request(format!(
                "Test cycle CL-{} contains test cycles or test runs; delete them first or use force=true",
                c.pid_no
            )));
        }
        self.remove_cycle_tree(id);
        Ok(())
    }

    /// `DELETE …/test-runs/{id}`.
    pub fn delete_run(&mut self, id: i64) -> MockResult<()> {
        if !self.runs.contains_key(&id) {
            return Err(MockError::not_found(format!(
                "Test run {id} does not exist"
            )));
        }
        self.remove_run(id);
        Ok(())
    }

    /// `DELETE …/{objectType}/{objectId}/blob-handles/{id}`.
    pub fn delete_attachment(
        &mut self,
        target: Target,
        object_id: i64,
        attachment_id: i64,
    ) -> MockResult<()> {
        let key = (target, object_id);
        let list = self.attachments.get_mut(&key);
        let at = list
            .as_ref()
            .and_then(|l| l.iter().position(|a| a.id == attachment_id))
            .ok_or_else(|| {
                MockError::not_found(format!(
                    "Attachment {attachment_id} does not exist on object {object_id}"
                ))
            })?;
        if let Some(list) = list {
            list.remove(at);
            if list.is_empty() {
                self.attachments.remove(&key);
            }
            self.attachment_count = self.attachment_count.saturating_sub(1);
        }
        Ok(())
    }

    fn drop_attachments(&mut self, target: Target, id: i64) {
        if let Some(list) = self.attachments.remove(&(target, id)) {
            self.attachment_count = self.attachment_count.saturating_sub(list.len() as u64);
        }
    }

    fn remove_module_tree(&mut self, id: i64) {
        let Some(m) = self.modules.remove(&id) else {
            return;
        };
        match m.parent.and_then(|p| self.modules.get_mut(&p)) {
            Some(parent) => remove_id(&mut parent.children, id),
            None => remove_id(&mut self.root_modules, id),
        }
        if self.api_module == Some(id) {
            self.api_module = None;
        }
        for case in m.cases {
            self.remove_case(case);
        }
        for child in m.children {
            self.remove_module_tree(child);
        }
    }

    fn remove_case(&mut self, id: i64) {
        let Some(case) = self.cases.remove(&id) else {
            return;
        };
        if let Some(m) = self.modules.get_mut(&case.module) {
            remove_id(&mut m.cases, id);
        }
        remove_id(&mut self.case_ids, id);
        self.index_remove(Kind::Case, id, &case.name, &case.props);
        self.drop_attachments(Target::Case, id);
        for step in &case.steps {
            self.step_case.remove(&step.id);
            self.drop_attachments(Target::Step, step.id);
        }
        for run in self.runs_by_case.remove(&id).unwrap_or_default() {
            self.remove_run(run);
        }
    }

    fn remove_cycle_tree(&mut self, id: i64) {
        let Some(cycle) = self.cycles.remove(&id) else {
            return;
        };
        match cycle.parent.and_then(|p| self.cycles.get_mut(&p)) {
            Some(parent) => remove_id(&mut parent.children, id),
            None => remove_id(&mut self.root_cycles, id),
        }
        remove_id(&mut self.cycle_ids, id);
        self.index_remove(Kind::Cycle, id, &cycle.name, &[]);
        for run in self
            .runs_by_parent
            .remove(&Parent::Cycle(id))
            .unwrap_or_default()
        {
            self.remove_run(run);
        }
        for child in cycle.children {
            self.remove_cycle_tree(child);
        }
    }

    fn remove_run(&mut self, id: i64) {
        let Some(run) = self.runs.remove(&id) else {
            return;
        };
        if let Some(list) = self.runs_by_parent.get_mut(&run.parent) {
            remove_id(list, id);
            if list.is_empty() {
                self.runs_by_parent.remove(&run.parent);
            }
        }
        if let Some(list) = self.runs_by_case.get_mut(&run.case) {
            remove_id(list, id);
            if list.is_empty() {
                self.runs_by_case.remove(&run.case);
            }
        }
        remove_id(&mut self.run_ids, id);
        self.index_remove(Kind::Run, id, &run.name, &run.props);
        for log in run.logs {
            self.remove_log(log);
        }
    }

    fn remove_log(&mut self, id: i64) {
        let Some(log) = self.logs.remove(&id) else {
            return;
        };
        self.drop_attachments(Target::Log, id);
        for step_log in &log.step_logs {
            self.step_log_owner.remove(&step_log.id);
            self.drop_attachments(Target::StepLog, step_log.id);
        }
    }
}

/// `DELETE …/modules/{moduleId}[?force=true]` → 200 `Message`.
pub(crate) async fn module(
    State(state): State<Arc<QtestState>>,
    Path((project, id)): Path<(i64, i64)>,
    Query(params): Params,
) -> MockResult<Json<DeletedOut>> {
    check_project(&state, project)?;
    let force = bool_param(&params, "force", false)?;
    state.write().delete_module(id, force)?;
    Ok(deleted(format!("Module {id} deleted")))
}

/// `DELETE …/test-cases/{testCaseId}` → 200.
pub(crate) async fn case(
    State(state): State<Arc<QtestState>>,
    Path((project, id_or_pid)): Path<(i64, String)>,
) -> MockResult<Json<DeletedOut>> {
    check_project(&state, project)?;
    let mut store = state.write();
    let id = case_id(&store, &id_or_pid)
        .ok_or_else(|| MockError::not_found(format!("Test case {id_or_pid} does not exist")))?;
    store.delete_case(id)?;
    Ok(deleted(format!("Test case {id} deleted")))
}

/// `DELETE …/test-cycles/{testCycleId}[?force=true]` → 200 `Message`.
pub(crate) async fn cycle(
    State(state): State<Arc<QtestState>>,
    Path((project, id)): Path<(i64, i64)>,
    Query(params): Params,
) -> MockResult<Json<DeletedOut>> {
    check_project(&state, project)?;
    let force = bool_param(&params, "force", false)?;
    state.write().delete_cycle(id, force)?;
    Ok(deleted(format!("Test cycle {id} deleted")))
}

/// `DELETE …/test-runs/{testRunId}` → 200 `Message` (its test logs go with it).
pub(crate) async fn run(
    State(state): State<Arc<QtestState>>,
    Path((project, id)): Path<(i64, i64)>,
) -> MockResult<Json<DeletedOut>> {
    check_project(&state, project)?;
    state.write().delete_run(id)?;
    Ok(deleted(format!("Test run {id} deleted")))
}
