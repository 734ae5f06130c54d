//! The client against the mock, over real HTTP on 127.0.0.1: paging returns every entity
//! exactly once, clamped pages, whole step lists, attachments, error classes, determinism,
//! and a 500,000-record project served lazily.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use ztoq_http::{Api, ClientOptions, ErrorClass, Secret, build_client};
use ztoq_mock::zephyr::{ZephyrMockConfig, ZephyrState, router};
use ztoq_model::zephyr::parse_test_case_version_url;
use ztoq_zephyr::{Pager, ZephyrClient};

const TOKEN: &str = "header.payload.signature";

struct Mock {
    state: Arc<ZephyrState>,
    origin: String,
    client: ZephyrClient,
}

async fn start_with(config: ZephyrMockConfig) -> Mock {
    let state = ZephyrState::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let app = router(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = ZephyrClient::new(
        &format!("{origin}/v2"),
        Secret::new(TOKEN),
        &ClientOptions::default(),
    )
    .unwrap();
    Mock {
        state,
        origin,
        client,
    }
}

async fn start(seed: u64, scale: u64) -> Mock {
    start_with(ZephyrMockConfig {
        seed,
        scale,
        project_key: "ACME".into(),
        token: TOKEN.into(),
        base_url: None,
    })
    .await
}

async fn all<T: serde::de::DeserializeOwned>(pager: Pager<T>) -> Vec<T> {
    pager.collect_all().await.unwrap()
}

fn unique<I: IntoIterator<Item = i64>>(ids: I) -> usize {
    let ids: Vec<i64> = ids.into_iter().collect();
    let set: HashSet<i64> = ids.iter().copied().collect();
    assert_eq!(set.len(), ids.len(), "duplicates");
    set.len()
}

#[tokio::test]
async fn paging_returns_every_entity_exactly_once() {
    let m = start(17, 2000).await;
    let s = m.state.summary();
    m.client.healthcheck().await.unwrap();
    assert_eq!(m.client.project("ACME").await.unwrap().key, "ACME");
    for page_size in [1000, 7] {
        let c = m.client.clone().with_page_size(page_size);
        let folders = all(c.folders("ACME")).await;
        unique(folders.iter().map(|f| f.id));
        let count = |t: &str| folders.iter().filter(|f| f.folder_type == t).count() as u64;
        assert_eq!(count("TEST_CASE"), s.test_case_folders);
        assert_eq!(count("TEST_CYCLE"), s.test_cycle_folders);
        assert_eq!(count("TEST_PLAN"), s.test_plan_folders);
        let cases = all(c.test_cases("ACME")).await;
        assert_eq!(unique(cases.iter().map(|t| t.id)) as u64, s.test_cases);
        let cycles = all(c.test_cycles("ACME")).await;
        assert_eq!(unique(cycles.iter().map(|t| t.id)) as u64, s.test_cycles);
        assert!(
            cycles.iter().any(|c| c.folder.is_none()) && cycles.iter().any(|c| c.folder.is_some())
        );
        let executions = all(c.executions("ACME")).await;
        assert_eq!(unique(executions.iter().map(|e| e.id)) as u64, s.executions);
        let keys: HashSet<String> = cases.iter().map(|c| c.key.clone()).collect();
        for e in &executions {
            let (key, version) = e.test_case_key_and_version().unwrap();
            assert!(keys.contains(&key) && version == 1, "{key}");
            assert!(e.test_cycle.is_some());
        }
    }
    let statuses = m.client.statuses("ACME", "TEST_EXECUTION").await.unwrap();
    let names: Vec<&str> = statuses.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["Not Executed", "In Progress", "Pass", "Fail", "Blocked"]
    );
    assert_eq!(
        m.client.statuses("ACME", "TEST_CASE").await.unwrap().len(),
        3
    );
    assert_eq!(m.client.priorities("ACME").await.unwrap().len(), 3);
    assert_eq!(m.client.environments("ACME").await.unwrap().len(), 2);
}

