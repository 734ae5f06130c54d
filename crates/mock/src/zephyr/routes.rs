//! `/v2` handlers for the project, folders, lookups, test cases and test steps. Cycles and
//! executions live in [`super::executions`], attachments in [`super::attachments`].

use super::ZephyrState;
use super::hostile::{self, REPEAT};
use super::layout::ids;
use super::paging::{Ctx, MockError};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

type Result<T = Response> = std::result::Result<T, MockError>;

/// `GET /healthcheck`.
pub(crate) async fn healthcheck() -> StatusCode {
    StatusCode::OK
}

/// 404 unless the `projectKey` filter (when given) names the mock's project.
pub(crate) fn check_project(state: &ZephyrState, ctx: &Ctx) -> Result<()> {
    match ctx.param("projectKey") {
        Some(key) if key != state.data.key => Err(MockError::not_found(format!(
            "Project '{key}' does not exist or is not enabled"
        ))),
        _ => Ok(()),
    }
}

/// `GET /projects`.
pub(crate) async fn list_projects(State(state): State<Arc<ZephyrState>>, ctx: Ctx) -> Result {
    ctx.offset_page(1, |_| state.data.project())
}

/// `GET /projects/{projectIdOrKey}`.
pub(crate) async fn get_project(
    State(state): State<Arc<ZephyrState>>,
    Path(id_or_key): Path<String>,
) -> Result {
    let project = state.data.project();
    if id_or_key == project.key || id_or_key == project.id.to_string() {
        Ok(Json(project).into_response())
    } else {
        Err(MockError::not_found(format!(
            "Project '{id_or_key}' does not exist"
        )))
    }
}

/// `GET /folders` (`projectKey`, `folderType`, offset paging).
pub(crate) async fn list_folders(State(state): State<Arc<ZephyrState>>, ctx: Ctx) -> Result {
    check_project(&state, &ctx)?;
    if hostile::serves(&state, &ctx, &["folderType"]) {
        let data = &state.data;
        let page = ctx.offset_body(data.hostile_folder_count(), REPEAT, |i| {
            data.hostile_folder(i, &ctx.api)
        })?;
        return Ok(hostile::respond(data, &page));
    }
    let layout = &state.data.layout;
    let (tc, cy) = (layout.case_tree.count(), layout.cycle_tree.count());
    let range = match ctx.param("folderType") {
        None => 0..layout.folders(),
        Some("TEST_CASE") => 0..tc,
        Some("TEST_CYCLE") => tc..tc + cy,
        Some("TEST_PLAN") => tc + cy..layout.folders(),
        Some(other) => {
            return Err(MockError::bad_request(format!(
                "Invalid folderType '{other}'"
            )));
        }
    };
    ctx.offset_page(range.end - range.start, |i| {
        state.data.folder(range.start + i, &ctx.api)
    })
}

