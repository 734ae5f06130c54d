//! The conformance run: both mocks on 127.0.0.1:0 behind the recorder, every client method ztoq
//! uses driven through the real clients (error paths included), then every recorded exchange
//! checked against the vendor spec. Asserts zero violations and that each operation ztoq relies
//! on was actually exercised.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::TcpListener;
use ztoq_conformance::Spec;
use ztoq_mock::recorder::{self, Exchange, Recorder};
use ztoq_qtest::qtest::{
    Field, Module, Property, SearchParams, Status, TestCase, TestCycle, TestLog, TestRun, TestStep,
    TestStepLog,
};
use ztoq_qtest::{CycleParent, Deletion, QtestAuth, QtestClient, RunParent, quote_query_value};
use ztoq_zephyr::{ClientOptions, Secret, ZephyrClient};

/// Zephyr operations ztoq uses (vendored 2025 spec + the 2026 additions).
const ZEPHYR_USED: &[&str] = &[
    "healthcheck",
    "getProject",
    "listFolders",
    "listStatuses",
    "listPriorities",
    "listEnvironments",
    "listTestCasesCursorPaginated",
    "listTestCycles",
    "listTestExecutionsNextgen",
    "getTestCase",
    "getTestCycle",
    "getTestExecution",
    "getTestCaseTestSteps",
    "getTestExecutionTestSteps",
    "getTestCaseAttachmentsReference",
    "getTestExecutionAttachmentsReference",
    "getTestCaseAttachment",
    "getTestExecutionAttachment",
];

/// qTest operations ztoq uses.
const QTEST_USED: &[&str] = &[
    "postAccessToken",
    "getProject",
    "getFields",
    "createCustomField",
    "getStatusValuable",
    "createModule",
    "getSubModulesOf",
    "createTestCase",
    "getTestCases",
    "getTestCase",
    "createCycle",
    "getTestCycles",
    "createTestRun",
    "getOf",
    "getTestRunById",
    "submitTestLog",
    "getTestLogsList",
    "upload",
    "getAttachmentsOf",
    "searchArtifact",
    // `ztoq rollback`.
    "deleteByBlobHandleId",
    "deleteTestRunById",
    "deleteCycle",
    "deleteTestCase",
    "deleteModule",
];

/// Serves `app` behind a recorder on 127.0.0.1:0; returns the origin (`http://127.0.0.1:port`).
async fn serve(app: axum::Router, recorder: Arc<Recorder>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let app = recorder::wrap(app, recorder);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    origin
}

/// Validates every exchange; returns the operationIds seen and every violation.
fn check(spec: &Spec, exchanges: &[Exchange]) -> (BTreeSet<String>, Vec<String>) {
    let mut seen = BTreeSet::new();
    let mut violations = Vec::new();
    for exchange in exchanges {
        match spec.validate(exchange) {
            Ok(op) => {
                seen.insert(op);
            }
            Err(found) => {
                if let Some(op) = spec.operation_id(&exchange.method, &exchange.path) {
                    seen.insert(op);
                }
                violations.extend(found);
            }
        }
    }
    (seen, violations)
}

fn assert_conforms(name: &str, spec: &Spec, exchanges: &[Exchange], used: &[&str]) {
    assert!(!exchanges.is_empty());
    let (seen, mut violations) = check(spec, exchanges);
    violations.sort();
    violations.dedup();
    let missing: Vec<&&str> = used.iter().filter(|op| !seen.contains(**op)).collect();
    assert!(
        violations.is_empty() && missing.is_empty(),
        "{name}: {} exchanges, {} violations:\n{}\noperations never exercised: {missing:?}",
        exchanges.len(),
        violations.len(),
        violations.join("\n"),
    );
    for op in used {
        assert!(
            spec.operation_ids().iter().any(|id| id == op),
            "{op} is not an operation of the {name} spec"
        );
    }
}

