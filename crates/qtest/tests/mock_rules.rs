//! Protocol-level checks of the qTest mock with a raw HTTP client: status codes and bodies for
//! the validation rules the client tests do not reach.

mod common;

use serde_json::{Value, json};

async fn status_and_message(resp: reqwest::Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    (
        status,
        body.get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    )
}

#[tokio::test]
async fn rejects_what_qtest_rejects() {
    let mock = common::start().await;
    let http = mock.raw();
    let token = &mock.config.token;
    let post = |path: &str, body: Value| {
        http.post(mock.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
    };

    // Login needs the Basic client header and the right password.
    let form = "grant_type=password&username=alice%40example.com&password=s3cret";
    let no_basic = http
        .post(format!("{}/oauth/token", mock.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(no_basic.status().as_u16(), 401);
    let ok = http
        .post(format!("{}/oauth/token", mock.base))
        .header("Authorization", "Basic YWNtZTo=")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(
        (body["access_token"].as_str(), body["token_type"].as_str()),
        (Some(token.as_str()), Some("bearer"))
    );

    // No token: 401 with a message.
    let (status, message) = status_and_message(http.get(mock.url("")).send().await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(!message.is_empty());

    // Modules need a name; test cases need properties, a name and known field ids.
    assert_eq!(
        status_and_message(post("/modules", json!({})).await.unwrap())
            .await
            .0,
        400
    );
    let module: Value = post("/modules", json!({"name": "M"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let module_id = module["id"].as_i64().unwrap();
    let (status, message) = status_and_message(
        post("/test-cases", json!({"name": "x", "parent_id": module_id}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, message.contains("properties")), (400, true));
    let (status, _) = status_and_message(
        post(
            "/test-cases",
            json!({"parent_id": module_id, "properties": []}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    let unknown_field = json!({"name": "x", "parent_id": module_id, "properties": [{"field_id": 99_999_999, "field_value": "a"}]});
    assert_eq!(
        status_and_message(post("/test-cases", unknown_field).await.unwrap())
            .await
            .0,
        400
    );
    let fields: Value = http
        .get(mock.url("/settings/test-cases/fields"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let priority = fields
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["label"] == "Priority")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let bad_choice = json!({"name": "x", "parent_id": module_id, "properties": [{"field_id": priority, "field_value": "High"}]});
    assert_eq!(
        status_and_message(post("/test-cases", bad_choice).await.unwrap())
            .await
            .0,
        400
    );
    let step_without_expected = json!({"name": "x", "parent_id": module_id, "properties": [], "test_steps": [{"description": "d"}]});
    assert_eq!(
        status_and_message(post("/test-cases", step_without_expected).await.unwrap())
            .await
            .0,
        400
    );
    let resp = post("/test-cases", json!({"name": "ok", "parent_id": module_id, "properties": [], "test_steps": [{"description": "d", "expected": "e"}]})).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200, "test case create answers 200");
    let case: Value = resp.json().await.unwrap();
    let case_id = case["id"].as_i64().unwrap();
    let pid = case["pid"].as_str().unwrap().to_string();
    let by_pid: Value = http
        .get(mock.url(&format!("/test-cases/{pid}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_pid["id"].as_i64(), Some(case_id));
    assert!(
        by_pid.get("test_steps").is_none(),
        "steps only with expand=teststep"
    );

    // Runs need properties, and a version id that belongs to the case.
    let no_props = json!({"name": "r", "test_case": {"id": case_id}});
    assert_eq!(
        status_and_message(
            post("/test-runs?parentId=0&parentType=root", no_props)
                .await
                .unwrap()
        )
        .await
        .0,
        400
    );
    let wrong_version =
        json!({"test_case": {"id": case_id}, "test_case_version_id": 1, "properties": []});
    assert_eq!(
        status_and_message(
            post("/test-runs?parentId=0&parentType=root", wrong_version)
                .await
                .unwrap()
        )
        .await
        .0,
        400
    );
    let resp = post(
        "/test-runs?parentId=0&parentType=root",
        json!({"test_case": {"id": case_id}, "properties": []}),
    )
    .await
    .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let run: Value = resp.json().await.unwrap();
    assert_eq!(
        (run["testCaseId"].as_i64(), run["parentType"].as_str()),
        (Some(case_id), Some("root"))
    );
    let run_id = run["id"].as_i64().unwrap();

    // Logs need a known status and both dates.
    let logs = format!("/test-runs/{run_id}/test-logs");
    let no_dates = json!({"status": {"id": 601}});
    assert_eq!(
        status_and_message(post(&logs, no_dates).await.unwrap())
            .await
            .0,
        400
    );
    let bad_status = json!({"status": {"id": 1}, "exe_start_date": "2024-01-01T00:00:00Z", "exe_end_date": "2024-01-01T00:00:00Z"});
    assert_eq!(
        status_and_message(post(&logs, bad_status).await.unwrap())
            .await
            .0,
        400
    );
    let no_zone = json!({"status": {"id": 601}, "exe_start_date": "2024-01-01 00:00", "exe_end_date": "2024-01-01T00:00:00Z"});
    assert_eq!(
        status_and_message(post(&logs, no_zone).await.unwrap())
            .await
            .0,
        400
    );

    // Attachments need File-Name and Content-Type, and stay under 50 MB.
    let blob = mock.url(&format!("/test-cases/{case_id}/blob-handles"));
    let no_name = http
        .post(&blob)
        .bearer_auth(token)
        .header("Content-Type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(no_name.status().as_u16(), 400);
    let too_big = vec![0u8; ztoq_mock::qtest::MAX_ATTACHMENT_BYTES + 1];
    let resp = http
        .post(&blob)
        .bearer_auth(token)
        .header("File-Name", "big.bin")
        .header("Content-Type", "application/octet-stream")
        .body(too_big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    let releases = http
        .post(mock.url("/releases/1/blob-handles"))
        .bearer_auth(token)
        .header("File-Name", "a")
        .header("Content-Type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(releases.status().as_u16(), 404);

    // Search: object_type required, unknown fields and operators rejected.
    assert_eq!(
        status_and_message(
            post("/search", json!({"query": "Name = 'x'"}))
                .await
                .unwrap()
        )
        .await
        .0,
        400
    );
    let (status, message) = status_and_message(
        post(
            "/search",
            json!({"object_type": "test-cases", "query": "'No Such' = 'x'"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((status, message.contains("No Such")), (400, true));
    let cycles = post(
        "/search",
        json!({"object_type": "test-cycles", "query": "Name = 'nothing'"}),
    )
    .await
    .unwrap();
    assert_eq!(cycles.status().as_u16(), 200);

    // Custom fields: label and a known data type required, labels unique per object type.
    let create_field = |body: Value| post("/settings/test-runs/fields", body);
    assert_eq!(
        create_field(json!({"data_type": 1}))
            .await
            .unwrap()
            .status()
            .as_u16(),
        400
    );
    assert_eq!(
        create_field(json!({"label": "K", "data_type": 1}))
            .await
            .unwrap()
            .status()
            .as_u16(),
        201
    );
    assert_eq!(
        create_field(json!({"label": "K", "data_type": 1}))
            .await
            .unwrap()
            .status()
            .as_u16(),
        400
    );
    assert_eq!(
        post(
            "/settings/test-cycles/fields",
            json!({"label": "K", "data_type": 1})
        )
        .await
        .unwrap()
        .status()
        .as_u16(),
        400
    );

    // The summary needs no token.
    let summary: Value = http
        .get(format!("{}/__mock/summary", mock.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            summary["test_cases"].as_u64(),
            summary["test_runs"].as_u64(),
            summary["test_steps"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
}
