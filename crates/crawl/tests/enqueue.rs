//! `enqueue` against the mocks over loopback and a real Postgres: transient failures of any
//! request are retried (with backoff) until the whole project is enqueued, and a hostile
//! source ends with each bad item failed (naming it and why) and every good one enqueued.

use sqlx::Row;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use ztoq_crawl::{EnqueueConfig, EnqueueReport, RetryPolicy, enqueue_with_retry};
use ztoq_http::{ClientOptions, Secret};
use ztoq_mock::faults::{FaultConfig, Faults};
use ztoq_mock::qtest::{QtestMockConfig, QtestState};
use ztoq_mock::zephyr::{ZephyrMockConfig, ZephyrState};
use ztoq_model::RecordKind;
use ztoq_pgtemp::testdb::TestDb;
use ztoq_qtest::QtestAuth;

const ZEPHYR_TOKEN: &str = "header.payload.signature";

async fn serve(router: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    url
}

struct Setup {
    db: TestDb,
    pool: sqlx::PgPool,
    zephyr: Arc<ZephyrState>,
    faults: Arc<Faults>,
    /// The qTest mock's faults (none unless a test sets them).
    qtest_faults: Arc<Faults>,
    config: EnqueueConfig,
}

async fn setup(scale: u64, faults: FaultConfig, page_size: u32) -> Setup {
    let zephyr = ZephyrState::new(ZephyrMockConfig {
        seed: 8,
        scale,
        project_key: "CRAWL".into(),
        token: ZEPHYR_TOKEN.into(),
        base_url: None,
    });
    let faults = Faults::new(faults);
    let zephyr_url = serve(ztoq_mock::faults::wrap(
        ztoq_mock::zephyr::router(zephyr.clone()),
        faults.clone(),
    ))
    .await;
    let qtest = QtestState::new(QtestMockConfig::default());
    let token = qtest.config().token.clone();
    let qtest_faults = Faults::new(FaultConfig::default());
    let qtest_url = serve(ztoq_mock::faults::wrap(
        ztoq_mock::qtest::router(qtest),
        qtest_faults.clone(),
    ))
    .await;
    let db = TestDb::new().await;
    let pool = db.pool().await;
    ztoq_store::migrate(&pool).await.unwrap();
    let config = EnqueueConfig {
        zephyr_url: format!("{zephyr_url}/v2"),
        zephyr_token: Secret::new(ZEPHYR_TOKEN),
        project_key: "CRAWL".into(),
        qtest_url,
        qtest_auth: QtestAuth::Token(Secret::new(token)),
        qtest_project_id: 1,
        page_size,
        http: ClientOptions::default(),
    };
    Setup {
        db,
        pool,
        zephyr,
        faults,
        qtest_faults,
        config,
    }
}

/// Fast backoff for tests: many attempts, short waits.
const FAST: RetryPolicy = RetryPolicy {
    max_attempts: 30,
    base: Duration::from_millis(5),
    max: Duration::from_millis(100),
};

fn inserted(report: &EnqueueReport, kind: RecordKind) -> u64 {
    report.inserted.get(&kind).copied().unwrap_or(0)
}

