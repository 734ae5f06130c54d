//! `/v2` handlers for test cycles, test executions and execution steps.
//!
//! Unfiltered execution lists are pure id arithmetic; the `testCycle`, `testCase` and
//! `onlyLastExecutions` filters materialise only the matching indices (O(pairs per cycle) or
//! O(cycles), never O(project)), except `onlyLastExecutions` alone, which scans.

use super::ZephyrState;
use super::hostile::{self, REPEAT};
use super::layout::ids;
use super::paging::{Ctx, MockError};
use super::routes::check_project;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

type Result<T = Response> = std::result::Result<T, MockError>;

/// Cycle indices matching the `folderId` filter, or all.
fn cycles_matching(state: &ZephyrState, ctx: &Ctx) -> Result<Vec<u64>> {
    let all = 0..state.data.layout.cycles;
    Ok(match ctx.number("folderId")? {
        None => all.collect(),
        Some(id) => {
            let f = id.checked_sub(ids::FOLDER as u64);
            all.filter(|&c| f.is_some() && state.data.cycle_folder(c) == f)
                .collect()
        }
    })
}

/// `GET /testcycles` (offset paging; `projectKey`, `folderId`).
pub(crate) async fn list_test_cycles(State(state): State<Arc<ZephyrState>>, ctx: Ctx) -> Result {
    check_project(&state, &ctx)?;
    if hostile::serves(&state, &ctx, &["folderId"]) {
        let data = &state.data;
        let page = ctx.offset_body(data.layout.cycles + 1, 0, |i| {
            data.hostile_cycle(i, &ctx.api)
        })?;
        return Ok(hostile::respond(data, &page));
    }
    let list = cycles_matching(&state, &ctx)?;
    ctx.offset_page(list.len() as u64, |i| {
        state.data.test_cycle(list[i as usize], &ctx.api)
    })
}

/// `GET /testcycles/{testCycleIdOrKey}`.
pub(crate) async fn get_test_cycle(
    State(state): State<Arc<ZephyrState>>,
    ctx: Ctx,
    Path(id_or_key): Path<String>,
) -> Result {
    let c = state
        .data
        .test_cycle_index(&id_or_key)
        .ok_or_else(|| MockError::not_found(format!("Test cycle '{id_or_key}' does not exist")))?;
    Ok(Json(state.data.test_cycle(c, &ctx.api)).into_response())
}

/// The executions selected by the filters, or `None` for "all" (served by arithmetic).
fn executions_matching(state: &ZephyrState, ctx: &Ctx) -> Result<Option<Vec<u64>>> {
    check_project(state, ctx)?;
    let data = &state.data;
    let only_last = match ctx.param("onlyLastExecutions") {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => {
            return Err(MockError::bad_request(format!(
                "onlyLastExecutions must be a boolean, got '{v}'"
            )));
        }
    };
    let cycle =
        match ctx.param("testCycle") {
            None => None,
            Some(v) => Some(data.test_cycle_index(v).ok_or_else(|| {
                MockError::bad_request(format!("Test cycle '{v}' does not exist"))
            })?),
        };
    let case = match ctx.param("testCase") {
        None => None,
        Some(v) => {
            let by_id = v
                .parse::<i64>()
                .ok()
                .and_then(|id| u64::try_from(id - ids::TEST_CASE).ok());
            let i = by_id
                .filter(|&i| i < data.layout.cases)
                .or_else(|| data.test_case_index(v));
            Some(
                i.ok_or_else(|| MockError::bad_request(format!("Test case '{v}' does not exist")))?,
            )
        }
    };
    let mut list = match (cycle, case) {
        (None, None) if !only_last => return Ok(None),
        (None, None) => (0..data.layout.executions).collect(),
        (Some(c), None) => data.layout.executions_of_cycle(c),
        (_, Some(k)) => {
            let mut l = data.layout.executions_of_case(k);
            if let Some(c) = cycle {
                l.retain(|&e| data.execution_target(e).0 == c);
            }
            l
        }
    };
    if only_last {
        let runs = &data.layout.runs;
        list.retain(|&e| runs.items_of(runs.holder_of_item(e)).end == e + 1);
    }
    Ok(Some(list))
}

