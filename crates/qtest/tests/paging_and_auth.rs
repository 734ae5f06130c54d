//! Paging through every endpoint shape (plain arrays for cases, the paged wrapper with `next`
//! links for runs, logs and search) and authentication failures classified as `Auth`.

mod common;

use ztoq_http::ErrorClass;
use ztoq_qtest::qtest::{
    Module, SearchParams, Status, TestCase, TestCaseRef, TestCycle, TestLog, TestRun,
};
use ztoq_qtest::{ClientOptions, CycleParent, QtestAuth, QtestClient, RunParent, Secret};

#[tokio::test]
async fn pages_cases_runs_logs_and_search() {
    let mock = common::start().await;
    let qt = mock.client().await.with_page_size(10);
    let module = qt
        .create_module(
            None,
            &Module {
                name: Some("Many".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut case_ids = Vec::new();
    for i in 0..25 {
        let case = TestCase {
            name: Some(format!("case {i}")),
            parent_id: module.id,
            ..Default::default()
        };
        case_ids.push(qt.create_test_case(&case).await.unwrap().id.unwrap());
    }
    // Test cases: `page`/`size`, plain arrays.
    assert_eq!(qt.test_cases(module.id, 3, 10).await.unwrap().len(), 5);
    assert_eq!(qt.test_cases(module.id, 4, 10).await.unwrap().len(), 0);
    let all = qt.all_test_cases(module.id).await.unwrap();
    assert_eq!(
        all.iter().map(|c| c.id.unwrap()).collect::<Vec<_>>(),
        case_ids
    );
    assert_eq!(
        qt.clone()
            .with_page_size(5)
            .all_test_cases(None)
            .await
            .unwrap()
            .len(),
        25
    );

    // Test runs: `page`/`pageSize`, wrapper with a `next` link while more remain.
    let cycle = qt
        .create_test_cycle(
            CycleParent::Root,
            &TestCycle {
                name: Some("C".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let parent = RunParent::TestCycle(cycle.id.unwrap());
    for &id in &case_ids[..7] {
        let run = TestRun {
            id: None,
            pid: None,
            name: None,
            properties: vec![],
            test_case: TestCaseRef {
                id,
                properties: None,
            },
            test_case_version_id: None,
            parent_id: None,
            parent_type: None,
        };
        let created = qt.create_test_run(parent, &run).await.unwrap();
        assert_eq!(
            created.name.as_deref(),
            Some(format!("case {}", case_ids.iter().position(|&c| c == id).unwrap()).as_str())
        );
    }
    let first = qt.test_runs(parent, 1, 3).await.unwrap();
    assert_eq!(
        (first.page, first.page_size, first.total, first.items.len()),
        (1, 3, 7, 3)
    );
    let next = first
        .links
        .iter()
        .find(|l| l.rel == "next")
        .expect("next link");
    assert!(
        next.href.contains("page=2") && next.href.contains("pageSize=3"),
        "{}",
        next.href
    );
    let last = qt.test_runs(parent, 3, 3).await.unwrap();
    assert_eq!(last.items.len(), 1);
    assert!(!last.links.iter().any(|l| l.rel == "next"));
    assert_eq!(
        qt.clone()
            .with_page_size(3)
            .all_test_runs(parent)
            .await
            .unwrap()
            .len(),
        7
    );
    assert_eq!(qt.all_test_runs(RunParent::Root).await.unwrap().len(), 0);

    // Logs of one run, oldest first.
    let run_id = first.items[0].id.unwrap();
    for status in [602, 601, 604] {
        let log = TestLog {
            id: None,
            test_run_id: None,
            status: Status::id(status),
            exe_start_date: "2024-01-01T00:00:00Z".into(),
            exe_end_date: "2024-01-01T00:01:00Z".into(),
            note: None,
            test_case_version_id: None,
            properties: None,
            test_step_logs: None,
        };
        qt.create_test_log(run_id, &log).await.unwrap();
    }
    let logs = qt
        .clone()
        .with_page_size(2)
        .all_test_logs(run_id)
        .await
        .unwrap();
    assert_eq!(
        logs.iter().map(|l| l.status.id).collect::<Vec<_>>(),
        vec![602, 601, 604]
    );
    assert_eq!(qt.test_logs(run_id, 2, 2).await.unwrap().items.len(), 1);

    // Search pages the same way.
    let params = SearchParams {
        object_type: "test-cases".into(),
        fields: Some(vec!["*".into()]),
        query: None,
    };
    let page = qt.search::<TestCase>(&params, 2, 10).await.unwrap();
    assert_eq!((page.total, page.items.len()), (25, 10));
    assert_eq!(qt.search_all::<TestCase>(&params).await.unwrap().len(), 25);
}

#[tokio::test]
async fn bad_credentials_are_auth_errors() {
    let mock = common::start().await;
    let options = ClientOptions::default();
    let bad = QtestClient::connect(
        &mock.base,
        42,
        QtestAuth::Token(Secret::new("nope")),
        &options,
    )
    .await
    .unwrap();
    let err = bad.project().await.unwrap_err();
    assert_eq!((err.class(), err.status()), (ErrorClass::Auth, Some(401)));
    let err = bad
        .create_module(
            None,
            &Module {
                name: Some("x".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Auth);

    let wrong_password = QtestAuth::Password {
        username: mock.config.username.clone(),
        password: Secret::new("guess"),
        client_name: "acme".into(),
    };
    let err = QtestClient::connect(&mock.base, 42, wrong_password, &options)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Auth);
    assert!(!err.to_string().contains("guess"));

    // Another project is a 404, not an auth failure.
    let elsewhere = QtestClient::connect(
        &mock.base,
        7,
        QtestAuth::Token(Secret::new(&mock.config.token)),
        &options,
    )
    .await
    .unwrap();
    let err = elsewhere.project().await.unwrap_err();
    assert_eq!(
        (err.class(), err.status()),
        (ErrorClass::Permanent, Some(404))
    );

    // A bad base URL is a configuration error, and Debug never shows the token.
    assert!(
        QtestClient::connect(
            "not a url",
            42,
            QtestAuth::Token(Secret::new("t")),
            &options
        )
        .await
        .is_err()
    );
    let good = mock.client().await;
    assert!(!format!("{good:?}").contains(&mock.config.token));
}

#[tokio::test]
async fn concurrent_writes_get_distinct_ids_and_counts_add_up() {
    let mock = common::start().await;
    let qt = mock.client().await;
    let module = qt
        .create_module(
            None,
            &Module {
                name: Some("Parallel".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let qt = qt.clone();
        tasks.push(tokio::spawn(async move {
            let case = TestCase {
                name: Some(format!("parallel {i}")),
                parent_id: module.id,
                test_steps: Some(vec![ztoq_qtest::qtest::TestStep {
                    description: "do".into(),
                    expected: "done".into(),
                    ..Default::default()
                }]),
                ..Default::default()
            };
            qt.create_test_case(&case).await.unwrap()
        }));
    }
    let mut ids = Vec::new();
    let mut pids = Vec::new();
    for t in tasks {
        let case = t.await.unwrap();
        ids.push(case.id.unwrap());
        pids.push(case.pid.unwrap());
    }
    ids.sort_unstable();
    ids.dedup();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!((ids.len(), pids.len()), (40, 40));
    let summary = mock.state.summary();
    assert_eq!(
        (summary.modules, summary.test_cases, summary.test_steps),
        (1, 40, 40)
    );
    assert_eq!(qt.all_test_cases(module.id).await.unwrap().len(), 40);
}
