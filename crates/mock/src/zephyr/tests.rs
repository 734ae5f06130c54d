//! Router-level tests of the Zephyr mock: auth, paging rules, error bodies, controls and
//! the lazy generator's counts (through `tower::ServiceExt::oneshot`; the client crate's
//! tests speak real HTTP to the same router).

use super::*;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;

const TOKEN: &str = "t0ken";

fn state(seed: u64, scale: u64) -> Arc<ZephyrState> {
    ZephyrState::new(ZephyrMockConfig {
        seed,
        scale,
        project_key: "ACME".into(),
        token: TOKEN.into(),
        base_url: None,
    })
}

async fn call(
    state: &Arc<ZephyrState>,
    method: &str,
    uri: &str,
    auth: Option<&str>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "mock.test:81");
    if let Some(token) = auth {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = router(state.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn get(state: &Arc<ZephyrState>, uri: &str) -> (StatusCode, Value) {
    call(state, "GET", uri, Some(TOKEN)).await
}

#[test]
fn summary_adds_up_to_the_scale() {
    for scale in [100, 2000, 50_000] {
        let s = state(7, scale).summary();
        let records = s.test_case_folders
            + s.test_cycle_folders
            + s.test_cases
            + s.test_cycles
            + s.executions
            + s.test_case_attachments
            + s.execution_attachments;
        assert_eq!(records, scale, "{s:?}");
        assert_eq!(s.test_plan_folders, 2);
        assert!(
            s.test_case_attachments > 0 && s.execution_attachments > 0,
            "{s:?}"
        );
    }
}

#[tokio::test]
async fn auth_styles() {
    let st = state(1, 200);
    let (status, body) = call(&st, "GET", "/v2/projects", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["error"].is_string(), "{body}");
    let (status, body) = call(&st, "GET", "/v2/projects", Some("nope")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["errorCode"], 401);
    let (status, body) = call(&st, "GET", "/__mock/summary", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_value::<Summary>(body).unwrap(),
        st.summary()
    );
}

#[tokio::test]
async fn offset_paging_clamps_and_links() {
    let st = state(1, 2000);
    let (status, body) = get(&st, "/v2/testcases?projectKey=ACME&maxResults=5000").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["maxResults"], 1000);
    assert_eq!(body["values"].as_array().unwrap().len(), 600);
    assert_eq!(body["isLast"], true);
    assert_eq!(body["next"], Value::Null);
    let (_, body) = get(&st, "/v2/testcases?projectKey=ACME").await;
    assert_eq!(body["maxResults"], 10);
    assert_eq!(body["total"], 600);
    assert_eq!(body["isLast"], false);
    let next = body["next"].as_str().unwrap();
    assert!(
        next.starts_with("http://mock.test:81/v2/testcases?projectKey=ACME&"),
        "{next}"
    );
    assert!(next.contains("startAt=10"), "{next}");
    let case = &body["values"][0];
    assert_eq!(case["key"], "ACME-T1");
    assert!(case["precondition"].is_null() || case["precondition"].is_string());
    assert!(
        case.as_object().unwrap().contains_key("component"),
        "explicit nulls"
    );
    assert!(
        case["status"]["self"]
            .as_str()
            .unwrap()
            .starts_with("http://mock.test:81/v2/statuses/")
    );
    for bad in [
        "maxResults=0",
        "maxResults=x",
        "startAt=-1",
        "startAt=1000001",
    ] {
        let (status, body) = get(&st, &format!("/v2/testcases?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(body["errorCode"], 400);
    }
    let (status, body) = get(&st, "/v2/testcases?projectKey=NOPE").await;
    assert_eq!(
        (status, &body["errorCode"]),
        (StatusCode::NOT_FOUND, &Value::from(404))
    );
}

#[tokio::test]
async fn cursor_paging_is_id_arithmetic() {
    let st = state(1, 2000);
    let n = st.summary().executions;
    let (_, body) = get(&st, "/v2/testexecutions/nextgen?projectKey=ACME&limit=3").await;
    assert_eq!(body["limit"], 3);
    assert_eq!(body["values"][0]["id"], 100_000_000);
    assert_eq!(body["nextStartAtId"], 100_000_003);
    let last = 100_000_000 + n as i64 - 2;
    let (_, body) = get(
        &st,
        &format!("/v2/testexecutions/nextgen?limit=5&startAtId={last}"),
    )
    .await;
    assert_eq!(body["values"].as_array().unwrap().len(), 2);
    assert_eq!(body["nextStartAtId"], Value::Null);
    assert_eq!(body["next"], Value::Null);
    let (_, body) = get(&st, "/v2/testcases/nextgen?limit=2000").await;
    assert_eq!(body["limit"], 1000);
}

#[tokio::test]
async fn execution_filters_agree_with_the_execution() {
    let st = state(5, 3000);
    let (_, body) = get(&st, "/v2/testexecutions?testCycle=ACME-R2&maxResults=1000").await;
    let values = body["values"].as_array().unwrap();
    assert!(!values.is_empty());
    for v in values {
        assert_eq!(v["testCycle"]["id"], 50_000_001);
    }
    let (_, body) = get(&st, "/v2/testexecutions?testCase=ACME-T7&maxResults=1000").await;
    for v in body["values"].as_array().unwrap() {
        assert!(
            v["testCase"]["self"]
                .as_str()
                .unwrap()
                .ends_with("/testcases/ACME-T7/versions/1")
        );
    }
}

#[tokio::test]
async fn steps_corruption_and_attachments() {
    let st = state(3, 2000);
    let d = st.dataset();
    let (i, _) = (0..600)
        .map(|i| (i, d.step_count(i)))
        .find(|&(_, n)| n > 10)
        .unwrap();
    let key = d.test_case_key(i);
    let (status, body) = get(&st, &format!("/v2/testcases/{key}/teststeps")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"].as_u64(), Some(d.step_count(i)));
    st.corrupt_test_steps(&key);
    let (status, body) = get(&st, &format!("/v2/testcases/{key}/teststeps")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["values"], "garbage");
    let (status, _) = call(&st, "DELETE", "/__mock/corrupt", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body) = get(&st, &format!("/v2/testcases/{key}/teststeps")).await;
    assert!(body["values"].is_array());

    let without = (0..600)
        .find(|&i| d.test_case_attachments(i).is_empty())
        .unwrap();
    let (status, body) = get(
        &st,
        &format!("/v2/testcases/{}/attachments", d.test_case_key(without)),
    )
    .await;
    assert_eq!(
        (status, &body["errorCode"]),
        (StatusCode::NOT_FOUND, &Value::from(404))
    );
    let with = (0..600)
        .find(|&i| !d.test_case_attachments(i).is_empty())
        .unwrap();
    let (status, body) = get(
        &st,
        &format!("/v2/testcases/{}/attachments", d.test_case_key(with)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["attachments"][0]["name"]
            .as_str()
            .unwrap()
            .starts_with("evidence-")
    );
    let (status, _) = get(&st, "/v2/testcases/ACME-T99999/attachments").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&st, "/v2/testexecutions/ACME-E1/attachments/1").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn huge_project_is_lazy() {
    let started = std::time::Instant::now();
    let st = state(11, 500_000);
    let s = st.summary();
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert!(s.executions > 250_000, "{s:?}");
    let mid = 100_000_000 + s.executions as i64 / 2;
    let (status, body) = get(
        &st,
        &format!("/v2/testexecutions/nextgen?limit=1000&startAtId={mid}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["values"].as_array().unwrap().len(), 1000);
    assert_eq!(body["values"][0]["id"], mid);
    let (status, body) = get(&st, "/v2/testexecutions?startAt=200000&maxResults=50").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["values"][0]["key"], "ACME-E200001");
}

#[tokio::test]
async fn folders_form_trees() {
    let st = state(2, 20_000);
    let (_, body) = get(&st, "/v2/folders?maxResults=1000").await;
    let folders = body["values"].as_array().unwrap();
    assert_eq!(body["total"].as_u64(), Some(st.dataset().folder_count()));
    let mut types = std::collections::HashMap::new();
    for f in folders {
        let id = f["id"].as_i64().unwrap();
        if let Some(parent) = f["parentId"].as_i64() {
            assert!(parent < id);
            assert_eq!(types[&parent], f["folderType"]);
        } else {
            assert!(f["parentId"].is_null());
        }
        types.insert(id, f["folderType"].clone());
    }
    let (_, body) = get(&st, "/v2/folders?folderType=TEST_PLAN").await;
    assert_eq!(body["total"], 2);
    let (status, _) = get(&st, "/v2/folders?folderType=NOPE").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// The raw body of a GET (hostile bodies are not always JSON).
async fn raw(state: &Arc<ZephyrState>, uri: &str) -> (StatusCode, String) {
    let req = Request::builder()
        .uri(uri)
        .header(header::HOST, "mock.test:81")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let response = router(state.clone()).oneshot(req).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn hostile_mode_plants_each_kind_of_bad_data() {
    let st = state(4, 600);
    let before = get(&st, "/v2/testcycles?maxResults=1000").await;
    let (status, body) = call(&st, "GET", "/__mock/hostile", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["enabled"], false);
    let plan: HostilePlan = serde_json::from_value(body["plan"].clone()).unwrap();
    let (status, _) = call(&st, "POST", "/__mock/hostile", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(st.is_hostile());
    let s = st.summary();

    // A lone surrogate escape in the JSON text of the unicode case; two bad case items.
    let (_, text) = raw(&st, "/v2/testcases/nextgen?limit=1000").await;
    assert!(text.contains(r"lone: \ud800"), "a raw lone surrogate");
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "serde refuses it"
    );
    let (_, case) = raw(&st, &format!("/v2/testcases/{}", plan.unicode_case)).await;
    assert!(case.contains(r"\u0000") && case.contains("<script>"));
    let (_, body) = get(&st, &format!("/v2/testcases/{}", plan.wrong_type_case.1)).await;
    assert!(body["name"].is_object());
    let (_, body) = get(
        &st,
        &format!("/v2/testcases/{}", plan.missing_folder_case.0),
    )
    .await;
    assert_eq!(body["folder"]["id"], plan.missing_folder_case.1);

    // The cycle list is not JSON around position 1, but is on either side of it.
    let (status, text) = raw(&st, "/v2/testcycles?maxResults=1000").await;
    assert_eq!(status, StatusCode::OK);
    assert!(serde_json::from_str::<Value>(&text).is_err());
    let (_, body) = get(&st, "/v2/testcycles?startAt=0&maxResults=1").await;
    assert_eq!(body["values"][0], before.1["values"][0]);
    let (_, body) = get(&st, "/v2/testcycles?startAt=2&maxResults=1000").await;
    assert_eq!(body["values"][0], before.1["values"][1]);
    assert_eq!(body["total"].as_u64(), Some(s.test_cycles + 1));

    // Folders: the loop, and pages after the first repeat the items before them.
    let (_, body) = get(&st, "/v2/folders?maxResults=1000").await;
    let folders = body["values"].as_array().unwrap();
    let [a, b] = plan.loop_folders;
    let parent = |id: i64| {
        folders.iter().find(|f| f["id"] == id).unwrap()["parentId"]
            .as_i64()
            .unwrap()
    };
    assert_eq!((parent(a), parent(b)), (b, a));
    let (_, body) = get(&st, "/v2/folders?startAt=4&maxResults=3").await;
    assert_eq!(body["values"][0]["id"], folders[4 - REPEAT as usize]["id"]);

    // Executions: the orphan names a case that does not exist; cursor pages repeat.
    let (_, body) = get(
        &st,
        &format!("/v2/testexecutions/{}", plan.orphan_execution.0),
    )
    .await;
    assert!(
        body["testCase"]["self"]
            .as_str()
            .unwrap()
            .ends_with(&format!(
                "/testcases/{}/versions/1",
                plan.orphan_execution.1
            ))
    );
    let (status, _) = get(&st, &format!("/v2/testcases/{}", plan.orphan_execution.1)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, body) = get(
        &st,
        "/v2/testexecutions/nextgen?startAtId=100000005&limit=3",
    )
    .await;
    assert_eq!(body["values"][0]["id"], 100_000_003);
    assert_eq!(body["nextStartAtId"], 100_000_008);

    // Filtered lists and the summary stay those of the base project; off again, all is back.
    let (_, body) = get(&st, "/v2/testexecutions?testCycle=ACME-R1&maxResults=1000").await;
    assert!(body["values"].as_array().unwrap().iter().all(|e| {
        e["testCase"]["self"]
            .as_str()
            .unwrap()
            .contains("/testcases/ACME-T")
    }));
    assert_eq!(st.summary(), s);
    let (status, _) = call(&st, "DELETE", "/__mock/hostile", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(get(&st, "/v2/testcycles?maxResults=1000").await, before);
}