/// `GET /testexecutions` (offset paging; `projectKey`, `testCycle`, `testCase`,
/// `onlyLastExecutions`).
pub(crate) async fn list_executions(State(state): State<Arc<ZephyrState>>, ctx: Ctx) -> Result {
    if hostile::serves(&state, &ctx, FILTERS) {
        check_project(&state, &ctx)?;
        let data = &state.data;
        let page = ctx.offset_body(data.hostile_execution_count(), 0, |e| {
            data.hostile_execution(e, &ctx.api)
        })?;
        return Ok(hostile::respond(data, &page));
    }
    match executions_matching(&state, &ctx)? {
        Some(list) => ctx.offset_page(list.len() as u64, |i| {
            state.data.execution(list[i as usize], &ctx.api)
        }),
        None => ctx.offset_page(state.data.layout.executions, |e| {
            state.data.execution(e, &ctx.api)
        }),
    }
}

/// `GET /testexecutions/nextgen` (cursor paging; same filters).
pub(crate) async fn list_executions_nextgen(
    State(state): State<Arc<ZephyrState>>,
    ctx: Ctx,
) -> Result {
    if hostile::serves(&state, &ctx, FILTERS) {
        check_project(&state, &ctx)?;
        let data = &state.data;
        let page = ctx.cursor_body(
            ids::EXECUTION,
            data.hostile_execution_count(),
            REPEAT,
            |e| data.hostile_execution(e, &ctx.api),
        )?;
        return Ok(hostile::respond(data, &page));
    }
    let build = |e| state.data.execution(e, &ctx.api);
    match executions_matching(&state, &ctx)? {
        Some(list) => ctx.cursor_page_list(ids::EXECUTION, &list, build),
        None => ctx.cursor_page(ids::EXECUTION, state.data.layout.executions, build),
    }
}

pub(crate) fn execution_index(state: &ZephyrState, id_or_key: &str) -> Result<u64> {
    state
        .data
        .execution_index(id_or_key)
        .ok_or_else(|| MockError::not_found(format!("Test execution '{id_or_key}' does not exist")))
}

/// The list filters of executions.
const FILTERS: &[&str] = &["testCycle", "testCase", "onlyLastExecutions"];

/// `GET /testexecutions/{testExecutionIdOrKey}`.
pub(crate) async fn get_execution(
    State(state): State<Arc<ZephyrState>>,
    ctx: Ctx,
    Path(id_or_key): Path<String>,
) -> Result {
    if state.is_hostile()
        && let Some(j) = state.data.hostile_execution_of(&id_or_key)
    {
        let e = state.data.layout.executions + j;
        return Ok(hostile::respond(
            &state.data,
            &state.data.hostile_execution(e, &ctx.api),
        ));
    }
    let e = execution_index(&state, &id_or_key)?;
    Ok(Json(state.data.execution(e, &ctx.api)).into_response())
}

/// `GET /testexecutions/{testExecutionIdOrKey}/teststeps` (offset paging).
pub(crate) async fn get_execution_steps(
    State(state): State<Arc<ZephyrState>>,
    ctx: Ctx,
    Path(id_or_key): Path<String>,
) -> Result {
    if state.is_hostile()
        && let Some(j) = state.data.hostile_execution_of(&id_or_key)
    {
        let steps = state.data.hostile_execution_steps(j, &ctx.api);
        let page = ctx.offset_body(steps.len() as u64, 0, |s| steps[s as usize].clone())?;
        return Ok(hostile::respond(&state.data, &page));
    }
    let e = execution_index(&state, &id_or_key)?;
    let (_, k) = state.data.execution_target(e);
    ctx.offset_page(state.data.step_count(k), |s| {
        state.data.execution_step(e, s, &ctx.api)
    })
}
