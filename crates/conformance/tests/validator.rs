//! Proves the checker can fail: hand-written valid and invalid exchanges for both specs, no
//! server involved. Each invalid case must be rejected with a message that points at the fault.

use serde_json::{Value, json};
use ztoq_conformance::Spec;
use ztoq_mock::recorder::Exchange;

fn exchange(
    method: &str,
    target: &str,
    request: Option<Value>,
    status: u16,
    response: Value,
) -> Exchange {
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path.to_string(), Some(query.to_string())),
        None => (target.to_string(), None),
    };
    let mut request_headers = vec![("accept".to_string(), "application/json".to_string())];
    if request.is_some() {
        request_headers.push(("content-type".into(), "application/json".into()));
    }
    Exchange {
        method: method.into(),
        path,
        query,
        request_headers,
        request_body: request
            .map(|v| serde_json::to_vec(&v).unwrap())
            .unwrap_or_default(),
        status,
        response_content_type: Some("application/json".into()),
        response_body: serde_json::to_vec(&response).unwrap(),
    }
}

fn get(target: &str, status: u16, response: Value) -> Exchange {
    exchange("GET", target, None, status, response)
}

/// Asserts rejection and that some violation mentions `needle`.
fn assert_rejected(spec: &Spec, exchange: &Exchange, needle: &str) {
    match spec.validate(exchange) {
        Ok(op) => panic!("{op}: {} {} was accepted", exchange.method, exchange.path),
        Err(violations) => {
            assert!(
                violations.iter().any(|v| v.contains(needle)),
                "no violation mentions {needle:?}: {violations:#?}"
            );
        }
    }
}

fn test_case(id: Value) -> Value {
    json!({
        "id": id, "key": "ACME-T12", "name": "Login works",
        "project": {"id": 10005, "self": "https://api.zephyrscale.smartbear.com/v2/projects/10005"},
        "createdOn": "2024-03-05T14:07:09Z",
        "objective": null, "precondition": "<p>logged out</p>", "estimatedTime": null,
        "labels": ["smoke"], "component": null,
        "priority": {"id": 3, "self": "https://api.zephyrscale.smartbear.com/v2/priorities/3"},
        "status": {"id": 4},
        "folder": null, "owner": {"accountId": "5b10ac8d82e05b22cc7d4ef5"},
        "testScript": {"self": "https://api.zephyrscale.smartbear.com/v2/testcases/ACME-T12/testscript"},
        "customFields": {"Build": 20, "Released": "2020-01-01", "Automated": false, "Areas": ["a", "b"], "None": null},
        "links": {"self": "https://api.zephyrscale.smartbear.com/v2/testcases/ACME-T12/links"}
    })
}

#[test]
fn zephyr_operation_lookup_prefers_literals_and_strips_the_base_path() {
    let spec = Spec::zephyr().unwrap();
    let id = |m: &str, p: &str| spec.operation_id(m, p);
    assert_eq!(
        id("GET", "/v2/testcases/nextgen").as_deref(),
        Some("listTestCasesCursorPaginated")
    );
    assert_eq!(
        id("GET", "/v2/testcases/ACME-T1").as_deref(),
        Some("getTestCase")
    );
    assert_eq!(id("GET", "/testcases").as_deref(), Some("listTestCases"));
    assert_eq!(id("GET", "/v2/healthcheck").as_deref(), Some("healthcheck"));
    assert_eq!(
        id("GET", "/v2/testexecutions/ACME-E1/attachments/7").as_deref(),
        Some("getTestExecutionAttachment")
    );
    assert_eq!(id("POST", "/v2/folders").as_deref(), Some("createFolder"));
    assert_eq!(id("DELETE", "/v2/testcases/ACME-T1"), None);
    assert_eq!(id("GET", "/v2/nothing/here"), None);
    assert!(spec.operation_ids().len() >= 68);
}

#[test]
fn zephyr_test_case_bodies() {
    let spec = Spec::zephyr().unwrap();
    let ok = get("/v2/testcases/ACME-T12", 200, test_case(json!(12)));
    assert_eq!(spec.validate(&ok), Ok("getTestCase".to_string()));

    assert_rejected(
        &spec,
        &get("/v2/testcases/ACME-T12", 200, test_case(json!("12"))),
        "at /id",
    );
    let mut no_name = test_case(json!(12));
    no_name["name"] = Value::Null;
    assert_rejected(
        &spec,
        &get("/v2/testcases/ACME-T12", 200, no_name),
        "at /name",
    );
    let mut bad_ref = test_case(json!(12));
    bad_ref["priority"] = json!({"self": "x"});
    assert_rejected(
        &spec,
        &get("/v2/testcases/ACME-T12", 200, bad_ref),
        "\"id\" is a required property",
    );

    let page = json!({"startAt": 0, "maxResults": 1, "total": 1, "isLast": true, "next": null, "values": [test_case(json!(12))]});
    assert!(
        spec.validate(&get(
            "/v2/testcases?projectKey=ACME&maxResults=1&startAt=0",
            200,
            page.clone()
        ))
        .is_ok()
    );
    let mut bad_page = page.clone();
    bad_page.as_object_mut().unwrap().remove("startAt");
    assert_rejected(
        &spec,
        &get("/v2/testcases?projectKey=ACME", 200, bad_page),
        "startAt",
    );
    bad_page = page.clone();
    bad_page["values"][0]["id"] = json!(0);
    assert_rejected(
        &spec,
        &get("/v2/testcases", 200, bad_page),
        "at /values/0/id",
    );
}