#[tokio::test]
async fn transient_failures_of_any_request_are_retried() {
    let s = setup(
        800,
        FaultConfig {
            fault_rate: 0.3,
            ..FaultConfig::default()
        },
        // Small pages: ~100 requests, so "more than 5 faults" holds but for a ~1e-9 chance
        // (with 25 a page, 45 requests met only 5 faults once in CI).
        10,
    )
    .await;
    let report = enqueue_with_retry(&s.config, &FAST, &s.pool).await.unwrap();
    let stats = s.faults.stats();
    assert!(stats.injected_errors > 5, "faults were injected: {stats:?}");
    let sum = s.zephyr.summary();
    assert_eq!(inserted(&report, RecordKind::Folder), sum.test_case_folders);
    assert_eq!(
        inserted(&report, RecordKind::CycleFolder),
        sum.test_cycle_folders
    );
    assert_eq!(inserted(&report, RecordKind::TestCase), sum.test_cases);
    assert_eq!(inserted(&report, RecordKind::TestCycle), sum.test_cycles);
    assert_eq!(inserted(&report, RecordKind::Execution), sum.executions);
    assert_eq!((report.failed, report.unreadable), (0, 0));

    // With retries exhausted, the enqueue stops with the transient error (no partial success).
    s.faults.set(FaultConfig {
        fault_rate: 1.0,
        ..FaultConfig::default()
    });
    let few = RetryPolicy {
        max_attempts: 3,
        ..FAST
    };
    let err = enqueue_with_retry(&s.config, &few, &s.pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Zephyr"), "{err}");
    drop(s.db);
}

/// qTest failing during the preflight: reads are retried, and a create of the "Zephyr Key"
/// field whose answer was lost (applied, then the connection dropped) or that failed is
/// followed by listing the fields again, so the field is adopted, not created twice.
#[tokio::test]
async fn qtest_preflight_survives_faults_and_creates_each_key_field_once() {
    let s = setup(200, FaultConfig::default(), 100).await;
    // Half of all requests fail before they are handled; every POST is applied and its answer
    // lost, so each create can only succeed by being found afterwards.
    s.qtest_faults.set(FaultConfig {
        fault_rate: 0.5,
        lost_response_rate: 1.0,
        ..FaultConfig::default()
    });
    let report = enqueue_with_retry(&s.config, &FAST, &s.pool).await.unwrap();
    assert_eq!(
        inserted(&report, RecordKind::TestCase),
        s.zephyr.summary().test_cases
    );
    let stats = s.qtest_faults.stats();
    assert!(
        stats.lost_responses >= 2,
        "both creates lost their answer: {stats:?}"
    );
    s.qtest_faults.set(FaultConfig::default());
    let qtest = ztoq_qtest::QtestClient::connect(
        &s.config.qtest_url,
        1,
        s.config.qtest_auth.clone(),
        &ClientOptions::default(),
    )
    .await
    .unwrap();
    for object_type in ["test-cases", "test-runs"] {
        let fields = qtest.fields(object_type).await.unwrap();
        let keys = fields.iter().filter(|f| f.label == "Zephyr Key").count();
        assert_eq!(keys, 1, "{object_type}: {fields:?}");
    }
    drop(s.db);
}

/// `(state, last_error)` of every record of a kind, by source key.
async fn records(pool: &sqlx::PgPool, kind: RecordKind) -> HashMap<String, (String, String)> {
    sqlx::query(
        "SELECT source_key, state, coalesce(last_error, '') AS e FROM records WHERE kind = $1",
    )
    .bind(kind.as_str())
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get("source_key"), (r.get("state"), r.get("e"))))
    .collect()
}

