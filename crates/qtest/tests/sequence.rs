//! A realistic migration sequence through the client against the stateful mock: login, custom
//! fields, module tree, cases with steps, cycles, runs, logs with step logs, attachments,
//! search by the source key, and the mock's summary at the end.

mod common;

use bytes::Bytes;
use ztoq_http::ErrorClass;
use ztoq_qtest::qtest::{
    Field, Module, Property, SearchParams, Status, TestCase, TestCaseRef, TestCycle, TestLog,
    TestRun, TestStep, TestStepLog,
};
use ztoq_qtest::{CycleParent, RunParent, quote_query_value};

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

fn module(name: &str) -> Module {
    Module {
        name: Some(name.into()),
        ..Default::default()
    }
}

fn step(description: &str, expected: &str) -> TestStep {
    TestStep {
        description: description.into(),
        expected: expected.into(),
        ..Default::default()
    }
}

fn run_for(case_id: i64, name: &str, properties: Vec<Property>) -> TestRun {
    TestRun {
        id: None,
        pid: None,
        name: Some(name.into()),
        properties,
        test_case: TestCaseRef {
            id: case_id,
            properties: None,
        },
        test_case_version_id: None,
        parent_id: None,
        parent_type: None,
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
async fn migration_sequence_through_the_client() {
    let mock = common::start().await;
    let qt = mock.login().await;
    assert_eq!(qt.project().await.unwrap().name, "Acme");

    // Field settings: custom "Zephyr Key" on cases and runs; Priority is a system choice field.
    let case_key = qt
        .create_field("test-cases", &text_field("Zephyr Key"))
        .await
        .unwrap();
    let run_key = qt
        .create_field("test-runs", &text_field("Zephyr Key"))
        .await
        .unwrap();
    let (case_key, run_key) = (case_key.id.unwrap(), run_key.id.unwrap());
    let dup = qt
        .create_field("test-cases", &text_field("zephyr key"))
        .await
        .unwrap_err();
    assert_eq!(
        (dup.status(), dup.class()),
        (Some(400), ErrorClass::Permanent)
    );
    let case_fields = qt.fields("test-cases").await.unwrap();
    let priority = case_fields.iter().find(|f| f.label == "Priority").unwrap();
    assert_eq!(priority.constrained, Some(true));
    let high = priority
        .allowed_values
        .as_ref()
        .unwrap()
        .iter()
        .find(|v| v.label == "High")
        .unwrap()
        .value;
    assert!(
        case_fields
            .iter()
            .any(|f| f.id == Some(case_key) && f.system_field == Some(false))
    );
    let statuses = qt.execution_statuses().await.unwrap();
    let passed = statuses
        .iter()
        .find(|s| s.name.as_deref() == Some("Passed"))
        .unwrap()
        .id;
    let failed = statuses
        .iter()
        .find(|s| s.name.as_deref() == Some("Failed"))
        .unwrap()
        .id;
    assert_eq!((passed, failed), (601, 602));

    // Module tree.
    let root = qt.create_module(None, &module("Migrated")).await.unwrap();
    let root_id = root.id.unwrap();
    assert!(root.pid.as_deref().unwrap().starts_with("MD-"));
    let child = qt
        .create_module(Some(root_id), &module("Login"))
        .await
        .unwrap();
    assert_eq!(child.parent_id, Some(root_id));
    let missing_parent = qt
        .create_module(Some(999_999), &module("Orphan"))
        .await
        .unwrap_err();
    assert_eq!(missing_parent.status(), Some(404));
    let tree = qt.modules(None, true).await.unwrap();
    assert_eq!(tree.len(), 1);
    assert_eq!(
        tree[0].children.as_ref().unwrap()[0].name.as_deref(),
        Some("Login")
    );
    assert_eq!(qt.modules(Some(root_id), false).await.unwrap().len(), 1);

    // A test case with steps and properties.
    let case = TestCase {
        name: Some("Login works".into()),
        parent_id: child.id,
        description: Some("<p>it's a test</p>".into()),
        properties: vec![
            Property::new(case_key, "P-T1"),
            Property::new(priority.id.unwrap(), high.to_string()),
        ],
        test_steps: Some(vec![
            step("Open page", "Page shows"),
            step("Log in", "Welcome"),
        ]),
        ..Default::default()
    };
    let created = qt.create_test_case(&case).await.unwrap();
    let case_id = created.id.unwrap();
    assert_eq!(created.version.as_deref(), Some("0.1"));
    assert!(created.test_case_version_id.is_some());
    assert!(created.pid.as_deref().unwrap().starts_with("TC-"));
    let steps = created.test_steps.clone().unwrap();
    assert_eq!(
        steps.iter().map(|s| s.order).collect::<Vec<_>>(),
        vec![Some(1), Some(2)]
    );
    assert!(steps.iter().all(|s| s.id.is_some()));
    let prio = created
        .properties
        .iter()
        .find(|p| p.field_id == priority.id.unwrap())
        .unwrap();
    assert_eq!(
        (prio.field_name.as_deref(), prio.field_value_name.as_deref()),
        (Some("Priority"), Some("High"))
    );
    let read_back = qt.test_case(case_id).await.unwrap();
    assert_eq!(read_back.test_steps.unwrap().len(), 2);
    // A second case, without the key, so that search has something to leave out.
    let other = TestCase {
        name: Some("Other".into()),
        parent_id: child.id,
        properties: vec![Property::new(case_key, "P-T2")],
        ..Default::default()
    };
    let other_id = qt.create_test_case(&other).await.unwrap().id.unwrap();

    // A case in a missing module is a permanent 404.
    let lost = TestCase {
        name: Some("Lost".into()),
        parent_id: Some(424_242),
        ..Default::default()
    };
    let err = qt.create_test_case(&lost).await.unwrap_err();
    assert_eq!(
        (err.status(), err.class()),
        (Some(404), ErrorClass::Permanent)
    );
    assert!(err.to_string().contains("424242"), "{err}");

    // Cycles: one under root, one under it.
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
    let sub_id = sub.id.unwrap();
    let missing_cycle = qt
        .create_test_cycle(
            CycleParent::TestCycle(777_777),
            &TestCycle {
                name: Some("x".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(missing_cycle.status(), Some(404));
    let cycles = qt.test_cycles(CycleParent::Root, true).await.unwrap();
    assert_eq!(cycles[0].test_cycles.as_ref().unwrap()[0].id, Some(sub_id));

    // Runs: one for the case in the sub-cycle, one for a missing case.
    let run = qt
        .create_test_run(
            RunParent::TestCycle(sub_id),
            &run_for(case_id, "Login works", vec![Property::new(run_key, "P-E1")]),
        )
        .await
        .unwrap();
    let run_id = run.id.unwrap();
    assert_eq!(run.test_case.id, case_id);
    assert_eq!(run.test_case_version_id, created.test_case_version_id);
    assert_eq!(
        (run.parent_id, run.parent_type.as_deref()),
        (Some(sub_id), Some("test-cycle"))
    );
    let err = qt
        .create_test_run(
            RunParent::TestCycle(sub_id),
            &run_for(555_555, "ghost", vec![]),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.class()),
        (Some(404), ErrorClass::Permanent)
    );

    // A log with step logs; it sets the run's status.
    let step_logs = steps
        .iter()
        .map(|s| TestStepLog {
            test_step_id: s.id,
            test_step_log_id: None,
            status: Some(Status::id(passed)),
            actual_result: Some("as expected".into()),
            order: s.order,
        })
        .collect();
    let created_log = qt
        .create_test_log(run_id, &log(passed, Some(step_logs)))
        .await
        .unwrap();
    let log_id = created_log.id.unwrap();
    assert_eq!(created_log.test_run_id, Some(run_id));
    assert_eq!(created_log.status.name.as_deref(), Some("Passed"));
    let logged_steps = created_log.test_step_logs.unwrap();
    assert_eq!(logged_steps.len(), 2);
    assert!(logged_steps.iter().all(|s| s.test_step_log_id.is_some()));
    let status_field = qt
        .fields("test-runs")
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.label == "Status")
        .unwrap()
        .id
        .unwrap();
    let run_now = qt.test_run(run_id).await.unwrap();
    let status_now = run_now
        .properties
        .iter()
        .find(|p| p.field_id == status_field)
        .unwrap();
    assert_eq!(status_now.field_value.as_deref(), Some("601"));
    let err = qt
        .create_test_log(987_654, &log(passed, None))
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.class()),
        (Some(404), ErrorClass::Permanent)
    );
    // A step log naming a step of no case of this run is a 400.
    let foreign = TestStepLog {
        test_step_id: Some(other_id),
        test_step_log_id: None,
        status: Some(Status::id(failed)),
        actual_result: None,
        order: Some(1),
    };
    let err = qt
        .create_test_log(run_id, &log(failed, Some(vec![foreign])))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(qt.all_test_logs(run_id).await.unwrap().len(), 1);

    // Attachments on the log and on the case.
    let att = qt
        .upload_attachment(
            "test-logs",
            log_id,
            "screen shot.png",
            "image/png",
            Bytes::from_static(b"\x89PNG...."),
        )
        .await
        .unwrap();
    assert_eq!(
        (att.name.as_deref(), att.content_type.as_deref()),
        (Some("screen shot.png"), Some("image/png"))
    );
    assert!(att.id.is_some() && att.web_url.is_some() && att.created_date.is_some());
    qt.upload_attachment(
        "test-cases",
        case_id,
        "spec.txt",
        "text/plain",
        Bytes::from_static(b"hello"),
    )
    .await
    .unwrap();
    let listed = qt.attachments("test-logs", log_id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, att.id);
    let err = qt
        .upload_attachment("test-logs", 31_337, "x.txt", "text/plain", Bytes::new())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));

    // Search by the source key finds exactly that case and that run.
    let by_key = |object_type: &str, key: &str| SearchParams {
        object_type: object_type.into(),
        fields: Some(vec!["*".into()]),
        query: Some(format!("'Zephyr Key' = {}", quote_query_value(key))),
    };
    let hits = qt
        .search::<TestCase>(&by_key("test-cases", "P-T1"), 1, 100)
        .await
        .unwrap();
    assert_eq!(hits.total, 1);
    assert_eq!(hits.items[0].id, Some(case_id));
    let hits = qt
        .search::<TestRun>(&by_key("test-runs", "P-E1"), 1, 100)
        .await
        .unwrap();
    assert_eq!(
        hits.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![Some(run_id)]
    );
    assert_eq!(
        qt.search::<TestCase>(&by_key("test-cases", "P-T9"), 1, 100)
            .await
            .unwrap()
            .total,
        0
    );
    let by_name = SearchParams {
        object_type: "test-cases".into(),
        fields: None,
        query: Some(format!(
            "Name = {} and 'Priority' = 'High'",
            quote_query_value("Login works")
        )),
    };
    assert_eq!(
        qt.search::<TestCase>(&by_name, 1, 100)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    // A run's Status (set by its last log) is searchable by choice label.
    let passed_runs = SearchParams {
        object_type: "test-runs".into(),
        fields: None,
        query: Some("'Status' = 'Passed' and 'Zephyr Key' = 'P-E1'".into()),
    };
    assert_eq!(
        qt.search::<TestRun>(&passed_runs, 1, 100)
            .await
            .unwrap()
            .total,
        1
    );
    let unexecuted = SearchParams {
        object_type: "test-runs".into(),
        fields: None,
        query: Some("Status = 'Unexecuted'".into()),
    };
    assert_eq!(
        qt.search::<TestRun>(&unexecuted, 1, 100)
            .await
            .unwrap()
            .total,
        0
    );
    let bad = SearchParams {
        object_type: "test-cases".into(),
        fields: None,
        query: Some("Name ~ 'Login".into()),
    };
    let err = qt.search::<TestCase>(&bad, 1, 100).await.unwrap_err();
    assert_eq!(
        (err.status(), err.class()),
        (Some(400), ErrorClass::Permanent)
    );

    // The mock holds exactly what was created.
    let summary = mock.state.summary();
    assert_eq!(
        summary,
        ztoq_mock::qtest::Summary {
            modules: 2,
            test_cases: 2,
            test_steps: 2,
            test_cycles: 2,
            test_runs: 1,
            test_logs: 1,
            test_step_logs: 2,
            attachments: 2,
        }
    );
}

