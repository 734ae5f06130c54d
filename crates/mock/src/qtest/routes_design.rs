//! Test-design routes: project, field settings, execution statuses, modules and test cases.

use super::QtestState;
use super::error::{MockError, MockResult, PageRequest, bool_param, int_param, param, parse_body};
use super::fields::{FieldDef, StatusDef};
use super::render::Render;
use super::state::Store;
use super::wire::{CaseIn, CaseOut, ModuleIn, ModuleOut, ProjectOut};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Query parameters as pairs, in order.
pub(crate) type Params = Query<Vec<(String, String)>>;

/// 404 unless `project` is the mock's project.
pub(crate) fn check_project(state: &QtestState, project: i64) -> MockResult<()> {
    if project == state.config().project_id {
        Ok(())
    } else {
        Err(MockError::not_found(format!(
            "Project {project} does not exist"
        )))
    }
}

/// A renderer over a locked store.
pub(crate) fn render<'a>(state: &'a QtestState, store: &'a Store) -> Render<'a> {
    Render {
        store,
        project: state.config().project_id,
        username: &state.config().username,
    }
}

fn project_out(state: &QtestState) -> ProjectOut {
    let c = state.config();
    ProjectOut {
        id: c.project_id,
        name: c.project_name.clone(),
        description: String::new(),
        status_id: 101,
    }
}

/// `GET /api/v3/projects`.
pub(crate) async fn projects(State(state): State<Arc<QtestState>>) -> Json<Vec<ProjectOut>> {
    Json(vec![project_out(&state)])
}

/// `GET /api/v3/projects/{projectId}`.
pub(crate) async fn project(
    State(state): State<Arc<QtestState>>,
    Path(project): Path<i64>,
) -> MockResult<Json<ProjectOut>> {
    check_project(&state, project)?;
    Ok(Json(project_out(&state)))
}

/// `GET …/settings/{objectType}/fields[?includeInactive=true]`.
pub(crate) async fn fields(
    State(state): State<Arc<QtestState>>,
    Path((project, object_type)): Path<(i64, String)>,
    Query(params): Params,
) -> MockResult<Json<Vec<FieldDef>>> {
    check_project(&state, project)?;
    let include_inactive = bool_param(&params, "includeInactive", false)?;
    let store = state.read();
    let fields = store.fields_of(&object_type)?;
    Ok(Json(
        fields
            .iter()
            .filter(|f| include_inactive || f.is_active)
            .cloned()
            .collect(),
    ))
}

/// `POST …/settings/{objectType}/fields` → 201.
pub(crate) async fn create_field(
    State(state): State<Arc<QtestState>>,
    Path((project, object_type)): Path<(i64, String)>,
    body: Bytes,
) -> MockResult<(StatusCode, Json<FieldDef>)> {
    check_project(&state, project)?;
    let body = parse_body(&body)?;
    let field = state.write().create_field(&object_type, body)?;
    Ok((StatusCode::CREATED, Json(field)))
}

/// `GET …/test-runs/execution-statuses`.
pub(crate) async fn execution_statuses(
    State(state): State<Arc<QtestState>>,
    Path(project): Path<i64>,
) -> MockResult<Json<Vec<StatusDef>>> {
    check_project(&state, project)?;
    Ok(Json(state.read().statuses.clone()))
}

/// `POST …/modules?parentId=` → 201.
pub(crate) async fn create_module(
    State(state): State<Arc<QtestState>>,
    Path(project): Path<i64>,
    Query(params): Params,
    body: Bytes,
) -> MockResult<(StatusCode, Json<ModuleOut>)> {
    check_project(&state, project)?;
    let body: ModuleIn = parse_body(&body)?;
    let parent = int_param(&params, "parentId")?.or(body.parent_id);
    let mut store = state.write();
    let id = store.create_module(parent, body.name, body.description)?;
    let store = &*store;
    let module = store
        .modules
        .get(&id)
        .ok_or_else(|| MockError::not_found("module vanished"))?;
    Ok((
        StatusCode::CREATED,
        Json(render(&state, store).module(module, false)),
    ))
}