#[test]
fn zephyr_folders_accept_null_parent() {
    let spec = Spec::zephyr().unwrap();
    let folder = |parent: Value| {
        json!({"id": 5, "parentId": parent, "name": "Root", "index": 0, "folderType": "TEST_CASE",
               "project": {"id": 10005, "self": "https://x/projects/10005"}})
    };
    let page = |f: Value| json!({"startAt": 0, "maxResults": 10, "isLast": true, "values": [f]});
    let target = "/v2/folders?projectKey=ACME&folderType=TEST_CASE&maxResults=10&startAt=0";
    assert!(
        spec.validate(&get(target, 200, page(folder(Value::Null))))
            .is_ok()
    );
    assert!(
        spec.validate(&get(target, 200, page(folder(json!(3)))))
            .is_ok()
    );
    assert_rejected(
        &spec,
        &get(target, 200, page(folder(json!("3")))),
        "at /values/0/parentId",
    );
    let mut no_index = folder(json!(3));
    no_index.as_object_mut().unwrap().remove("index");
    assert_rejected(&spec, &get(target, 200, page(no_index)), "index");
    assert_rejected(
        &spec,
        &get("/v2/folders?projectKey=acme", 200, page(folder(json!(3)))),
        "query parameter projectKey",
    );
}

#[test]
fn zephyr_parameters_statuses_and_errors() {
    let spec = Spec::zephyr().unwrap();
    let empty = json!({"startAt": 0, "maxResults": 10, "values": []});
    assert_rejected(
        &spec,
        &get("/v2/testcases?maxResults=0", 200, empty.clone()),
        "query parameter maxResults",
    );
    assert_rejected(
        &spec,
        &get("/v2/testcases?pageSize=10", 200, empty.clone()),
        "pageSize is not declared",
    );
    assert_rejected(
        &spec,
        &get("/v2/testcases?folderId=abc", 200, empty.clone()),
        "query parameter folderId",
    );
    assert_rejected(
        &spec,
        &get("/v2/testcases", 201, empty),
        "status 201 is not declared",
    );

    let not_found = json!({"errorCode": 404, "message": "No test case ACME-T999"});
    assert!(
        spec.validate(&get("/v2/testcases/ACME-T999", 404, not_found))
            .is_ok()
    );
    assert_rejected(
        &spec,
        &get("/v2/testcases/ACME-T999", 404, json!({"message": "x"})),
        "errorCode",
    );
    let mut html = get("/v2/testcases/ACME-T999", 502, Value::Null);
    html.response_body = b"<html>bad gateway</html>".to_vec();
    assert_rejected(&spec, &html, "not JSON");

    let next =
        json!({"limit": 2, "nextStartAtId": null, "next": null, "values": [test_case(json!(1))]});
    assert!(
        spec.validate(&get(
            "/v2/testcases/nextgen?projectKey=ACME&limit=2&startAtId=0",
            200,
            next
        ))
        .is_ok()
    );
    let no_cursor = json!({"limit": 2, "values": []});
    assert_rejected(
        &spec,
        &get("/v2/testcases/nextgen", 200, no_cursor),
        "nextStartAtId",
    );
}

#[test]
fn zephyr_attachments() {
    let spec = Spec::zephyr().unwrap();
    let list = json!({"attachments": [{"id": 991, "name": "receipt.png"}]});
    assert!(
        spec.validate(&get("/v2/testcases/ACME-T1/attachments", 200, list))
            .is_ok()
    );
    assert_rejected(
        &spec,
        &get(
            "/v2/testcases/ACME-T1/attachments",
            200,
            json!({"attachments": [{"id": "991"}]}),
        ),
        "/attachments/0/id",
    );
    let none =
        json!({"errorCode": 404, "message": "'ACME-E1' exists but has no attachment metadata"});
    assert!(
        spec.validate(&get("/v2/testexecutions/ACME-E1/attachments", 404, none))
            .is_ok()
    );
    let mut content = get("/v2/testcases/ACME-T1/attachments/991", 200, Value::Null);
    content.response_content_type = Some("image/png".into());
    content.response_body = vec![0x89, b'P', b'N', b'G', 0];
    assert_eq!(
        spec.validate(&content),
        Ok("getTestCaseAttachment".to_string())
    );
    assert_rejected(
        &spec,
        &get("/v2/testcases/ACME-T1/attachments/zero", 200, Value::Null),
        "path parameter attachmentId",
    );
}

