//! Request recording for either mock: wraps any axum [`Router`] and keeps every exchange
//! (method, path, query, request headers and body, status, response content type and body) so
//! the conformance test can check them against the vendor specs afterwards.
//!
//! Invariants: the `Authorization` header is never stored; `/__mock/*` paths are not recorded;
//! bodies are buffered and handed on unchanged, so recording does not alter what either side sees.

use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// Largest request or response body the recorder buffers (attachments included).
pub const BODY_LIMIT: usize = 256 * 1024 * 1024;

/// One recorded request and its answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Exchange {
    /// HTTP method, upper case (`GET`).
    pub method: String,
    /// Request path without the query string (`/v2/testcases`).
    pub path: String,
    /// Raw query string without the `?`, if any.
    pub query: Option<String>,
    /// Request headers (lower-case names) in arrival order, `Authorization` left out.
    pub request_headers: Vec<(String, String)>,
    /// Request body bytes.
    pub request_body: Vec<u8>,
    /// Response status code.
    pub status: u16,
    /// Response `Content-Type`, if any.
    pub response_content_type: Option<String>,
    /// Response body bytes.
    pub response_body: Vec<u8>,
}

impl Exchange {
    /// The first request header called `name` (case-insensitive).
    pub fn request_header(&self, name: &str) -> Option<&str> {
        self.request_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The shared list of recorded exchanges; share it as `Arc<Recorder>`.
#[derive(Debug, Default)]
pub struct Recorder {
    exchanges: Mutex<Vec<Exchange>>,
}

impl Recorder {
    /// Creates an empty recorder.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Removes and returns everything recorded so far, oldest first.
    pub fn take(&self) -> Vec<Exchange> {
        std::mem::take(
            &mut *self
                .exchanges
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    fn push(&self, exchange: Exchange) {
        self.exchanges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(exchange);
    }
}

/// Wraps `router` so that every exchange outside `/__mock/*` is appended to `recorder`.
pub fn wrap(router: Router, recorder: Arc<Recorder>) -> Router {
    router.layer(middleware::from_fn_with_state(recorder, record))
}

/// The middleware: buffers both bodies, stores the exchange, rebuilds request and response.
async fn record(State(recorder): State<Arc<Recorder>>, request: Request, next: Next) -> Response {
    if request.uri().path().starts_with("/__mock/") {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let request_body = match to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(error) => {
            let message = format!("mock recorder could not read the request body: {error}");
            return (StatusCode::PAYLOAD_TOO_LARGE, message).into_response();
        }
    };
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    let request_headers = parts
        .headers
        .iter()
        .filter(|(name, _)| *name != header::AUTHORIZATION)
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();

    let response = next
        .run(Request::from_parts(parts, Body::from(request_body.clone())))
        .await;

    let (parts, body) = response.into_parts();
    let response_body = match to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(error) => {
            let message = format!("mock recorder could not read the response body: {error}");
            return (StatusCode::INTERNAL_SERVER_ERROR, message).into_response();
        }
    };
    recorder.push(Exchange {
        method,
        path,
        query,
        request_headers,
        request_body: request_body.to_vec(),
        status: parts.status.as_u16(),
        response_content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        response_body: response_body.to_vec(),
    });
    Response::from_parts(parts, Body::from(response_body))
}

#[cfg(test)]
pub(crate) mod testing {
    //! A minimal HTTP/1.1 client over a real loopback socket, for this crate's unit tests (the
    //! workspace's reqwest needs a rustls provider the mock crate does not depend on).
    use std::net::SocketAddr;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// A parsed answer: status, lower-cased headers, body.
    #[derive(Debug)]
    pub struct Answer {
        pub status: u16,
        pub headers: Vec<(String, String)>,
        pub body: Vec<u8>,
    }

    impl Answer {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }
        pub fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).unwrap()
        }
    }

