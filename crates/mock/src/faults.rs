//! Fault injection for either mock: wraps any axum [`Router`] with a fixed latency, a token-bucket
//! rate limit and randomly injected server errors, all adjustable at run time through
//! `GET/PUT /__mock/faults`.
//!
//! Invariants: `/__mock/*` paths are never delayed, limited, failed or counted; an injected fault
//! or a rate-limit answer is produced BEFORE the inner handler runs, so the request it answers
//! was not applied (a client that retries it creates nothing twice).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// Path of the control endpoint added by [`wrap`].
pub const CONTROL_PATH: &str = "/__mock/faults";

/// What to inject. Every field defaults to "nothing", so `FaultConfig::default()` is a clean mock.
#[derive(Clone, Debug, Serialize, Deserialize, Default, PartialEq)]
#[serde(default)]
pub struct FaultConfig {
    /// Fixed delay added to every request, in milliseconds.
    pub latency_ms: u64,
    /// Probability (0..=1) that a request is answered with an injected 500, 502, 503 or 429.
    pub fault_rate: f64,
    /// Sustained requests per second let through; `None` = unlimited. Over the limit → 429.
    pub rate_limit: Option<f64>,
    /// `Retry-After` seconds sent with rate-limit 429s (and with some injected 429s).
    pub retry_after_secs: u64,
}

impl FaultConfig {
    /// Checks the ranges: `fault_rate` in 0..=1, `rate_limit` finite and > 0.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.fault_rate) {
            return Err(format!(
                "fault_rate must be within 0..=1, got {}",
                self.fault_rate
            ));
        }
        if let Some(rate) = self.rate_limit
            && !(rate.is_finite() && rate > 0.0)
        {
            return Err(format!("rate_limit must be a positive number, got {rate}"));
        }
        Ok(())
    }
}

/// Counters since the [`Faults`] was created (not reset by [`Faults::set`]).
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq)]
pub struct FaultStats {
    /// Requests seen on non-control paths.
    pub requests: u64,
    /// Requests answered with an injected 500/502/503/429.
    pub injected_errors: u64,
    /// Requests answered 429 by the rate limiter.
    pub rate_limited: u64,
}

/// Body of `GET/PUT /__mock/faults`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct FaultsView {
    /// The configuration now in force.
    pub config: FaultConfig,
    /// The counters.
    pub stats: FaultStats,
}

/// Token bucket state: `tokens` available at instant `last`.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Run-time adjustable fault configuration plus counters; share it as `Arc<Faults>`.
#[derive(Debug)]
pub struct Faults {
    config: Mutex<FaultConfig>,
    bucket: Mutex<Bucket>,
    requests: AtomicU64,
    injected_errors: AtomicU64,
    rate_limited: AtomicU64,
}

/// Burst size of the token bucket for a given rate: a tenth of a second's worth, at least one
/// request. Small on purpose, so a limit of N/s lets through about N (not 2N) in the first second.
fn burst(rate: f64) -> f64 {
    (rate / 10.0).max(1.0)
}

impl Faults {
    /// Creates the shared state with `config` in force.
    pub fn new(config: FaultConfig) -> Arc<Self> {
        let tokens = config.rate_limit.map_or(1.0, burst);
        Arc::new(Self {
            config: Mutex::new(config),
            bucket: Mutex::new(Bucket {
                tokens,
                last: Instant::now(),
            }),
            requests: AtomicU64::new(0),
            injected_errors: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
        })
    }

    /// Replaces the configuration; the token bucket restarts full.
    pub fn set(&self, config: FaultConfig) {
        let tokens = config.rate_limit.map_or(1.0, burst);
        *self.config.lock().unwrap_or_else(PoisonError::into_inner) = config;
        *self.bucket.lock().unwrap_or_else(PoisonError::into_inner) = Bucket {
            tokens,
            last: Instant::now(),
        };
    }

    /// The configuration now in force.
    pub fn config(&self) -> FaultConfig {
        self.config
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> FaultStats {
        FaultStats {
            requests: self.requests.load(Ordering::Relaxed),
            injected_errors: self.injected_errors.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
        }
    }

    fn view(&self) -> FaultsView {
        FaultsView {
            config: self.config(),
            stats: self.stats(),
        }
    }

    /// Takes one token at `rate` tokens/s; false when the bucket is empty.
    fn try_acquire(&self, rate: f64) -> bool {
        let mut bucket = self.bucket.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let refill = now.duration_since(bucket.last).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refill).min(burst(rate));
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Wraps `router` with the faults described by `faults` and adds `GET/PUT /__mock/faults`.
///
/// Order per request: latency, then the rate limit, then (with probability `fault_rate`) an
/// injected 500/502/503/429, then the inner handler.
pub fn wrap(router: Router, faults: Arc<Faults>) -> Router {
    let control = Router::new()
        .route(CONTROL_PATH, get(get_faults).put(put_faults))
        .with_state(faults.clone());
    router
        .layer(middleware::from_fn_with_state(faults, inject))
        .merge(control)
}

async fn get_faults(State(faults): State<Arc<Faults>>) -> Json<FaultsView> {
    Json(faults.view())
}

async fn put_faults(
    State(faults): State<Arc<Faults>>,
    Json(config): Json<FaultConfig>,
) -> Response {
    if let Err(message) = config.check() {
        return error_response(StatusCode::BAD_REQUEST, &message, None);
    }
    faults.set(config);
    Json(faults.view()).into_response()
}

/// The middleware: see [`wrap`].
async fn inject(State(faults): State<Arc<Faults>>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/__mock/") {
        return next.run(request).await;
    }
    faults.requests.fetch_add(1, Ordering::Relaxed);
    let config = faults.config();
    if config.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(config.latency_ms)).await;
    }
    if let Some(rate) = config.rate_limit
        && !faults.try_acquire(rate)
    {
        faults.rate_limited.fetch_add(1, Ordering::Relaxed);
        return error_response(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit exceeded (mock)",
            Some(config.retry_after_secs),
        );
    }
    if config.fault_rate > 0.0 && rand::random_bool(config.fault_rate.clamp(0.0, 1.0)) {
        faults.injected_errors.fetch_add(1, Ordering::Relaxed);
        return injected_fault(config.retry_after_secs);
    }
    next.run(request).await
}

/// One of 500, 502, 503 or 429; a 429 carries `Retry-After: 0`, none, or `retry_after_secs`.
fn injected_fault(retry_after_secs: u64) -> Response {
    match rand::random_range(0..4u8) {
        0 => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Injected fault (mock)",
            None,
        ),
        1 => error_response(StatusCode::BAD_GATEWAY, "Injected fault (mock)", None),
        2 => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Injected fault (mock)",
            None,
        ),
        _ => {
            let retry_after = match rand::random_range(0..3u8) {
                0 => Some(0),
                1 => None,
                _ => Some(retry_after_secs),
            };
            error_response(
                StatusCode::TOO_MANY_REQUESTS,
                "Injected rate limit (mock)",
                retry_after,
            )
        }
    }
}

/// `{"errorCode": N, "message": …}` (the Zephyr error shape; qTest clients read `message`).
fn error_response(status: StatusCode, message: &str, retry_after: Option<u64>) -> Response {
    let body = serde_json::json!({ "errorCode": status.as_u16(), "message": message });
    let mut response = (status, Json(body)).into_response();
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

#[cfg(test)]
mod tests {
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
                rate_limited: 0
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
                rate_limited: 0
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
}
