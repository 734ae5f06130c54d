//! Fault injection for either mock: wraps any axum [`Router`] with latency (fixed, plus random
//! spikes), a token-bucket rate limit, injected server errors, connection resets, hangs the
//! client has to time out, truncated bodies and lost responses, each at its own rate and all
//! adjustable at run time through `GET/PUT /__mock/faults`.
//!
//! Per request, in this order (each fault drawn independently at its own rate; the first that
//! fires decides the answer):
//!
//! | fault | where | applied? | the client sees |
//! |---|---|---|---|
//! | `latency_ms`, `latency_spike_rate` × `latency_spike_ms` | before the handler | – | a delay |
//! | `rate_limit` | before | no | 429 with `Retry-After: retry_after_secs` |
//! | `fault_rate` | before | no | 500, 502, 503 or 429 (`Retry-After` 0, none or `retry_after_secs`) |
//! | `reset_rate` | before | no | the connection closed, no response |
//! | `timeout_rate` | before | no | nothing for `timeout_ms`, then the connection closed |
//! | `lost_response_rate` | AFTER, POST/PUT answered 2xx only | **yes** | the connection closed, no response |
//! | `truncate_rate` | AFTER, answers with a body only | **yes** (if the handler applied it) | status and headers, then part of the body and the connection closed |
//!
//! Invariants: `/__mock/*` paths are never delayed, limited, failed or counted; an injected
//! error, a rate-limit answer, a reset and a hang happen BEFORE the inner handler runs, so the
//! request was not applied (a retry creates nothing twice); a lost response and a truncated
//! body happen AFTER the handler ran, so the request WAS applied and the client cannot tell
//! (a retry must look for the copy first: "request accepted, response lost"). Every fault is
//! counted in [`FaultStats`].

mod body;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// Path of the control endpoint added by [`wrap`].
pub const CONTROL_PATH: &str = "/__mock/faults";

/// What to inject. Every rate defaults to 0, so `FaultConfig::default()` is a clean mock; a
/// partial JSON body leaves the missing fields at their defaults.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct FaultConfig {
    /// Fixed delay added to every request, in milliseconds.
    pub latency_ms: u64,
    /// Probability (0..=1) that a request is delayed by `latency_spike_ms` more.
    pub latency_spike_rate: f64,
    /// The extra delay of a latency spike, in milliseconds (default 1,000).
    pub latency_spike_ms: u64,
    /// Probability (0..=1) that a request is answered with an injected 500, 502, 503 or 429.
    pub fault_rate: f64,
    /// Sustained requests per second let through; `None` = unlimited. Over the limit → 429.
    pub rate_limit: Option<f64>,
    /// `Retry-After` seconds sent with rate-limit 429s (and with some injected 429s).
    pub retry_after_secs: u64,
    /// Probability (0..=1) that the connection is closed before the handler runs, without an
    /// answer (nothing applied).
    pub reset_rate: f64,
    /// Probability (0..=1) that a request hangs for `timeout_ms` before the handler runs and
    /// the connection is then closed without an answer (nothing applied).
    pub timeout_rate: f64,
    /// How long a hang lasts, in milliseconds (default 90,000: longer than the clients' default
    /// 60 s request timeout, so the client gives up first).
    pub timeout_ms: u64,
    /// Probability (0..=1) that the handler runs and its answer is cut off partway: the status,
    /// the headers with the full `Content-Length`, half the body, then the connection closed.
    pub truncate_rate: f64,
    /// Probability (0..=1) that a POST or PUT the handler accepted (2xx) is answered by closing
    /// the connection: the request was applied, the client gets no response.
    pub lost_response_rate: f64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig {
            latency_ms: 0,
            latency_spike_rate: 0.0,
            latency_spike_ms: 1_000,
            fault_rate: 0.0,
            rate_limit: None,
            retry_after_secs: 0,
            reset_rate: 0.0,
            timeout_rate: 0.0,
            timeout_ms: 90_000,
            truncate_rate: 0.0,
            lost_response_rate: 0.0,
        }
    }
}