#[tokio::test]
async fn zephyr_client_and_mock_conform_to_the_spec() {
    use ztoq_mock::zephyr::{ZephyrMockConfig, ZephyrState, router};
    const TOKEN: &str = "header.payload.signature";
    let config = ZephyrMockConfig {
        seed: 7,
        scale: 300,
        project_key: "ACME".into(),
        token: TOKEN.into(),
        base_url: None,
    };
    let recorder = Recorder::new();
    let origin = serve(router(ZephyrState::new(config)), recorder.clone()).await;
    let client = ZephyrClient::new(
        &format!("{origin}/v2"),
        Secret::new(TOKEN),
        &ClientOptions::default(),
    )
    .unwrap()
    .with_page_size(25);

    client.healthcheck().await.unwrap();
    assert_eq!(client.project("ACME").await.unwrap().key, "ACME");
    let mut folders = client.clone().with_page_size(2).folders("ACME");
    let mut folder_count = 0;
    while let Some(page) = folders.next_page().await.unwrap() {
        folder_count += page.len();
    }
    assert!(
        folder_count > 2 && folders.pages_fetched() > 1,
        "{folder_count} folders"
    );
    for status_type in ["TEST_CASE", "TEST_CYCLE", "TEST_EXECUTION"] {
        assert!(
            !client
                .statuses("ACME", status_type)
                .await
                .unwrap()
                .is_empty()
        );
    }
    client.priorities("ACME").await.unwrap();
    client.environments("ACME").await.unwrap();
    let cases = client.test_cases("ACME").collect_all().await.unwrap();
    let cycles = client.test_cycles("ACME").collect_all().await.unwrap();
    let executions = client.executions("ACME").collect_all().await.unwrap();
    assert!(!cases.is_empty() && !cycles.is_empty() && !executions.is_empty());
    client.test_case(&cases[0].key).await.unwrap();
    client.test_cycle(&cycles[0].key).await.unwrap();
    client
        .execution(&executions[0].id.to_string())
        .await
        .unwrap();

    let (mut with_files, mut without_files) = (0, 0);
    for case in cases.iter().take(40) {
        client.test_steps(&case.key).await.unwrap();
        let refs = client.test_case_attachments(&case.key).await.unwrap();
        match refs.first() {
            Some(first) => {
                with_files += 1;
                let download = client
                    .download_test_case_attachment(&case.key, first.id)
                    .await
                    .unwrap();
                assert!(!download.bytes.is_empty());
            }
            None => without_files += 1,
        }
    }
    let (mut exec_with, mut exec_without) = (0, 0);
    for execution in executions.iter().take(60) {
        let id = execution
            .key
            .clone()
            .unwrap_or_else(|| execution.id.to_string());
        client.execution_steps(&id).await.unwrap();
        let refs = client.execution_attachments(&id).await.unwrap();
        match refs.first() {
            Some(first) => {
                exec_with += 1;
                client
                    .download_execution_attachment(&id, first.id)
                    .await
                    .unwrap();
            }
            None => exec_without += 1,
        }
    }
    assert!(
        with_files > 0 && without_files > 0,
        "cases with/without attachments: {with_files}/{without_files}"
    );
    assert!(
        exec_with > 0 && exec_without > 0,
        "executions with/without attachments: {exec_with}/{exec_without}"
    );

    // Error paths: an unknown test case, an unknown attachment.
    assert_eq!(
        client.test_case("ACME-T999999").await.unwrap_err().status(),
        Some(404)
    );
    let missing = client
        .download_test_case_attachment(&cases[0].key, 900_000_000)
        .await
        .unwrap_err();
    assert_eq!(missing.status(), Some(404));

    let exchanges = recorder.take();
    assert!(
        exchanges
            .iter()
            .any(|e| e.path.ends_with("/attachments") && e.status == 404),
        "a 404 attachment list"
    );
    let spec = Spec::zephyr().unwrap();
    assert_conforms("zephyr", &spec, &exchanges, ZEPHYR_USED);

    // Control: the same recorded page, with one id turned into a string, is rejected.
    let mut tampered = exchanges
        .iter()
        .find(|e| e.path.ends_with("/testcases/nextgen") && e.status == 200)
        .unwrap()
        .clone();
    let mut page: serde_json::Value = serde_json::from_slice(&tampered.response_body).unwrap();
    page["values"][0]["id"] = "12".into();
    tampered.response_body = serde_json::to_vec(&page).unwrap();
    let violations = spec.validate(&tampered).unwrap_err();
    assert!(violations[0].contains("at /values/0/id"), "{violations:?}");
}

