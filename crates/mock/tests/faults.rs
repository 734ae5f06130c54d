//! The fault injector over real HTTP on 127.0.0.1, seen through reqwest as ztoq builds it
//! (`ztoq_http::build_client`) and through the real Zephyr and qTest clients: every mode
//! breaks the exchange the way it claims to, is classified transient, is counted, and applies
//! the request (truncated body, lost response) or not (reset, timeout) as documented.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use ztoq_http::{Api, ApiError, ClientOptions, ErrorClass, Secret, build_client};
use ztoq_mock::faults::{self, FaultConfig, FaultStats, Faults};
use ztoq_mock::qtest::{QtestMockConfig, QtestState};
use ztoq_mock::zephyr::{ZephyrMockConfig, ZephyrState};
use ztoq_model::qtest::Module;
use ztoq_qtest::{QtestAuth, QtestClient};
use ztoq_zephyr::ZephyrClient;

/// A qTest mock behind the fault injector.
struct Qtest {
    base: String,
    state: Arc<QtestState>,
    faults: Arc<Faults>,
    config: QtestMockConfig,
}

async fn serve(router: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

async fn qtest(config: FaultConfig) -> Qtest {
    let mock_config = QtestMockConfig::default();
    let state = QtestState::new(mock_config.clone());
    let faults = Faults::new(config);
    let base = serve(faults::wrap(
        ztoq_mock::qtest::router(state.clone()),
        faults.clone(),
    ))
    .await;
    Qtest {
        base,
        state,
        faults,
        config: mock_config,
    }
}

fn options(timeout: Duration) -> ClientOptions {
    ClientOptions {
        timeout,
        ..ClientOptions::default()
    }
}

impl Qtest {
    async fn client(&self, timeout: Duration) -> QtestClient {
        QtestClient::connect(
            &self.base,
            self.config.project_id,
            QtestAuth::Token(Secret::new(&self.config.token)),
            &options(timeout),
        )
        .await
        .unwrap()
    }

    /// A raw request on a project path, authenticated.
    fn raw(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        client
            .request(
                method,
                format!(
                    "{}/api/v3/projects/{}{path}",
                    self.base, self.config.project_id
                ),
            )
            .bearer_auth(&self.config.token)
    }
}

fn module(name: &str) -> Module {
    Module {
        name: Some(name.into()),
        ..Module::default()
    }
}

/// A transport error (no usable answer), transient, flagged as possibly applied.
#[track_caller]
fn assert_transport(e: &ApiError) {
    assert_eq!(e.class(), ErrorClass::Transient, "{e}");
    match e {
        ApiError::Transport { maybe_applied, .. } => {
            assert!(
                maybe_applied,
                "a request that left may have been applied: {e}"
            )
        }
        other => panic!("expected a transport error, got {other}"),
    }
}

const LONG: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_reset_closes_the_connection_before_the_handler_runs() {
    let mock = qtest(FaultConfig {
        reset_rate: 1.0,
        ..FaultConfig::default()
    })
    .await;
    let client = mock.client(LONG).await;
    for i in 0..10 {
        let started = Instant::now();
        let e = client
            .create_module(None, &module(&format!("m{i}")))
            .await
            .unwrap_err();
        assert_transport(&e);
        assert!(started.elapsed() < Duration::from_secs(5), "no hang: {e}");
        assert_transport(&client.project().await.unwrap_err());
    }
    // The client got no answer at all: no status, not even headers.
    let raw = build_client(Api::Qtest, &options(LONG)).unwrap();
    let e = mock
        .raw(&raw, reqwest::Method::POST, "/modules")
        .json(&module("raw"))
        .send()
        .await
        .unwrap_err();
    assert!(
        e.is_request() && !e.is_connect() && !e.is_timeout(),
        "{e:?}"
    );

    assert_eq!(mock.state.summary().modules, 0, "nothing was applied");
    assert_eq!(
        mock.faults.stats(),
        FaultStats {
            requests: 21,
            resets: 21,
            ..FaultStats::default()
        }
    );
}

#[tokio::test]
async fn a_hang_makes_the_client_time_out_and_applies_nothing() {
    let mock = qtest(FaultConfig {
        timeout_rate: 1.0,
        timeout_ms: 1_500,
        ..FaultConfig::default()
    })
    .await;
    let client = mock.client(Duration::from_millis(300)).await;
    let started = Instant::now();
    let e = client.create_module(None, &module("m")).await.unwrap_err();
    let waited = started.elapsed();
    assert_transport(&e);
    assert!(
        e.to_string().contains("timed out"),
        "the client timed out: {e}"
    );
    assert!(
        (Duration::from_millis(300)..Duration::from_millis(1_400)).contains(&waited),
        "gave up after its own timeout: {waited:?}"
    );
    assert_transport(&client.project().await.unwrap_err());

    // A client more patient than the hang gets no answer either.
    let patient = mock.client(LONG).await;
    let started = Instant::now();
    let e = patient.create_module(None, &module("p")).await.unwrap_err();
    assert_transport(&e);
    assert!(started.elapsed() >= Duration::from_millis(1_500), "{e}");

    // Once every hang is over, still nothing was applied.
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    assert_eq!(mock.state.summary().modules, 0);
    let stats = mock.faults.stats();
    assert_eq!((stats.requests, stats.timeouts), (3, 3), "{stats:?}");
}

#[tokio::test]
async fn a_truncated_body_comes_after_the_create_was_applied() {
    let mock = qtest(FaultConfig {
        truncate_rate: 1.0,
        ..FaultConfig::default()
    })
    .await;
    let client = mock.client(LONG).await;
    for i in 0..5 {
        let e = client
            .create_module(None, &module(&format!("m{i}")))
            .await
            .unwrap_err();
        assert_transport(&e);
        assert_eq!(mock.state.summary().modules, i + 1, "applied: {e}");
    }
    assert_transport(&client.project().await.unwrap_err());

    // The status and headers arrive; the body stops short of its Content-Length.
    let raw = build_client(Api::Qtest, &options(LONG)).unwrap();
    let response = mock
        .raw(&raw, reqwest::Method::POST, "/modules")
        .json(&module("raw"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let declared = response.content_length().unwrap();
    assert!(declared > 10, "{declared}");
    let e = response.bytes().await.unwrap_err();
    assert!(e.is_body() || e.is_decode(), "{e:?}");
    assert_eq!(mock.state.summary().modules, 6);

    // Error answers are cut off too, but their status still reaches the client.
    let e = client
        .create_module(Some(999_999), &module("orphan"))
        .await
        .unwrap_err();
    assert_eq!((e.status(), e.class()), (Some(404), ErrorClass::Permanent));

    let stats = mock.faults.stats();
    assert_eq!((stats.requests, stats.truncated), (8, 8), "{stats:?}");
}

#[tokio::test]
async fn a_lost_response_comes_after_the_create_was_applied() {
    let mock = qtest(FaultConfig {
        lost_response_rate: 1.0,
        ..FaultConfig::default()
    })
    .await;
    let client = mock.client(LONG).await;
    for i in 0..5 {
        let e = client
            .create_module(None, &module(&format!("m{i}")))
            .await
            .unwrap_err();
        assert_transport(&e);
        assert_eq!(mock.state.summary().modules, i + 1, "applied: {e}");
    }
    // No answer at all: no status, no headers.
    let raw = build_client(Api::Qtest, &options(LONG)).unwrap();
    let e = mock
        .raw(&raw, reqwest::Method::POST, "/modules")
        .json(&module("raw"))
        .send()
        .await
        .unwrap_err();
    assert!(
        e.is_request() && !e.is_connect() && !e.is_timeout(),
        "{e:?}"
    );
    assert_eq!(mock.state.summary().modules, 6);

    // Reads, and writes the handler refused (nothing applied), are answered normally.
    let listed = client.modules(None, false).await.unwrap();
    assert_eq!(listed.len(), 6, "the lost creates are all there");
    client.project().await.unwrap();
    let e = client
        .create_module(Some(999_999), &module("orphan"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(404));

    let stats = mock.faults.stats();
    assert_eq!((stats.requests, stats.lost_responses), (9, 6), "{stats:?}");
}

#[tokio::test]
async fn a_latency_spike_delays_the_answer() {
    let mock = qtest(FaultConfig {
        latency_spike_rate: 1.0,
        latency_spike_ms: 250,
        ..FaultConfig::default()
    })
    .await;
    let client = mock.client(LONG).await;
    let started = Instant::now();
    client.create_module(None, &module("m")).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(mock.state.summary().modules, 1);
    let stats = mock.faults.stats();
    assert_eq!((stats.requests, stats.latency_spikes), (1, 1));
}

#[tokio::test]
async fn zero_rates_inject_nothing() {
    // Every fault configured except its rate.
    let mock = qtest(FaultConfig {
        latency_spike_ms: 5_000,
        timeout_ms: 5_000,
        retry_after_secs: 3,
        ..FaultConfig::default()
    })
    .await;
    let client = mock.client(Duration::from_secs(2)).await;
    for i in 0..100 {
        client
            .create_module(None, &module(&format!("m{i}")))
            .await
            .unwrap();
    }
    client.project().await.unwrap();
    assert_eq!(mock.state.summary().modules, 100);
    assert_eq!(
        mock.faults.stats(),
        FaultStats {
            requests: 101,
            ..FaultStats::default()
        }
    );
}

#[tokio::test]
async fn mixed_rates_are_counted_and_match_what_the_client_saw() {
    let mock = qtest(FaultConfig {
        reset_rate: 0.1,
        timeout_rate: 0.1,
        timeout_ms: 2_000,
        truncate_rate: 0.1,
        lost_response_rate: 0.1,
        fault_rate: 0.1,
        latency_spike_rate: 0.1,
        latency_spike_ms: 10,
        ..FaultConfig::default()
    })
    .await;
    let client = mock.client(Duration::from_millis(500)).await;
    let (mut ok, mut transport, mut status) = (0u64, 0u64, 0u64);
    let calls = futures::future::join_all((0..300).map(|i| {
        let client = client.clone();
        async move { client.create_module(None, &module(&format!("m{i}"))).await }
    }))
    .await;
    for result in calls {
        match result {
            Ok(_) => ok += 1,
            Err(e) => {
                assert_eq!(e.class(), ErrorClass::Transient, "{e}");
                match e {
                    ApiError::Transport { .. } => transport += 1,
                    _ => status += 1,
                }
            }
        }
    }
    let stats = mock.faults.stats();
    assert_eq!(stats.requests, 300);
    assert_eq!(status, stats.injected_errors, "{stats:?}");
    assert_eq!(
        transport,
        stats.resets + stats.timeouts + stats.truncated + stats.lost_responses,
        "{stats:?}"
    );
    for (name, n) in [
        ("resets", stats.resets),
        ("timeouts", stats.timeouts),
        ("truncated", stats.truncated),
        ("lost", stats.lost_responses),
        ("errors", stats.injected_errors),
        ("spikes", stats.latency_spikes),
    ] {
        assert!(
            (5..=60).contains(&n),
            "{name}: {n} of 300 at ~10 %: {stats:?}"
        );
    }
    // Applied: the successes plus the creates whose answer was lost or cut off.
    assert_eq!(
        mock.state.summary().modules,
        ok + stats.truncated + stats.lost_responses,
        "{stats:?}"
    );
}

/// The Zephyr client (reads only) sees every mode as a transient error, including attachment
/// downloads, which read their body without JSON.
#[tokio::test]
async fn the_zephyr_client_sees_every_mode_as_transient() {
    let config = ZephyrMockConfig::default();
    let token = config.token.clone();
    let state = ZephyrState::new(config);
    let faults = Faults::new(FaultConfig::default());
    let origin = serve(faults::wrap(
        ztoq_mock::zephyr::router(state.clone()),
        faults.clone(),
    ))
    .await;
    let client = ZephyrClient::new(
        &format!("{origin}/v2"),
        Secret::new(&token),
        &options(Duration::from_millis(400)),
    )
    .unwrap();
    let mut with_attachment = None;
    for case in client.test_cases("ACME").collect_all().await.unwrap() {
        if let Some(first) = client
            .test_case_attachments(&case.key)
            .await
            .unwrap()
            .first()
        {
            with_attachment = Some((case.key.clone(), first.id));
            break;
        }
    }
    let (key, attachment) = with_attachment.expect("a test case with an attachment");
    client
        .download_test_case_attachment(&key, attachment)
        .await
        .unwrap();

    let modes = [
        FaultConfig {
            reset_rate: 1.0,
            ..FaultConfig::default()
        },
        FaultConfig {
            timeout_rate: 1.0,
            timeout_ms: 2_000,
            ..FaultConfig::default()
        },
        FaultConfig {
            truncate_rate: 1.0,
            ..FaultConfig::default()
        },
        FaultConfig {
            fault_rate: 1.0,
            ..FaultConfig::default()
        },
    ];
    for mode in modes {
        faults.set(mode.clone());
        let errors = [
            client.project("ACME").await.unwrap_err(),
            client.test_steps(&key).await.unwrap_err(),
            client
                .download_test_case_attachment(&key, attachment)
                .await
                .unwrap_err(),
            client.test_cases("ACME").collect_all().await.unwrap_err(),
        ];
        for e in errors {
            assert_eq!(e.class(), ErrorClass::Transient, "{mode:?}: {e}");
        }
    }
    // Lost responses are for writes only: Zephyr reads are unaffected.
    faults.set(FaultConfig {
        lost_response_rate: 1.0,
        ..FaultConfig::default()
    });
    client.project("ACME").await.unwrap();
    let stats = faults.stats();
    assert_eq!(
        (
            stats.resets,
            stats.timeouts,
            stats.truncated,
            stats.injected_errors
        ),
        (4, 4, 4, 4),
        "{stats:?}"
    );
    assert_eq!(stats.lost_responses, 0);
}

#[tokio::test]
async fn the_control_endpoint_takes_and_checks_every_rate() {
    let mock = qtest(FaultConfig::default()).await;
    let raw = build_client(Api::Qtest, &options(LONG)).unwrap();
    let url = format!("{}{}", mock.base, faults::CONTROL_PATH);
    let put = |body: serde_json::Value| raw.put(&url).json(&body).send();
    let answer = put(serde_json::json!({"lost_response_rate": 0.25, "timeout_ms": 10}))
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let view: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(view["config"]["lost_response_rate"], 0.25);
    assert_eq!(view["config"]["reset_rate"], 0.0);
    assert_eq!(view["stats"]["lost_responses"], 0);
    assert_eq!(mock.faults.config().timeout_ms, 10);
    for field in [
        "latency_spike_rate",
        "fault_rate",
        "reset_rate",
        "timeout_rate",
        "truncate_rate",
        "lost_response_rate",
    ] {
        let answer = put(serde_json::json!({ field: 1.5 })).await.unwrap();
        assert_eq!(answer.status().as_u16(), 400, "{field}");
        let text = answer.text().await.unwrap();
        assert!(text.contains(field), "{text}");
    }
    assert_eq!(mock.faults.config().lost_response_rate, 0.25, "unchanged");
}