#[tokio::test]
async fn a_hostile_source_fails_each_bad_item_and_enqueues_the_rest() {
    let s = setup(600, FaultConfig::default(), 10).await;
    s.zephyr.set_hostile(true);
    let plan = s.zephyr.hostile_plan();
    let sum = s.zephyr.summary();
    let report = enqueue_with_retry(&s.config, &FAST, &s.pool).await.unwrap();
    assert_eq!(report.unreadable, 3, "{report:?}");
    // 2 folders in a loop, a case without its folder, an execution without its case,
    // 3 unreadable items.
    assert_eq!(report.failed, 7, "{report:?}");
    assert!(report.repeated > 0, "{report:?}");
    assert_eq!(
        inserted(&report, RecordKind::Folder),
        sum.test_case_folders + 3
    );
    assert_eq!(inserted(&report, RecordKind::TestCase), sum.test_cases + 6);
    assert_eq!(
        inserted(&report, RecordKind::TestCycle),
        sum.test_cycles + 1
    );
    assert_eq!(inserted(&report, RecordKind::Execution), sum.executions + 2);

    let folders = records(&s.pool, RecordKind::Folder).await;
    let loops: Vec<_> = folders
        .iter()
        .filter(|(_, (state, _))| state == "failed")
        .collect();
    assert_eq!(loops.len(), 2, "{folders:?}");
    for (key, (_, error)) in loops {
        assert!(key.starts_with("Loop "), "{key}");
        assert!(error.contains("parent loop"), "{error}");
        for id in plan.loop_folders {
            assert!(error.contains(&format!("(#{id})")), "{error}");
        }
    }
    let cases = records(&s.pool, RecordKind::TestCase).await;
    let (wrong_id, wrong_key) = &plan.wrong_type_case;
    let (state, error) = &cases[&format!("{wrong_key} (#{wrong_id})")];
    assert_eq!(state, "failed");
    assert!(error.contains("cannot be read from Zephyr"), "{error}");
    assert!(
        error.contains("invalid type: map, expected a string"),
        "{error}"
    );
    let (state, error) = &cases[&format!("#{}", plan.missing_fields_case)];
    assert_eq!(state, "failed");
    assert!(error.contains("missing field `key`"), "{error}");
    let (state, error) = &cases[&plan.missing_folder_case.0];
    assert_eq!(state, "failed");
    assert!(
        error.contains(&plan.missing_folder_case.1.to_string())
            && error.contains("not in the source"),
        "{error}"
    );
    let (state, error) = &cases[&plan.loop_case];
    assert_eq!(state, "blocked", "{error}");
    for key in [&plan.unicode_case, &plan.big_case] {
        assert_eq!(cases[key].0, "waiting", "{key}: {:?}", cases[key]);
    }
    let cycles = records(&s.pool, RecordKind::TestCycle).await;
    let broken: Vec<_> = cycles.values().filter(|(st, _)| st == "failed").collect();
    assert_eq!(broken.len(), 1, "{cycles:?}");
    assert!(
        broken[0].1.contains(&format!(
            "list_test_cycles item at startAt={}",
            plan.broken_cycle.0
        )) && broken[0].1.contains("not valid JSON"),
        "{}",
        broken[0].1
    );
    let executions = records(&s.pool, RecordKind::Execution).await;
    let (state, error) = &executions[&plan.orphan_execution.0];
    assert_eq!(state, "failed");
    assert!(error.contains(&plan.orphan_execution.1), "{error}");
    assert_eq!(
        executions.values().filter(|(st, _)| st == "failed").count(),
        1
    );

    // Degradations are reported, naming the item.
    let notes: Vec<String> = report
        .degraded
        .iter()
        .map(|d| format!("{} {}: {}", d.kind, d.source_key, d.note))
        .collect();
    let has = |key: &str, what: &str| notes.iter().any(|n| n.contains(key) && n.contains(what));
    assert!(has(&plan.unicode_case, "NUL"), "{notes:#?}");
    assert!(has(&plan.unicode_case, "U+FFFD"), "{notes:#?}");
    assert!(has(&plan.unicode_execution, "NUL"), "{notes:#?}");
    assert!(
        has(&format!("(#{})", plan.unicode_folder), "NUL"),
        "{notes:#?}"
    );
    assert!(has(&plan.big_case, "objective cut from"), "{notes:#?}");
    assert!(
        has(&plan.big_case, "name cut from 604 to 500"),
        "{notes:#?}"
    );

    // Nothing with a NUL reached Postgres, the HTML and unicode did, verbatim.
    let name: String = sqlx::query_scalar("SELECT name FROM src_test_cases WHERE key = $1")
        .bind(&plan.unicode_case)
        .fetch_one(&s.pool)
        .await
        .unwrap();
    assert!(name.starts_with("<script>alert(\"x\")</script>") && name.contains("שלום"));

    // Enqueueing again changes nothing.
    let again = enqueue_with_retry(&s.config, &FAST, &s.pool).await.unwrap();
    assert_eq!(again.inserted.values().sum::<u64>(), 0, "{again:?}");
    assert_eq!(again.failed, 0, "{again:?}");
    drop(s.db);
}

#[tokio::test]
async fn a_key_listed_twice_under_two_ids_fails_the_second_only() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;
    let s = setup(300, FaultConfig::default(), 1000).await;
    // A Zephyr whose test-case list also has the first case again under a new id.
    let mock = ztoq_mock::zephyr::router(s.zephyr.clone());
    let inner = mock.clone();
    let app = axum::Router::new()
        .route(
            "/v2/testcases/nextgen",
            axum::routing::get(move |request: Request<Body>| {
                let inner = inner.clone();
                async move {
                    let response = inner.oneshot(request).await.unwrap();
                    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                        .await
                        .unwrap();
                    let mut page: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                    let mut again = page["values"][0].clone();
                    again["id"] = serde_json::json!(5_000_000);
                    page["values"].as_array_mut().unwrap().push(again);
                    axum::Json(page)
                }
            }),
        )
        .fallback_service(mock);
    let mut config = s.config.clone();
    config.zephyr_url = format!("{}/v2", serve(app).await);
    let report = enqueue_with_retry(&config, &FAST, &s.pool).await.unwrap();
    assert_eq!(report.failed, 1, "{report:?}");
    let cases = records(&s.pool, RecordKind::TestCase).await;
    let (state, error) = &cases["CRAWL-T1 (#5000000)"];
    assert_eq!(state, "failed");
    assert!(
        error.contains("already held by test case #1000000"),
        "{error}"
    );
    assert_eq!(cases.len() as u64, s.zephyr.summary().test_cases + 1);
}