    /// Serves `router` on 127.0.0.1:0 and returns its address.
    pub async fn serve(router: axum::Router) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        addr
    }

    /// Sends one request (`Connection: close`) and reads the whole answer.
    pub async fn call(
        addr: SocketAddr,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        parse(&raw)
    }

    fn parse(raw: &[u8]) -> Answer {
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = std::str::from_utf8(&raw[..split]).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|line| {
                let (name, value) = line.split_once(':').unwrap();
                (name.trim().to_ascii_lowercase(), value.trim().to_string())
            })
            .collect();
        let mut body = raw[split + 4..].to_vec();
        let chunked = headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v == "chunked");
        if chunked {
            body = dechunk(&body);
        }
        Answer {
            status,
            headers,
            body,
        }
    }

    fn dechunk(mut data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let eol = data.windows(2).position(|w| w == b"\r\n").unwrap();
            let size_text = std::str::from_utf8(&data[..eol]).unwrap();
            let size =
                usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
            if size == 0 {
                return out;
            }
            out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
            data = &data[eol + 2 + size + 2..];
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::{get, post};

    use super::testing::{call, serve};
    use super::*;
    use crate::faults::{self, FaultConfig, Faults};

    fn echo_router() -> Router {
        Router::new()
            .route(
                "/v2/items",
                post(|body: axum::body::Bytes| async move { (StatusCode::CREATED, body) })
                    .layer(axum::extract::DefaultBodyLimit::disable()),
            )
            .route(
                "/v2/items/{id}",
                get(|| async {
                    (
                        StatusCode::NOT_FOUND,
                        axum::Json(serde_json::json!({"errorCode": 404, "message": "no"})),
                    )
                }),
            )
    }

    #[tokio::test]
    async fn records_both_sides_without_authorization() {
        let recorder = Recorder::new();
        let addr = serve(wrap(echo_router(), recorder.clone())).await;
        let sent = br#"{"name":"x"}"#;
        let answer = call(
            addr,
            "POST",
            "/v2/items?projectKey=ACME&x=1",
            &[
                ("authorization", "Bearer secret"),
                ("content-type", "application/json"),
                ("file-name", "a b.txt"),
            ],
            sent,
        )
        .await;
        assert_eq!(answer.status, 201);
        assert_eq!(
            answer.body, sent,
            "the response body reaches the client unchanged"
        );
        let missing = call(addr, "GET", "/v2/items/9", &[], b"").await;
        assert_eq!(missing.status, 404);

        let exchanges = recorder.take();
        assert_eq!(exchanges.len(), 2);
        let first = &exchanges[0];
        assert_eq!(first.method, "POST");
        assert_eq!(first.path, "/v2/items");
        assert_eq!(first.query.as_deref(), Some("projectKey=ACME&x=1"));
        assert_eq!(first.request_body, sent);
        assert_eq!(first.response_body, sent);
        assert_eq!(first.status, 201);
        assert_eq!(
            first.request_header("Content-Type"),
            Some("application/json")
        );
        assert_eq!(first.request_header("file-name"), Some("a b.txt"));
        assert!(
            first
                .request_headers
                .iter()
                .all(|(n, _)| n != "authorization")
        );
        assert!(!format!("{first:?}").contains("secret"));

        let second = &exchanges[1];
        assert_eq!(
            (second.method.as_str(), second.path.as_str(), second.status),
            ("GET", "/v2/items/9", 404)
        );
        assert_eq!(second.query, None);
        assert_eq!(
            second.response_content_type.as_deref(),
            Some("application/json")
        );
        let body: serde_json::Value = serde_json::from_slice(&second.response_body).unwrap();
        assert_eq!(body["errorCode"], 404);

        assert!(recorder.take().is_empty(), "take empties the recorder");
    }

    #[tokio::test]
    async fn control_paths_are_not_recorded_and_faults_are() {
        let recorder = Recorder::new();
        let inner = faults::wrap(
            echo_router(),
            Faults::new(FaultConfig {
                fault_rate: 1.0,
                ..Default::default()
            }),
        );
        let addr = serve(wrap(inner, recorder.clone())).await;
        assert_eq!(
            call(addr, "GET", faults::CONTROL_PATH, &[], b"")
                .await
                .status,
            200
        );
        let failed = call(addr, "GET", "/v2/items/1", &[], b"").await;
        let exchanges = recorder.take();
        assert_eq!(exchanges.len(), 1);
        assert_eq!(exchanges[0].status, failed.status);
        assert_eq!(exchanges[0].response_body, failed.body);
    }

    #[tokio::test]
    async fn large_bodies_survive() {
        let recorder = Recorder::new();
        let addr = serve(wrap(echo_router(), recorder.clone())).await;
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let answer = call(
            addr,
            "POST",
            "/v2/items",
            &[("content-type", "application/octet-stream")],
            &big,
        )
        .await;
        assert_eq!(answer.status, 201);
        assert!(
            answer.body == big,
            "the client got {} bytes back",
            answer.body.len()
        );
        let exchanges = recorder.take();
        assert!(exchanges[0].request_body == big);
        assert!(exchanges[0].response_body == big);
    }

    #[test]
    fn exchange_round_trips_through_json() {
        let exchange = Exchange {
            method: "GET".into(),
            path: "/p".into(),
            query: None,
            request_headers: vec![("accept".into(), "*/*".into())],
            request_body: vec![],
            status: 200,
            response_content_type: Some("application/json".into()),
            response_body: b"{}".to_vec(),
        };
        let back: Exchange =
            serde_json::from_str(&serde_json::to_string(&exchange).unwrap()).unwrap();
        assert_eq!(back.request_headers, exchange.request_headers);
        let _ = Arc::new(back);
    }
}
