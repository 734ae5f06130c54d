//! Test-execution routes: test cycles, test runs and manual test logs, plus the paged wrapper
//! `{links, page, page_size, total, items}` they share with search.

use super::QtestState;
use super::error::{MockError, MockResult, PageRequest, int_param, param, parse_body};
use super::routes_design::{Params, check_project, render};
use super::state::{Parent, Store};
use super::wire::{CycleIn, CycleOut, LinkOut, LogIn, PagedOut, RunIn};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::HOST;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Wraps one page of `items` with `self` and (when more remain) `next` links.
pub(crate) fn paged<T>(
    headers: &HeaderMap,
    uri: &Uri,
    page: PageRequest,
    total: usize,
    items: Vec<T>,
) -> PagedOut<T> {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let link = |rel: &'static str, p: i64| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
            if k != "page" {
                query.append_pair(&k, &v);
            }
        }
        query.append_pair("page", &p.to_string());
        LinkOut {
            rel,
            href: format!("http://{host}{}?{}", uri.path(), query.finish()),
        }
    };
    let mut links = vec![link("self", page.page)];
    if page.has_next(total) {
        links.push(link("next", page.page + 1));
    }
    PagedOut {
        links,
        page: page.page,
        page_size: page.size,
        total: i64::try_from(total).unwrap_or(i64::MAX),
        items,
    }
}

fn parent_from(params: &[(String, String)]) -> MockResult<Parent> {
    Parent::parse(int_param(params, "parentId")?, param(params, "parentType"))
}

/// `POST …/test-cycles?parentId=&parentType=` → 201.
pub(crate) async fn create_cycle(
    State(state): State<Arc<QtestState>>,
    Path(project): Path<i64>,
    Query(params): Params,
    body: Bytes,
) -> MockResult<(StatusCode, Json<CycleOut>)> {
    check_project(&state, project)?;
    let parent = parent_from(&params)?;
    let body: CycleIn = parse_body(&body)?;
    let mut store = state.write();
    let id = store.create_cycle(parent, body)?;
    let store = &*store;
    let cycle = store
        .cycles
        .get(&id)
        .ok_or_else(|| MockError::not_found("cycle vanished"))?;
    Ok((
        StatusCode::CREATED,
        Json(render(&state, store).cycle(cycle, false)),
    ))
}

/// `GET …/test-cycles?parentId=&parentType=&expand=descendants&page=&pageSize=` (an array;
/// a negative `pageSize` returns all).
pub(crate) async fn cycles(
    State(state): State<Arc<QtestState>>,
    Path(project): Path<i64>,
    Query(params): Params,
) -> MockResult<Json<Vec<CycleOut>>> {
    check_project(&state, project)?;
    let parent = parent_from(&params)?;
    let descendants = param(&params, "expand") == Some("descendants");
    let all = int_param(&params, "pageSize")?.is_some_and(|s| s < 0);
    let page = if all {
        PageRequest {
            page: 1,
            size: i64::MAX,
        }
    } else {
        PageRequest::from_params(&params, "pageSize", 100, 999)?
    };
    let store = state.read();
    let ids = match parent {
        Parent::Root => &store.root_cycles,
        Parent::Cycle(id) => {
            &store
                .cycles
                .get(&id)
                .ok_or_else(|| MockError::not_found(format!("Test cycle {id} does not exist")))?
                .children
        }
        Parent::Release(id) => {
            return Err(MockError::not_found(format!("Release {id} does not exist")));
        }
        Parent::Suite(_) => return Err(MockError::bad_request("Invalid parentType 'test-suite'")),
    };
    let r = render(&state, &store);
    Ok(Json(
        page.slice(ids)
            .iter()
            .filter_map(|id| store.cycles.get(id))
            .map(|c| r.cycle(c, descendants))
            .collect(),
    ))
}

/// `GET …/test-cycles/{id}[?expand=descendants]`.
pub(crate) async fn cycle(
    State(state): State<Arc<QtestState>>,
    Path((project, id)): Path<(i64, i64)>,
    Query(params): Params,
) -> MockResult<Json<CycleOut>> {
    check_project(&state, project)?;
    let store = state.read();
    let c = store
        .cycles
        .get(&id)
        .ok_or_else(|| MockError::not_found(format!("Test cycle {id} does not exist")))?;
    Ok(Json(
        render(&state, &store).cycle(c, param(&params, "expand") == Some("descendants")),
    ))
}

/// `POST …/test-runs?parentId=&parentType=` → 201.
pub(crate) async fn create_run(
    State(state): State<Arc<QtestState>>,
    Path(project): Path<i64>,
    Query(params): Params,
    body: Bytes,
) -> MockResult<Response> {
    check_project(&state, project)?;
    let parent = parent_from(&params)?;
    let body: RunIn = parse_body(&body)?;
    let mut store = state.write();
    let id = store.create_run(parent, body)?;
    let store = &*store;
    let run = store
        .runs
        .get(&id)
        .ok_or_else(|| MockError::not_found("run vanished"))?;
    // Serialised here, while the store (which the answer borrows from) is locked.
    Ok((StatusCode::CREATED, Json(render(&state, store).run(run))).into_response())
}

