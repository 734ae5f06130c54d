//! Deletes through the client against the stateful mock: what each delete takes along (steps,
//! runs, logs, step logs, attachments), `force` on containers, 404 as "already gone", and the
//! mock's indexes (summary, listing, pids, search) staying consistent.

mod common;

use bytes::Bytes;
use ztoq_qtest::qtest::{
    Module, SearchParams, Status, TestCase, TestCaseRef, TestCycle, TestLog, TestRun, TestStep,
    TestStepLog,
};
use ztoq_qtest::{CycleParent, Deletion, QtestClient, RunParent, quote_query_value};

fn module(name: &str) -> Module {
    Module {
        name: Some(name.into()),
        ..Default::default()
    }
}

fn cycle(name: &str) -> TestCycle {
    TestCycle {
        name: Some(name.into()),
        ..Default::default()
    }
}

async fn case(qt: &QtestClient, module: i64, name: &str) -> TestCase {
    qt.create_test_case(&TestCase {
        name: Some(name.into()),
        parent_id: Some(module),
        test_steps: Some(vec![
            TestStep {
                description: "Do".into(),
                expected: "Done".into(),
                ..Default::default()
            },
            TestStep {
                description: "Check".into(),
                expected: "Fine".into(),
                ..Default::default()
            },
        ]),
        ..Default::default()
    })
    .await
    .unwrap()
}

/// A run of `case` under `cycle` with one log (step logs for every step) and one attachment
/// on the log; returns (run id, log id).
async fn executed(qt: &QtestClient, cycle: i64, case: &TestCase) -> (i64, i64) {
    let run = qt
        .create_test_run(
            RunParent::TestCycle(cycle),
            &TestRun {
                id: None,
                pid: None,
                name: case.name.clone(),
                properties: Vec::new(),
                test_case: TestCaseRef {
                    id: case.id.unwrap(),
                    properties: None,
                },
                test_case_version_id: None,
                parent_id: None,
                parent_type: None,
            },
        )
        .await
        .unwrap();
    let run_id = run.id.unwrap();
    let step_logs = case
        .test_steps
        .iter()
        .flatten()
        .map(|s| TestStepLog {
            test_step_id: s.id,
            test_step_log_id: None,
            status: Some(Status::id(601)),
            actual_result: None,
            order: s.order,
        })
        .collect();
    let log = qt
        .create_test_log(
            run_id,
            &TestLog {
                id: None,
                test_run_id: None,
                status: Status::id(601),
                exe_start_date: "2024-05-01T10:00:00Z".into(),
                exe_end_date: "2024-05-01T10:05:00Z".into(),
                note: None,
                test_case_version_id: None,
                properties: None,
                test_step_logs: Some(step_logs),
            },
        )
        .await
        .unwrap();
    let log_id = log.id.unwrap();
    qt.upload_attachment(
        "test-logs",
        log_id,
        "log.txt",
        "text/plain",
        Bytes::from_static(b"x"),
    )
    .await
    .unwrap();
    (run_id, log_id)
}