#[tokio::test]
async fn page_size_is_clamped_to_1000_and_the_client_keeps_going() {
    let m = start(4, 20_000).await;
    let s = m.state.summary();
    let http = build_client(Api::Zephyr, &ClientOptions::default()).unwrap();
    let page: serde_json::Value = http
        .get(format!(
            "{}/v2/testcycles?projectKey=ACME&maxResults=5000",
            m.origin
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["maxResults"], 1000);
    let mut pager = m.client.clone().with_page_size(5000).executions("ACME");
    let mut seen = 0;
    while let Some(page) = pager.next_page().await.unwrap() {
        assert!(page.len() <= 1000);
        seen += page.len() as u64;
    }
    assert_eq!(seen, s.executions);
    assert_eq!(pager.pages_fetched(), s.executions.div_ceil(1000));
    assert!(pager.next_page().await.unwrap().is_none(), "stays done");
}

#[tokio::test]
async fn steps_come_back_whole_and_execution_steps_mirror_them() {
    let m = start(23, 2000).await;
    let s = m.state.summary();
    let c = m.client.clone();
    let mut total = 0;
    let mut long = 0;
    for case in all(c.test_cases("ACME")).await {
        let steps = c.test_steps(&case.key).await.unwrap();
        if steps.len() > 10 {
            long += 1;
        }
        assert!(steps.iter().all(|s| s.inline.is_some() && s.id.is_some()));
        total += steps.len() as u64;
    }
    assert!(
        long > 0,
        "some case has more than one default page of steps"
    );
    assert_eq!(total, s.test_steps);
    let mut total = 0;
    for e in all(c.executions("ACME")).await.iter().take(300) {
        let (key, _) =
            parse_test_case_version_url(e.test_case.self_url.as_deref().unwrap()).unwrap();
        let case_steps = c.test_steps(&key).await.unwrap();
        let results = c.execution_steps(&e.id.to_string()).await.unwrap();
        assert_eq!(results.len(), case_steps.len());
        for (r, cs) in results.iter().zip(&case_steps) {
            let (r, cs) = (r.inline.as_ref().unwrap(), cs.inline.as_ref().unwrap());
            assert_eq!(r.description, cs.description);
            assert!(r.status.is_some() && r.actual_result.is_some());
        }
        total += results.len();
    }
    assert!(total > 0);
}

#[tokio::test]
async fn attachments_list_and_download() {
    let m = start(5, 2000).await;
    let s = m.state.summary();
    let c = &m.client;
    let (mut listed, mut empty) = (0, 0);
    for case in all(c.test_cases("ACME")).await {
        let refs = c.test_case_attachments(&case.key).await.unwrap();
        if refs.is_empty() {
            empty += 1;
        }
        for r in &refs {
            let d = c
                .download_test_case_attachment(&case.key, r.id)
                .await
                .unwrap();
            let (bytes, content_type) = m.state.dataset().attachment_content(r.id).unwrap();
            assert_eq!(d.bytes.as_ref(), bytes.as_slice());
            assert_eq!(d.content_type, content_type);
            let name = r.name.as_deref().unwrap();
            let ext = name.rsplit('.').next().unwrap();
            assert!(
                content_type.ends_with(if ext == "txt" { "plain" } else { ext }),
                "{name}"
            );
            assert!((200..=5000).contains(&d.bytes.len()));
        }
        listed += refs.len() as u64;
    }
    assert_eq!(listed, s.test_case_attachments);
    assert!(empty > 0, "a 404 list came back as an empty vec");
    let mut listed = 0;
    for e in all(c.executions("ACME")).await {
        let key = e.key.unwrap();
        let refs = c.execution_attachments(&key).await.unwrap();
        if let Some(r) = refs.first() {
            let d = c.download_execution_attachment(&key, r.id).await.unwrap();
            assert_eq!(
                d.bytes.as_ref(),
                m.state
                    .dataset()
                    .attachment_content(r.id)
                    .unwrap()
                    .0
                    .as_slice()
            );
        }
        listed += refs.len() as u64;
    }
    assert_eq!(listed, s.execution_attachments);
    let err = c
        .download_test_case_attachment("ACME-T1", 1)
        .await
        .unwrap_err();
    assert_eq!(
        (err.class(), err.status()),
        (ErrorClass::Permanent, Some(404))
    );
}

#[tokio::test]
async fn a_body_cut_short_is_transient() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let head = "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n";
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(&[7u8; 100]).await;
            let _ = socket.shutdown().await;
        }
    });
    let c = ZephyrClient::new(
        &format!("http://{addr}/v2/"),
        Secret::new(TOKEN),
        &ClientOptions::default(),
    )
    .unwrap();
    let err = c
        .download_execution_attachment("ACME-E1", 700_000_000)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Transient, "{err}");
}