/// Run ids under `parent`, with descendants' runs when asked.
fn run_ids(store: &Store, parent: Parent, descendants: bool) -> MockResult<Vec<i64>> {
    match parent {
        Parent::Root if descendants => Ok(store.run_ids.clone()),
        Parent::Cycle(id) if !store.cycles.contains_key(&id) => Err(MockError::not_found(format!(
            "Test cycle {id} does not exist"
        ))),
        Parent::Release(id) => Err(MockError::not_found(format!("Release {id} does not exist"))),
        Parent::Suite(id) => Err(MockError::not_found(format!(
            "Test suite {id} does not exist"
        ))),
        _ => {
            let mut out = store
                .runs_by_parent
                .get(&parent)
                .cloned()
                .unwrap_or_default();
            if let (true, Parent::Cycle(id)) = (descendants, parent) {
                let mut stack: Vec<i64> = store
                    .cycles
                    .get(&id)
                    .map(|c| c.children.clone())
                    .unwrap_or_default();
                while let Some(c) = stack.pop() {
                    out.extend(
                        store
                            .runs_by_parent
                            .get(&Parent::Cycle(c))
                            .into_iter()
                            .flatten(),
                    );
                    stack.extend(
                        store
                            .cycles
                            .get(&c)
                            .into_iter()
                            .flat_map(|x| x.children.iter()),
                    );
                }
            }
            Ok(out)
        }
    }
}

/// `GET …/test-runs?parentId=&parentType=&expand=&page=&pageSize=` (paged wrapper).
pub(crate) async fn runs(
    State(state): State<Arc<QtestState>>,
    Path(project): Path<i64>,
    Query(params): Params,
    headers: HeaderMap,
    uri: Uri,
) -> MockResult<Response> {
    check_project(&state, project)?;
    let parent = parent_from(&params)?;
    let page = PageRequest::from_params(&params, "pageSize", 100, 999)?;
    let store = state.read();
    let ids = run_ids(
        &store,
        parent,
        param(&params, "expand") == Some("descendants"),
    )?;
    let r = render(&state, &store);
    let items = page
        .slice(&ids)
        .iter()
        .filter_map(|id| store.runs.get(id))
        .map(|x| r.run(x))
        .collect();
    Ok(Json(paged(&headers, &uri, page, ids.len(), items)).into_response())
}

/// `GET …/test-runs/{id}`.
pub(crate) async fn run(
    State(state): State<Arc<QtestState>>,
    Path((project, id)): Path<(i64, i64)>,
) -> MockResult<Response> {
    check_project(&state, project)?;
    let store = state.read();
    let run = store
        .runs
        .get(&id)
        .ok_or_else(|| MockError::not_found(format!("Test run {id} does not exist")))?;
    Ok(Json(render(&state, &store).run(run)).into_response())
}

/// `POST …/test-runs/{runId}/test-logs` → 201.
pub(crate) async fn create_log(
    State(state): State<Arc<QtestState>>,
    Path((project, run_id)): Path<(i64, i64)>,
    body: Bytes,
) -> MockResult<Response> {
    check_project(&state, project)?;
    if !state.read().runs.contains_key(&run_id) {
        return Err(MockError::not_found(format!(
            "Test run {run_id} does not exist"
        )));
    }
    let body: LogIn = parse_body(&body)?;
    let mut store = state.write();
    let id = store.create_log(run_id, body)?;
    let store = &*store;
    let log = store
        .logs
        .get(&id)
        .ok_or_else(|| MockError::not_found("log vanished"))?;
    Ok((StatusCode::CREATED, Json(render(&state, store).log(log))).into_response())
}

/// `GET …/test-runs/{runId}/test-logs?page=&pageSize=` (paged wrapper).
pub(crate) async fn logs(
    State(state): State<Arc<QtestState>>,
    Path((project, run_id)): Path<(i64, i64)>,
    Query(params): Params,
    headers: HeaderMap,
    uri: Uri,
) -> MockResult<Response> {
    check_project(&state, project)?;
    let page = PageRequest::from_params(&params, "pageSize", 100, 999)?;
    let store = state.read();
    let run = store
        .runs
        .get(&run_id)
        .ok_or_else(|| MockError::not_found(format!("Test run {run_id} does not exist")))?;
    let r = render(&state, &store);
    let items = page
        .slice(&run.logs)
        .iter()
        .filter_map(|id| store.logs.get(id))
        .map(|l| r.log(l))
        .collect();
    Ok(Json(paged(&headers, &uri, page, run.logs.len(), items)).into_response())
}

/// `GET …/test-runs/{runId}/test-logs/{id}`.
pub(crate) async fn log(
    State(state): State<Arc<QtestState>>,
    Path((project, run_id, id)): Path<(i64, i64, i64)>,
) -> MockResult<Response> {
    check_project(&state, project)?;
    let store = state.read();
    let log = store
        .logs
        .get(&id)
        .filter(|l| l.run == run_id)
        .ok_or_else(|| {
            MockError::not_found(format!("Test log {id} of test run {run_id} does not exist"))
        })?;
    Ok(Json(render(&state, &store).log(log)).into_response())
}