#[test]
fn qtest_operation_lookup() {
    let spec = Spec::qtest().unwrap();
    let id = |m: &str, p: &str| spec.operation_id(m, p);
    assert_eq!(
        id("POST", "/api/v3/projects/1/test-cases").as_deref(),
        Some("createTestCase")
    );
    assert_eq!(
        id("GET", "/api/v3/projects/1/test-cases/55").as_deref(),
        Some("getTestCase")
    );
    assert_eq!(
        id("GET", "/api/v3/projects/1/test-runs/execution-statuses").as_deref(),
        Some("getStatusValuable")
    );
    assert_eq!(
        id("POST", "/api/v3/projects/1/test-logs/9/blob-handles").as_deref(),
        Some("upload")
    );
    assert_eq!(
        id("POST", "/oauth/token").as_deref(),
        Some("postAccessToken")
    );
}

#[test]
fn qtest_test_case_create_requires_properties() {
    let spec = Spec::qtest().unwrap();
    let created = json!({"id": 7, "name": "Login", "pid": "TC-7", "properties": []});
    let without = json!({"name": "Login", "parent_id": 3});
    assert_rejected(
        &spec,
        &exchange(
            "POST",
            "/api/v3/projects/1/test-cases",
            Some(without),
            200,
            created.clone(),
        ),
        "request body at /: \"properties\" is a required property",
    );
    let with = json!({"name": "Login", "parent_id": 3, "properties": [{"field_id": 11, "field_value": "2"}],
                      "test_steps": [{"description": "open", "expected": "shown", "order": 1}]});
    assert_eq!(
        spec.validate(&exchange(
            "POST",
            "/api/v3/projects/1/test-cases",
            Some(with.clone()),
            200,
            created
        )),
        Ok("createTestCase".to_string())
    );
    let mut no_expected = with;
    no_expected["test_steps"][0]
        .as_object_mut()
        .unwrap()
        .remove("expected");
    assert_rejected(
        &spec,
        &exchange(
            "POST",
            "/api/v3/projects/1/test-cases",
            Some(no_expected),
            200,
            json!({"properties": []}),
        ),
        "/test_steps/0",
    );
    assert_rejected(
        &spec,
        &exchange(
            "POST",
            "/api/v3/projects/x/test-cases",
            Some(json!({"properties": []})),
            200,
            json!({"properties": []}),
        ),
        "path parameter projectId",
    );
}

#[test]
fn qtest_uploads_need_their_headers_and_login_is_a_form() {
    let spec = Spec::qtest().unwrap();
    let attachment = json!({"id": 3, "name": "a.png", "content_type": "image/png"});
    let mut upload = exchange(
        "POST",
        "/api/v3/projects/1/test-cases/7/blob-handles",
        None,
        201,
        attachment,
    );
    upload.request_body = vec![1, 2, 3];
    upload
        .request_headers
        .push(("content-type".into(), "image/png".into()));
    assert_rejected(&spec, &upload, "header File-Name missing");
    upload
        .request_headers
        .push(("file-name".into(), "a.png".into()));
    assert_eq!(spec.validate(&upload), Ok("upload".to_string()));
    upload.path = "/api/v3/projects/1/modules/7/blob-handles".into();
    assert_rejected(&spec, &upload, "path parameter objectType");

    let token =
        json!({"access_token": "t", "token_type": "bearer", "expires_in": 3600, "scope": "read"});
    let mut login = exchange("POST", "/oauth/token", None, 200, token);
    login.request_headers.push((
        "content-type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    login.request_body = b"grant_type=password&username=u%40x.com&password=p".to_vec();
    assert_eq!(spec.validate(&login), Ok("postAccessToken".to_string()));
    login.request_body = b"grant_type=magic&username=u".to_vec();
    assert_rejected(&spec, &login, "form parameter grant_type");
    login.request_body = b"grant_type=password&user=u".to_vec();
    assert_rejected(&spec, &login, "form field user is not declared");
}

#[test]
fn qtest_errors_must_be_json() {
    let spec = Spec::qtest().unwrap();
    let missing = get(
        "/api/v3/projects/1/test-cases/999",
        404,
        json!({"message": "Test case not found"}),
    );
    assert!(spec.validate(&missing).is_ok());
    let mut text = missing.clone();
    text.response_body = b"not found".to_vec();
    assert_rejected(&spec, &text, "not JSON");
    let ok_but_undeclared = get("/api/v3/projects/1/test-cases/999", 204, Value::Null);
    assert_rejected(&spec, &ok_but_undeclared, "status 204 is not declared");
}
