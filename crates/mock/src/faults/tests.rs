//! Unit tests of the fault injector over a raw loopback client (the modes that break the
//! connection are tested with reqwest in `tests/faults.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;

use super::*;
use crate::recorder::testing::{call, serve};

/// A router whose single handler counts how often it really ran.
fn counting_router() -> (Router, Arc<AtomicU64>) {
    let hits = Arc::new(AtomicU64::new(0));
    let counter = hits.clone();
    let router = Router::new().route(
        "/ping",
        get(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                "pong"
            }
        }),
    );
    (router, hits)
}

#[tokio::test]
async fn rate_one_fails_every_call_before_the_handler_runs() {
    let (router, hits) = counting_router();
    let faults = Faults::new(FaultConfig {
        fault_rate: 1.0,
        retry_after_secs: 7,
        ..Default::default()
    });
    let addr = serve(wrap(router, faults.clone())).await;
    let mut seen = std::collections::BTreeSet::new();
    let mut retry_afters = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let answer = call(addr, "GET", "/ping", &[], b"").await;
        assert!(
            [500, 502, 503, 429].contains(&answer.status),
            "status {}",
            answer.status
        );
        assert_eq!(answer.json()["errorCode"], answer.status);
        assert!(answer.json()["message"].is_string());
        seen.insert(answer.status);
        if answer.status == 429 {
            retry_afters.insert(answer.header("retry-after").map(str::to_string));
        } else {
            assert_eq!(answer.header("retry-after"), None);
        }
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "an injected fault must not reach the handler"
    );
    assert_eq!(
        seen.len(),
        4,
        "all four statuses show up in 200 tries: {seen:?}"
    );
    let expected: std::collections::BTreeSet<Option<String>> =
        [None, Some("0".to_string()), Some("7".to_string())].into();
    assert_eq!(retry_afters, expected);
    assert_eq!(
        faults.stats(),
        FaultStats {
            requests: 200,
            injected_errors: 200,
            ..FaultStats::default()
        }
    );
}

#[tokio::test]
async fn rate_zero_never_fails() {
    let (router, hits) = counting_router();
    let addr = serve(wrap(router, Faults::new(FaultConfig::default()))).await;
    for _ in 0..100 {
        let answer = call(addr, "GET", "/ping", &[], b"").await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body, b"pong");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 100);
}

#[tokio::test]
async fn rate_limit_lets_about_the_rate_through() {
    let (router, hits) = counting_router();
    let config = FaultConfig {
        rate_limit: Some(20.0),
        retry_after_secs: 3,
        ..Default::default()
    };
    let faults = Faults::new(config);
    let addr = serve(wrap(router, faults.clone())).await;
    let (mut ok, mut limited) = (0u64, 0u64);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        let answer = call(addr, "GET", "/ping", &[], b"").await;
        match answer.status {
            200 => ok += 1,
            429 => {
                limited += 1;
                assert_eq!(answer.header("retry-after"), Some("3"));
                assert_eq!(answer.json()["errorCode"], 429);
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!((19..=25).contains(&ok), "{ok} let through in 1 s at 20/s");
    assert!(limited > 0);
    assert_eq!(hits.load(Ordering::SeqCst), ok);
    let stats = faults.stats();
    assert_eq!(stats.rate_limited, limited);
    assert_eq!(stats.requests, ok + limited);
}

#[tokio::test]
async fn control_endpoint_changes_behaviour_at_run_time() {
    let (router, _) = counting_router();
    let faults = Faults::new(FaultConfig::default());
    let addr = serve(wrap(router, faults.clone())).await;
    assert_eq!(call(addr, "GET", "/ping", &[], b"").await.status, 200);

    let body = br#"{"latency_ms":0,"fault_rate":1.0,"rate_limit":null,"retry_after_secs":2}"#;
    let put = call(
        addr,
        "PUT",
        CONTROL_PATH,
        &[("content-type", "application/json")],
        body,
    )
    .await;
    assert_eq!(put.status, 200);
    assert_eq!(put.json()["config"]["fault_rate"], 1.0);
    assert_eq!(faults.config().fault_rate, 1.0);
    assert_ne!(call(addr, "GET", "/ping", &[], b"").await.status, 200);

    let bad = call(
        addr,
        "PUT",
        CONTROL_PATH,
        &[("content-type", "application/json")],
        br#"{"fault_rate":2}"#,
    )
    .await;
    assert_eq!(bad.status, 400);

    // A partial body resets the other fields to their defaults.
    let put = call(
        addr,
        "PUT",
        CONTROL_PATH,
        &[("content-type", "application/json")],
        b"{}",
    )
    .await;
    assert_eq!(put.status, 200);
    assert_eq!(call(addr, "GET", "/ping", &[], b"").await.status, 200);

    let view = call(addr, "GET", CONTROL_PATH, &[], b"").await;
    assert_eq!(view.status, 200);
    let view: FaultsView = serde_json::from_slice(&view.body).unwrap();
    assert_eq!(view.config, FaultConfig::default());
    assert_eq!(
        view.stats,
        FaultStats {
            requests: 3,
            injected_errors: 1,
            ..FaultStats::default()
        }
    );
}

#[tokio::test]
async fn latency_is_applied_but_not_to_control_paths() {
    let (router, _) = counting_router();
    let faults = Faults::new(FaultConfig {
        latency_ms: 150,
        ..Default::default()
    });
    let addr = serve(wrap(router, faults)).await;
    let start = Instant::now();
    assert_eq!(call(addr, "GET", "/ping", &[], b"").await.status, 200);
    assert!(
        start.elapsed() >= Duration::from_millis(150),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(call(addr, "GET", CONTROL_PATH, &[], b"").await.status, 200);
}

#[test]
fn the_default_injects_nothing_and_every_rate_is_checked() {
    let clean = FaultConfig::default();
    clean.check().unwrap();
    let rates = [
        clean.latency_spike_rate,
        clean.fault_rate,
        clean.reset_rate,
        clean.timeout_rate,
        clean.truncate_rate,
        clean.lost_response_rate,
    ];
    assert!(rates.iter().all(|r| *r == 0.0), "{clean:?}");
    assert_eq!((clean.latency_ms, clean.rate_limit), (0, None));
    let parsed: FaultConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(parsed, clean, "missing fields take their defaults");

    type Set = fn(&mut FaultConfig, f64);
    let setters: [(&str, Set); 6] = [
        ("latency_spike_rate", |c, v| c.latency_spike_rate = v),
        ("fault_rate", |c, v| c.fault_rate = v),
        ("reset_rate", |c, v| c.reset_rate = v),
        ("timeout_rate", |c, v| c.timeout_rate = v),
        ("truncate_rate", |c, v| c.truncate_rate = v),
        ("lost_response_rate", |c, v| c.lost_response_rate = v),
    ];
    for (name, set) in setters {
        for good in [0.0, 0.5, 1.0] {
            let mut config = FaultConfig::default();
            set(&mut config, good);
            config.check().unwrap();
        }
        for bad in [-0.1, 1.01, f64::NAN] {
            let mut config = FaultConfig::default();
            set(&mut config, bad);
            let message = config.check().unwrap_err();
            assert!(message.contains(name), "{message}");
        }
    }
}