#[tokio::test]
async fn deletes_take_their_children_and_repeat_as_already_gone() {
    let mock = common::start().await;
    let qt = mock.client().await;
    let root = qt.create_module(None, &module("Root")).await.unwrap();
    let root_id = root.id.unwrap();
    let child = qt
        .create_module(Some(root_id), &module("Child"))
        .await
        .unwrap()
        .id
        .unwrap();
    let a = case(&qt, child, "A").await;
    let b = case(&qt, root_id, "B").await;
    let (a_id, b_id) = (a.id.unwrap(), b.id.unwrap());
    let on_case = qt
        .upload_attachment(
            "test-cases",
            a_id,
            "a.txt",
            "text/plain",
            Bytes::from_static(b"a"),
        )
        .await
        .unwrap()
        .id
        .unwrap();
    let top = qt
        .create_test_cycle(CycleParent::Root, &cycle("Top"))
        .await
        .unwrap()
        .id
        .unwrap();
    let sub = qt
        .create_test_cycle(CycleParent::TestCycle(top), &cycle("Sub"))
        .await
        .unwrap()
        .id
        .unwrap();
    let (run_a, log_a) = executed(&qt, sub, &a).await;
    let (run_b, _) = executed(&qt, sub, &b).await;
    let full = mock.state.summary();
    assert_eq!(
        (
            full.modules,
            full.test_cases,
            full.test_cycles,
            full.test_runs
        ),
        (2, 2, 2, 2)
    );
    assert_eq!(
        (full.test_logs, full.test_step_logs, full.attachments),
        (2, 4, 3)
    );

    // An attachment: gone once, then 404 = already gone (also once its owner is gone).
    let on_log = qt.attachments("test-logs", log_a).await.unwrap()[0]
        .id
        .unwrap();
    assert_eq!(
        qt.delete_attachment("test-logs", log_a, on_log)
            .await
            .unwrap(),
        Deletion::Deleted
    );
    assert_eq!(
        qt.delete_attachment("test-logs", log_a, on_log)
            .await
            .unwrap(),
        Deletion::AlreadyGone
    );
    assert_eq!(mock.state.summary().attachments, 2);

    // A run takes its logs, step logs and their attachments (qTest has no log delete).
    assert_eq!(qt.delete_test_run(run_a).await.unwrap(), Deletion::Deleted);
    let s = mock.state.summary();
    assert_eq!(
        (s.test_runs, s.test_logs, s.test_step_logs, s.attachments),
        (1, 1, 2, 2)
    );
    assert_eq!(
        qt.delete_test_run(run_a).await.unwrap(),
        Deletion::AlreadyGone
    );
    assert_eq!(qt.test_run(run_a).await.unwrap_err().status(), Some(404));
    assert_eq!(
        qt.all_test_runs(RunParent::TestCycle(sub))
            .await
            .unwrap()
            .len(),
        1
    );

    // A cycle that holds something is refused without force (400), taken whole with it.
    let refused = qt.delete_test_cycle(top, false).await.unwrap_err();
    assert_eq!(refused.status(), Some(400));
    assert_eq!(
        qt.delete_test_cycle(top, true).await.unwrap(),
        Deletion::Deleted
    );
    let s = mock.state.summary();
    assert_eq!(
        (s.test_cycles, s.test_runs, s.test_logs, s.attachments),
        (0, 0, 0, 1)
    );
    assert!(
        qt.test_cycles(CycleParent::Root, false)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(qt.all_test_runs(RunParent::Root).await.unwrap().len(), 0);
    let _ = run_b;

    // A test case takes its steps and attachments; pids of the others still resolve.
    assert_eq!(qt.delete_test_case(a_id).await.unwrap(), Deletion::Deleted);
    assert_eq!(
        qt.delete_attachment("test-cases", a_id, on_case)
            .await
            .unwrap(),
        Deletion::AlreadyGone
    );
    let s = mock.state.summary();
    assert_eq!((s.test_cases, s.test_steps, s.attachments), (1, 2, 0));
    assert_eq!(qt.test_case(a_id).await.unwrap_err().status(), Some(404));
    let by_pid = mock
        .raw()
        .get(mock.url(&format!("/test-cases/{}", b.pid.clone().unwrap())))
        .bearer_auth(&mock.config.token)
        .send()
        .await
        .unwrap();
    assert_eq!(by_pid.status().as_u16(), 200);
    let by_name = SearchParams {
        object_type: "test-cases".into(),
        fields: Some(vec!["*".into()]),
        query: Some(format!("Name = {}", quote_query_value("A"))),
    };
    assert_eq!(
        qt.search::<TestCase>(&by_name, 1, 10).await.unwrap().total,
        0
    );
    assert_eq!(qt.all_test_cases(None).await.unwrap().len(), 1);

    // A module: refused while it holds anything, children first works without force.
    assert_eq!(
        qt.delete_module(root_id, false).await.unwrap_err().status(),
        Some(400)
    );
    assert_eq!(
        qt.delete_module(child, false).await.unwrap(),
        Deletion::Deleted
    );
    assert_eq!(qt.delete_test_case(b_id).await.unwrap(), Deletion::Deleted);
    assert_eq!(
        qt.delete_module(root_id, false).await.unwrap(),
        Deletion::Deleted
    );
    assert_eq!(
        qt.delete_module(root_id, false).await.unwrap(),
        Deletion::AlreadyGone
    );
    assert_eq!(mock.state.summary(), Default::default());
    assert!(qt.modules(None, true).await.unwrap().is_empty());

    // New objects get fresh pids after deletes.
    let m = qt.create_module(None, &module("Again")).await.unwrap();
    let again = case(&qt, m.id.unwrap(), "Again").await;
    assert_ne!(again.pid, a.pid);
    assert_ne!(again.pid, b.pid);
}

#[tokio::test]
async fn forced_module_delete_takes_cases_and_their_runs() {
    let mock = common::start().await;
    let qt = mock.client().await;
    let root = qt
        .create_module(None, &module("Root"))
        .await
        .unwrap()
        .id
        .unwrap();
    let child = qt
        .create_module(Some(root), &module("Child"))
        .await
        .unwrap()
        .id
        .unwrap();
    let a = case(&qt, child, "A").await;
    let c = qt
        .create_test_cycle(CycleParent::Root, &cycle("C"))
        .await
        .unwrap()
        .id
        .unwrap();
    executed(&qt, c, &a).await;
    assert_eq!(
        qt.delete_module(root, true).await.unwrap(),
        Deletion::Deleted
    );
    let s = mock.state.summary();
    assert_eq!(
        (
            s.modules,
            s.test_cases,
            s.test_steps,
            s.test_runs,
            s.test_logs,
            s.attachments
        ),
        (0, 0, 0, 0, 0, 0)
    );
    assert_eq!(s.test_cycles, 1, "the cycle itself stays");
    // An attachment of an owner that is gone, an unknown object type.
    assert_eq!(
        qt.delete_attachment("test-cases", a.id.unwrap(), 1)
            .await
            .unwrap(),
        Deletion::AlreadyGone
    );
    assert!(qt.delete_attachment("../x", 1, 1).await.is_err());
}