/// `GET …/modules?parentId=&search=&expand=descendants`.
pub(crate) async fn modules(
    State(state): State<Arc<QtestState>>,
    Path(project): Path<i64>,
    Query(params): Params,
) -> MockResult<Json<Vec<ModuleOut>>> {
    check_project(&state, project)?;
    let descendants = param(&params, "expand") == Some("descendants");
    let search = param(&params, "search")
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase);
    let store = state.read();
    let ids = match int_param(&params, "parentId")? {
        None => &store.root_modules,
        Some(p) => {
            &store
                .modules
                .get(&p)
                .ok_or_else(|| MockError::not_found(format!("Module {p} does not exist")))?
                .children
        }
    };
    let r = render(&state, &store);
    let out = ids
        .iter()
        .filter_map(|id| store.modules.get(id))
        .filter(|m| {
            search
                .as_ref()
                .is_none_or(|s| m.name.to_lowercase().contains(s))
        })
        .map(|m| r.module(m, descendants))
        .collect();
    Ok(Json(out))
}

/// `GET …/modules/{moduleId}[?expand=descendants]`.
pub(crate) async fn module(
    State(state): State<Arc<QtestState>>,
    Path((project, id)): Path<(i64, i64)>,
    Query(params): Params,
) -> MockResult<Json<ModuleOut>> {
    check_project(&state, project)?;
    let store = state.read();
    let m = store
        .modules
        .get(&id)
        .ok_or_else(|| MockError::not_found(format!("Module {id} does not exist")))?;
    Ok(Json(render(&state, &store).module(
        m,
        param(&params, "expand") == Some("descendants"),
    )))
}

/// `POST …/test-cases` → 200 (qTest answers 200 here, not 201).
pub(crate) async fn create_case(
    State(state): State<Arc<QtestState>>,
    Path(project): Path<i64>,
    body: Bytes,
) -> MockResult<Response> {
    check_project(&state, project)?;
    let body: CaseIn = parse_body(&body)?;
    let mut store = state.write();
    let id = store.create_case(body)?;
    let store = &*store;
    let case = store
        .cases
        .get(&id)
        .ok_or_else(|| MockError::not_found("test case vanished"))?;
    // Serialised here, while the store (which the answer borrows from) is locked.
    Ok(Json(render(&state, store).case(case, true, true)).into_response())
}

/// `GET …/test-cases?parentId=&page=&size=&expandSteps=&expandProps=` (a plain array).
pub(crate) async fn cases(
    State(state): State<Arc<QtestState>>,
    Path(project): Path<i64>,
    Query(params): Params,
) -> MockResult<Response> {
    check_project(&state, project)?;
    let page = PageRequest::from_params(&params, "size", 20, 999)?;
    let steps = bool_param(&params, "expandSteps", false)?;
    let props = bool_param(&params, "expandProps", true)?;
    let store = state.read();
    let ids = match int_param(&params, "parentId")? {
        None => &store.case_ids,
        Some(m) => {
            &store
                .modules
                .get(&m)
                .ok_or_else(|| MockError::not_found(format!("Module {m} does not exist")))?
                .cases
        }
    };
    let r = render(&state, &store);
    let items: Vec<CaseOut> = page
        .slice(ids)
        .iter()
        .filter_map(|id| store.cases.get(id))
        .map(|c| r.case(c, steps, props))
        .collect();
    Ok(Json(items).into_response())
}

/// Resolves `123` or `TC-12` to a test case id.
pub(crate) fn case_id(store: &Store, id_or_pid: &str) -> Option<i64> {
    if let Ok(id) = id_or_pid.parse::<i64>() {
        return store.cases.contains_key(&id).then_some(id);
    }
    let (prefix, n) = id_or_pid.split_once('-')?;
    if !prefix.eq_ignore_ascii_case("TC") {
        return None;
    }
    store.case_by_pid(n.parse::<u32>().ok()?)
}

/// `GET …/test-cases/{idOrPid}[?expand=teststep]`.
pub(crate) async fn case(
    State(state): State<Arc<QtestState>>,
    Path((project, id_or_pid)): Path<(i64, String)>,
    Query(params): Params,
) -> MockResult<Response> {
    check_project(&state, project)?;
    let store = state.read();
    let case = case_id(&store, &id_or_pid)
        .and_then(|id| store.cases.get(&id))
        .ok_or_else(|| MockError::not_found(format!("Test case {id_or_pid} does not exist")))?;
    let steps = param(&params, "expand").is_some_and(|e| e.split(',').any(|x| x == "teststep"));
    Ok(Json(render(&state, &store).case(case, steps, true)).into_response())
}