impl FaultConfig {
    /// Checks the ranges: every rate in 0..=1, `rate_limit` finite and > 0.
    pub fn check(&self) -> Result<(), String> {
        let rates = [
            ("latency_spike_rate", self.latency_spike_rate),
            ("fault_rate", self.fault_rate),
            ("reset_rate", self.reset_rate),
            ("timeout_rate", self.timeout_rate),
            ("truncate_rate", self.truncate_rate),
            ("lost_response_rate", self.lost_response_rate),
        ];
        for (name, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be within 0..=1, got {rate}"));
            }
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
#[serde(default)]
pub struct FaultStats {
    /// Requests seen on non-control paths.
    pub requests: u64,
    /// Requests delayed by a latency spike.
    pub latency_spikes: u64,
    /// Requests answered with an injected 500/502/503/429.
    pub injected_errors: u64,
    /// Requests answered 429 by the rate limiter.
    pub rate_limited: u64,
    /// Connections closed before the handler ran (not applied).
    pub resets: u64,
    /// Requests left hanging before the handler ran (not applied).
    pub timeouts: u64,
    /// Answers cut off partway (the handler ran).
    pub truncated: u64,
    /// POST/PUT requests applied whose answer was dropped with the connection.
    pub lost_responses: u64,
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

/// The counters behind [`FaultStats`].
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    latency_spikes: AtomicU64,
    injected_errors: AtomicU64,
    rate_limited: AtomicU64,
    resets: AtomicU64,
    timeouts: AtomicU64,
    truncated: AtomicU64,
    lost_responses: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Run-time adjustable fault configuration plus counters; share it as `Arc<Faults>`.
#[derive(Debug)]
pub struct Faults {
    config: Mutex<FaultConfig>,
    bucket: Mutex<Bucket>,
    counters: Counters,
}

/// Burst size of the token bucket for a given rate: a tenth of a second's worth, at least one
/// request. Small on purpose, so a limit of N/s lets through about N (not 2N) in the first second.
fn burst(rate: f64) -> f64 {
    (rate / 10.0).max(1.0)
}

/// True with probability `rate` (never for 0 or less, always for 1 or more).
fn roll(rate: f64) -> bool {
    rate > 0.0 && rand::random_bool(rate.min(1.0))
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
            counters: Counters::default(),
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
        let c = &self.counters;
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        FaultStats {
            requests: get(&c.requests),
            latency_spikes: get(&c.latency_spikes),
            injected_errors: get(&c.injected_errors),
            rate_limited: get(&c.rate_limited),
            resets: get(&c.resets),
            timeouts: get(&c.timeouts),
            truncated: get(&c.truncated),
            lost_responses: get(&c.lost_responses),
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
/// Order per request: see the module documentation.
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

/// The middleware: see the module documentation.
async fn inject(State(faults): State<Arc<Faults>>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/__mock/") {
        return next.run(request).await;
    }
    let counters = &faults.counters;
    bump(&counters.requests);
    let config = faults.config();

    // Before the handler: nothing below applies the request.
    let mut delay = config.latency_ms;
    if roll(config.latency_spike_rate) {
        bump(&counters.latency_spikes);
        delay = delay.saturating_add(config.latency_spike_ms);
    }
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if let Some(rate) = config.rate_limit
        && !faults.try_acquire(rate)
    {
        bump(&counters.rate_limited);
        return error_response(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit exceeded (mock)",
            Some(config.retry_after_secs),
        );
    }
    if roll(config.fault_rate) {
        bump(&counters.injected_errors);
        return injected_fault(config.retry_after_secs);
    }
    if roll(config.reset_rate) {
        bump(&counters.resets);
        return body::reset();
    }
    if roll(config.timeout_rate) {
        bump(&counters.timeouts);
        tokio::time::sleep(Duration::from_millis(config.timeout_ms)).await;
        // A client still waiting gets no answer either: the hang ends like a reset.
        return body::reset();
    }

    let method = request.method().clone();
    let writes = matches!(method, Method::POST | Method::PUT);
    let response = next.run(request).await;

    // After the handler: the request was applied (when it succeeded) whatever happens now.
    if writes && response.status().is_success() && roll(config.lost_response_rate) {
        bump(&counters.lost_responses);
        drop(response);
        return body::reset();
    }
    if body::has_body(&method, response.status()) && roll(config.truncate_rate) {
        bump(&counters.truncated);
        return body::truncate(response).await;
    }
    response
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