#[tokio::test]
async fn errors_are_classified() {
    let m = start(1, 500).await;
    let bad = ZephyrClient::new(
        &format!("{}/v2", m.origin),
        Secret::new("wrong"),
        &ClientOptions::default(),
    )
    .unwrap();
    let err = bad.project("ACME").await.unwrap_err();
    assert_eq!((err.class(), err.status()), (ErrorClass::Auth, Some(401)));
    let err = bad.test_cases("ACME").next_page().await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Auth);
    assert!(!format!("{err}").contains("wrong"));
    let err = m.client.test_steps("ACME-T999999").await.unwrap_err();
    assert_eq!(
        (err.class(), err.status()),
        (ErrorClass::Permanent, Some(404))
    );
    let err = m.client.folders("NOPE").next_page().await.unwrap_err();
    assert_eq!(err.status(), Some(404));
}

#[tokio::test]
async fn corrupted_steps_are_permanent_until_cleared() {
    let m = start(2, 500).await;
    let http = build_client(Api::Zephyr, &ClientOptions::default()).unwrap();
    let control = format!("{}/__mock/corrupt", m.origin);
    let r = http
        .post(&control)
        .json(&serde_json::json!({"testCaseKey": "ACME-T5"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let err = m.client.test_steps("ACME-T5").await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent, "{err}");
    assert!(
        m.client.test_steps("ACME-T6").await.is_ok(),
        "only that case is corrupted"
    );
    assert!(
        http.delete(&control)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let steps = m.client.test_steps("ACME-T5").await.unwrap();
    assert_eq!(steps.len() as u64, m.state.dataset().step_count(4));
}

#[tokio::test]
async fn same_seed_same_project_other_seed_other_project() {
    let config = |seed| ZephyrMockConfig {
        seed,
        scale: 3000,
        project_key: "ACME".into(),
        token: TOKEN.into(),
        base_url: Some("http://zephyr.test".into()),
    };
    let (a, b, other) = (
        start_with(config(9)).await,
        start_with(config(9)).await,
        start_with(config(10)).await,
    );
    assert_eq!(a.state.summary(), b.state.summary());
    let first = |m: Mock| async move {
        let c = m.client.with_page_size(200);
        let cases = c.test_cases("ACME").next_page().await.unwrap().unwrap();
        let executions = c
            .executions("ACME")
            .start_at(100_000_500)
            .next_page()
            .await
            .unwrap()
            .unwrap();
        let steps = c.test_steps("ACME-T3").await.unwrap();
        (cases, executions, steps)
    };
    let (a, b, other) = (first(a).await, first(b).await, first(other).await);
    assert!(
        a.0[0].test_script.as_ref().unwrap()["self"]
            .as_str()
            .unwrap()
            .starts_with("http://zephyr.test/v2/")
    );
    assert_eq!(a, b);
    assert_ne!(a.0, other.0);
    assert_ne!(a.1, other.1);
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test]
async fn a_half_million_record_project_is_served_lazily() {
    let before = rss_kib();
    let started = Instant::now();
    let m = start(31, 500_000).await;
    let s = m.state.summary();
    let record_count = s.test_case_folders
        + s.test_cycle_folders
        + s.test_cases
        + s.test_cycles
        + s.executions
        + s.test_case_attachments
        + s.execution_attachments;
    assert_eq!(record_count, 500_000);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let mid = 100_000_000 + s.executions / 2;
    let mut pager = m.client.executions("ACME").start_at(mid);
    let page = pager.next_page().await.unwrap().unwrap();
    assert_eq!(page.len(), 1000);
    assert!(page.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(page[0].id as u64, mid);
    assert_eq!(pager.position(), Some(mid + 1000));
    let last_case = format!("ACME-T{}", s.test_cases);
    assert_eq!(m.client.test_case(&last_case).await.unwrap().key, last_case);
    if let (Some(before), Some(after)) = (before, rss_kib()) {
        // Materialising 300,000 executions would take hundreds of MB.
        assert!(
            after.saturating_sub(before) < 64 * 1024,
            "RSS grew {} KiB",
            after - before
        );
    }
}

#[test]
fn pagers_and_their_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let c = ZephyrClient::new(
        "http://127.0.0.1:9/v2",
        Secret::new(TOKEN),
        &ClientOptions::default(),
    )
    .unwrap();
    let mut pager = c.executions("ACME");
    assert_send(&pager);
    assert_send(&pager.next_page());
    assert_send(&c);
}