fn text_field(label: &str) -> Field {
    Field {
        id: None,
        label: label.into(),
        data_type: Some(1),
        required: None,
        constrained: None,
        multiple: None,
        searchable: None,
        system_field: None,
        is_active: None,
        allowed_values: None,
    }
}

fn log(status: i64, step_logs: Option<Vec<TestStepLog>>) -> TestLog {
    TestLog {
        id: None,
        test_run_id: None,
        status: Status::id(status),
        exe_start_date: "2024-05-01T10:00:00Z".into(),
        exe_end_date: "2024-05-01T10:05:00+00:00".into(),
        note: Some("<p>ran it</p>".into()),
        test_case_version_id: None,
        properties: None,
        test_step_logs: step_logs,
    }
}

#[tokio::test]
async fn qtest_client_and_mock_conform_to_the_spec() {
    use ztoq_mock::qtest::{QtestMockConfig, QtestState, router};
    let config = QtestMockConfig {
        project_id: 42,
        project_name: "Acme".into(),
        token: "tok-123".into(),
        username: "alice@example.com".into(),
        password: "s3cret".into(),
    };
    let recorder = Recorder::new();
    let origin = serve(router(QtestState::new(config.clone())), recorder.clone()).await;
    let auth = QtestAuth::Password {
        username: config.username.clone(),
        password: Secret::new(&config.password),
        client_name: "acme".into(),
    };
    let qt = QtestClient::connect(&origin, config.project_id, auth, &ClientOptions::default())
        .await
        .unwrap();

    assert_eq!(qt.project().await.unwrap().name, "Acme");
    let case_key = qt
        .create_field("test-cases", &text_field("Zephyr Key"))
        .await
        .unwrap()
        .id
        .unwrap();
    let run_key = qt
        .create_field("test-runs", &text_field("Zephyr Key"))
        .await
        .unwrap()
        .id
        .unwrap();
    let case_fields = qt.fields("test-cases").await.unwrap();
    assert!(case_fields.iter().any(|f| f.id == Some(case_key)));
    qt.fields("test-runs").await.unwrap();
    let statuses = qt.execution_statuses().await.unwrap();
    let passed = statuses
        .iter()
        .find(|s| s.name.as_deref() == Some("Passed"))
        .unwrap()
        .id;

    let root = qt
        .create_module(
            None,
            &Module {
                name: Some("Migrated".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let child = qt
        .create_module(
            root.id,
            &Module {
                name: Some("Login".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    qt.modules(None, true).await.unwrap();
    qt.modules(root.id, false).await.unwrap();

    let steps = vec![
        TestStep {
            description: "Open page".into(),
            expected: "Page shows".into(),
            ..Default::default()
        },
        TestStep {
            description: "Log in".into(),
            expected: "Welcome".into(),
            ..Default::default()
        },
    ];
    let case = TestCase {
        name: Some("Login works".into()),
        parent_id: child.id,
        description: Some("<p>it's a test</p>".into()),
        precondition: Some("<p>logged out</p>".into()),
        properties: vec![Property::new(case_key, "ACME-T1")],
        test_steps: Some(steps),
        ..Default::default()
    };
    let created = qt.create_test_case(&case).await.unwrap();
    let case_id = created.id.unwrap();
    qt.test_case(case_id).await.unwrap();
    assert_eq!(qt.test_cases(child.id, 1, 20).await.unwrap().len(), 1);
    // Error path: a test case in a module that does not exist.
    let lost = TestCase {
        name: Some("Lost".into()),
        parent_id: Some(424_242),
        ..Default::default()
    };
    assert_eq!(
        qt.create_test_case(&lost).await.unwrap_err().status(),
        Some(404)
    );

    let cycle = qt
        .create_test_cycle(
            CycleParent::Root,
            &TestCycle {
                name: Some("Release 1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let sub = qt
        .create_test_cycle(
            CycleParent::TestCycle(cycle.id.unwrap()),
            &TestCycle {
                name: Some("Sprint 1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    qt.test_cycles(CycleParent::Root, true).await.unwrap();
    // Built by ztoq's own transform, as the worker builds it.
    let mut run = ztoq_transform::test_run("Login works", case_id, None);
    run.properties = vec![Property::new(run_key, "ACME-E1")];
    let run = qt
        .create_test_run(RunParent::TestCycle(sub.id.unwrap()), &run)
        .await
        .unwrap();
    let run_id = run.id.unwrap();
    assert_eq!(
        qt.test_runs(RunParent::TestCycle(sub.id.unwrap()), 1, 100)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    qt.test_run(run_id).await.unwrap();

    let step_logs = created
        .test_steps
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|s| TestStepLog {
            test_step_id: s.id,
            test_step_log_id: None,
            status: Some(Status::id(passed)),
            actual_result: Some("as expected".into()),
            order: s.order,
        })
        .collect();
    let test_log = qt
        .create_test_log(run_id, &log(passed, Some(step_logs)))
        .await
        .unwrap();
    let log_id = test_log.id.unwrap();
    assert_eq!(qt.test_logs(run_id, 1, 100).await.unwrap().items.len(), 1);

    qt.upload_attachment(
        "test-logs",
        log_id,
        "screen shot.png",
        "image/png",
        Bytes::from_static(b"\x89PNG...."),
    )
    .await
    .unwrap();
    qt.upload_attachment(
        "test-cases",
        case_id,
        "spec.txt",
        "text/plain",
        Bytes::from_static(b"hello"),
    )
    .await
    .unwrap();
    assert_eq!(qt.attachments("test-logs", log_id).await.unwrap().len(), 1);

    let by_key = |object_type: &str, key: &str| SearchParams {
        object_type: object_type.into(),
        fields: Some(vec!["*".into()]),
        query: Some(format!("'Zephyr Key' = {}", quote_query_value(key))),
    };
    assert_eq!(
        qt.search::<TestCase>(&by_key("test-cases", "ACME-T1"), 1, 100)
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        qt.search::<TestRun>(&by_key("test-runs", "ACME-E1"), 1, 100)
            .await
            .unwrap()
            .total,
        1
    );

    // Rollback: children before parents; a container that still holds something is refused
    // without force (400); a repeated delete finds 404, which the client reads as "already gone".
    let on_case = qt.attachments("test-cases", case_id).await.unwrap()[0]
        .id
        .unwrap();
    assert_eq!(
        qt.delete_attachment("test-cases", case_id, on_case)
            .await
            .unwrap(),
        Deletion::Deleted
    );
    assert_eq!(
        qt.delete_attachment("test-cases", case_id, on_case)
            .await
            .unwrap(),
        Deletion::AlreadyGone
    );
    let (top, sub) = (cycle.id.unwrap(), sub.id.unwrap());
    assert_eq!(
        qt.delete_test_cycle(sub, false).await.unwrap_err().status(),
        Some(400)
    );
    assert_eq!(qt.delete_test_run(run_id).await.unwrap(), Deletion::Deleted);
    assert_eq!(
        qt.delete_test_cycle(sub, false).await.unwrap(),
        Deletion::Deleted
    );
    assert_eq!(
        qt.delete_test_cycle(top, true).await.unwrap(),
        Deletion::Deleted
    );
    assert_eq!(
        qt.delete_test_case(case_id).await.unwrap(),
        Deletion::Deleted
    );
    assert_eq!(
        qt.delete_test_case(case_id).await.unwrap(),
        Deletion::AlreadyGone
    );
    assert_eq!(
        qt.delete_module(root.id.unwrap(), true).await.unwrap(),
        Deletion::Deleted
    );
    assert_eq!(
        qt.delete_module(child.id.unwrap(), false).await.unwrap(),
        Deletion::AlreadyGone
    );

    let exchanges = recorder.take();
    assert!(
        exchanges
            .iter()
            .any(|e| e.path.ends_with("/test-cases") && e.status == 404),
        "the 404 create"
    );
    for (method_path, status) in [("/blob-handles/", 404), ("/test-cycles/", 400)] {
        assert!(
            exchanges.iter().any(|e| e.method == "DELETE"
                && e.path.contains(method_path)
                && e.status == status),
            "a {status} on DELETE …{method_path}"
        );
    }
    let spec = Spec::qtest().unwrap();
    assert_conforms("qtest", &spec, &exchanges, QTEST_USED);

    // Control: the recorded test-case create without `properties` is rejected.
    let mut tampered = exchanges
        .iter()
        .find(|e| e.method == "POST" && e.path.ends_with("/test-cases") && e.status < 300)
        .unwrap()
        .clone();
    let mut body: serde_json::Value = serde_json::from_slice(&tampered.request_body).unwrap();
    body.as_object_mut().unwrap().remove("properties");
    tampered.request_body = serde_json::to_vec(&body).unwrap();
    let violations = spec.validate(&tampered).unwrap_err();
    assert!(
        violations[0].contains("\"properties\" is a required property"),
        "{violations:?}"
    );

    // Control: a module delete whose `force` is not a boolean is rejected.
    let mut tampered = exchanges
        .iter()
        .find(|e| e.method == "DELETE" && e.path.contains("/modules/"))
        .unwrap()
        .clone();
    tampered.query = Some("force=yes".into());
    assert!(spec.validate(&tampered).is_err());
}

/// Injected faults (500/502/503/429, rate-limit 429s) carry bodies both specs accept for an
/// error status, so a client sees the same error shapes with and without fault injection.
#[tokio::test]
async fn injected_faults_conform_too() {
    use ztoq_mock::faults::{self, FaultConfig, Faults};
    let all_fail = FaultConfig {
        fault_rate: 1.0,
        retry_after_secs: 1,
        ..Default::default()
    };

    let zephyr_config = ztoq_mock::zephyr::ZephyrMockConfig::default();
    let token = zephyr_config.token.clone();
    let zephyr = ztoq_mock::zephyr::router(ztoq_mock::zephyr::ZephyrState::new(zephyr_config));
    let recorder = Recorder::new();
    let origin = serve(
        faults::wrap(zephyr, Faults::new(all_fail.clone())),
        recorder.clone(),
    )
    .await;
    let client = ZephyrClient::new(
        &format!("{origin}/v2"),
        Secret::new(&token),
        &ClientOptions::default(),
    )
    .unwrap();
    for _ in 0..20 {
        let status = client.project("ACME").await.unwrap_err().status();
        assert!(matches!(status, Some(429 | 500 | 502 | 503)), "{status:?}");
    }
    let exchanges = recorder.take();
    assert_eq!(exchanges.len(), 20);
    assert_conforms(
        "zephyr",
        &Spec::zephyr().unwrap(),
        &exchanges,
        &["getProject"],
    );

    let qtest_config = ztoq_mock::qtest::QtestMockConfig::default();
    let qtest = ztoq_mock::qtest::router(ztoq_mock::qtest::QtestState::new(qtest_config.clone()));
    let limited = FaultConfig {
        rate_limit: Some(1.0),
        retry_after_secs: 2,
        ..Default::default()
    };
    let origin = serve(faults::wrap(qtest, Faults::new(limited)), recorder.clone()).await;
    let auth = QtestAuth::Token(Secret::new(&qtest_config.token));
    let qt = QtestClient::connect(
        &origin,
        qtest_config.project_id,
        auth,
        &ClientOptions::default(),
    )
    .await
    .unwrap();
    qt.project().await.unwrap();
    let err = qt.project().await.unwrap_err();
    assert_eq!(err.status(), Some(429));
    let exchanges = recorder.take();
    assert_conforms(
        "qtest",
        &Spec::qtest().unwrap(),
        &exchanges,
        &["getProject"],
    );
}