/// `GET /folders/{folderId}`.
pub(crate) async fn get_folder(
    State(state): State<Arc<ZephyrState>>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result {
    let f = id
        .parse::<i64>()
        .ok()
        .and_then(|id| u64::try_from(id - ids::FOLDER).ok());
    if state.is_hostile()
        && let Some(f) = f.filter(|&f| f < state.data.hostile_folder_count())
    {
        return Ok(hostile::respond(
            &state.data,
            &state.data.hostile_folder(f, &ctx.api),
        ));
    }
    match f.filter(|&f| f < state.data.folder_count()) {
        Some(f) => Ok(Json(state.data.folder(f, &ctx.api)).into_response()),
        None => Err(MockError::not_found(format!("Folder '{id}' not found"))),
    }
}

/// `GET /statuses` (`projectKey`, `statusType`).
pub(crate) async fn list_statuses(State(state): State<Arc<ZephyrState>>, ctx: Ctx) -> Result {
    check_project(&state, &ctx)?;
    let status_type = ctx.param("statusType");
    if let Some(t) = status_type
        && !["TEST_CASE", "TEST_PLAN", "TEST_CYCLE", "TEST_EXECUTION"].contains(&t)
    {
        return Err(MockError::bad_request(format!("Invalid statusType '{t}'")));
    }
    let all = state.data.statuses(status_type, &ctx.api);
    ctx.offset_page(all.len() as u64, |i| all[i as usize].clone())
}

/// `GET /priorities`.
pub(crate) async fn list_priorities(State(state): State<Arc<ZephyrState>>, ctx: Ctx) -> Result {
    check_project(&state, &ctx)?;
    let all = state.data.priorities(&ctx.api);
    ctx.offset_page(all.len() as u64, |i| all[i as usize].clone())
}

/// `GET /environments`.
pub(crate) async fn list_environments(State(state): State<Arc<ZephyrState>>, ctx: Ctx) -> Result {
    check_project(&state, &ctx)?;
    let all = state.data.environments(&ctx.api);
    ctx.offset_page(all.len() as u64, |i| all[i as usize].clone())
}

/// Test-case indices of the `folderId` filter, when given.
fn cases_in_folder(state: &ZephyrState, ctx: &Ctx) -> Result<Option<Vec<u64>>> {
    let Some(folder_id) = ctx.number("folderId")? else {
        return Ok(None);
    };
    let layout = &state.data.layout;
    let folders = layout.case_tree.count();
    let f = folder_id
        .checked_sub(ids::FOLDER as u64)
        .filter(|&f| f < folders);
    let Some(f) = f else {
        return Ok(Some(Vec::new()));
    };
    let first = (f + folders - layout.rotation % folders) % folders;
    Ok(Some(
        (first..layout.cases).step_by(folders as usize).collect(),
    ))
}

/// `GET /testcases` (offset paging; `projectKey`, `folderId`).
pub(crate) async fn list_test_cases(State(state): State<Arc<ZephyrState>>, ctx: Ctx) -> Result {
    check_project(&state, &ctx)?;
    if hostile::serves(&state, &ctx, &["folderId"]) {
        let data = &state.data;
        let page = ctx.offset_body(data.hostile_case_count(), 0, |i| {
            data.hostile_case(i, &ctx.api)
        })?;
        return Ok(hostile::respond(data, &page));
    }
    match cases_in_folder(&state, &ctx)? {
        Some(list) => ctx.offset_page(list.len() as u64, |i| {
            state.data.test_case(list[i as usize], &ctx.api)
        }),
        None => ctx.offset_page(state.data.layout.cases, |i| {
            state.data.test_case(i, &ctx.api)
        }),
    }
}

/// `GET /testcases/nextgen` (cursor paging; `projectKey`, `folderId`).
pub(crate) async fn list_test_cases_nextgen(
    State(state): State<Arc<ZephyrState>>,
    ctx: Ctx,
) -> Result {
    check_project(&state, &ctx)?;
    if hostile::serves(&state, &ctx, &["folderId"]) {
        let data = &state.data;
        let page = ctx.cursor_body(ids::TEST_CASE, data.hostile_case_count(), 0, |i| {
            data.hostile_case(i, &ctx.api)
        })?;
        return Ok(hostile::respond(data, &page));
    }
    let build = |i| state.data.test_case(i, &ctx.api);
    match cases_in_folder(&state, &ctx)? {
        Some(list) => ctx.cursor_page_list(ids::TEST_CASE, &list, build),
        None => ctx.cursor_page(ids::TEST_CASE, state.data.layout.cases, build),
    }
}

fn case_index(state: &ZephyrState, key: &str) -> Result<u64> {
    state
        .data
        .test_case_index(key)
        .ok_or_else(|| MockError::not_found(format!("Test case '{key}' does not exist")))
}

/// `GET /testcases/{testCaseKey}`.
pub(crate) async fn get_test_case(
    State(state): State<Arc<ZephyrState>>,
    ctx: Ctx,
    Path(key): Path<String>,
) -> Result {
    if state.is_hostile()
        && let Some(j) = state.data.hostile_case_of(&key)
    {
        let i = state.data.layout.cases + j;
        return Ok(hostile::respond(
            &state.data,
            &state.data.hostile_case(i, &ctx.api),
        ));
    }
    let i = case_index(&state, &key)?;
    Ok(Json(state.data.test_case(i, &ctx.api)).into_response())
}

/// A complete, syntactically valid body whose `values` has the wrong type: serde rejects it
/// with a non-EOF error, i.e. a permanent decode failure.
pub(crate) const CORRUPT_BODY: &str = r#"{"startAt":0,"maxResults":10,"values":"garbage"}"#;

/// `GET /testcases/{testCaseKey}/teststeps` (offset paging).
pub(crate) async fn get_test_steps(
    State(state): State<Arc<ZephyrState>>,
    ctx: Ctx,
    Path(key): Path<String>,
) -> Result {
    if state.is_hostile()
        && let Some(j) = state.data.hostile_case_of(&key)
    {
        let steps = state.data.hostile_steps(j);
        let page = ctx.offset_body(steps.len() as u64, 0, |s| steps[s as usize].clone())?;
        return Ok(hostile::respond(&state.data, &page));
    }
    let i = case_index(&state, &key)?;
    if state.is_corrupt(&key) {
        return Ok(([(header::CONTENT_TYPE, "application/json")], CORRUPT_BODY).into_response());
    }
    ctx.offset_page(state.data.step_count(i), |s| state.data.test_step(i, s))
}

/// Fallback: `{errorCode: 404}` for any unknown path.
pub(crate) async fn not_found() -> MockError {
    MockError::not_found("No such resource")
}