#[tokio::test]
async fn quotes_in_values_round_trip_through_search() {
    let mock = common::start().await;
    let qt = mock.client().await;
    let key = qt
        .create_field("test-cases", &text_field("Zephyr Key"))
        .await
        .unwrap()
        .id
        .unwrap();
    let case = TestCase {
        name: Some("it's".into()),
        properties: vec![Property::new(key, "O'Brien-T1")],
        ..Default::default()
    };
    let created = qt.create_test_case(&case).await.unwrap();
    // No module given: qTest puts the case in "Created via API".
    let api_module = qt.modules(None, false).await.unwrap();
    assert_eq!(api_module[0].name.as_deref(), Some("Created via API"));
    assert_eq!(created.parent_id, api_module[0].id);
    let params = SearchParams {
        object_type: "test-cases".into(),
        fields: Some(vec!["*".into()]),
        query: Some(format!(
            "'Zephyr Key' = {} and Name = {}",
            quote_query_value("O'Brien-T1"),
            quote_query_value("it's")
        )),
    };
    let found = qt.search_all::<TestCase>(&params).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, created.id);
    let by_pid = SearchParams {
        object_type: "test-cases".into(),
        fields: None,
        query: Some(format!(
            "Id = {}",
            quote_query_value(created.pid.as_deref().unwrap())
        )),
    };
    assert_eq!(qt.search_all::<TestCase>(&by_pid).await.unwrap().len(), 1);
}
