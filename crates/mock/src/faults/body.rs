//! Answers that break the connection: hyper aborts a connection whose response body stream
//! yields an error, so a body that fails is how an axum middleware closes a connection.
//!
//! - [`reset`]: the body fails before its first byte. hyper has only buffered the head when
//!   the error comes and drops the connection without flushing it, so the client reads no
//!   answer at all ("connection closed before message completed", or a reset when the request
//!   body was left unread).
//! - [`truncate`]: the full `Content-Length` is declared, half the body is sent and flushed
//!   (the stream pauses so hyper writes it out), then the body fails: the client has a status
//!   and headers and then an incomplete body.

use std::io;
use std::time::Duration;

use axum::body::{Body, Bytes, to_bytes};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use futures::StreamExt as _;
use futures::stream;

/// How long a truncated body pauses after its part, so hyper flushes it before the failure.
const FLUSH_PAUSE: Duration = Duration::from_millis(20);

fn injected(kind: io::ErrorKind, what: &str) -> io::Error {
    io::Error::new(kind, format!("{what} (mock fault)"))
}

/// A response that makes hyper drop the connection without sending anything.
pub(super) fn reset() -> Response {
    let failing = stream::once(async {
        Err::<Bytes, _>(injected(io::ErrorKind::ConnectionReset, "connection reset"))
    });
    let mut response = Response::new(Body::from_stream(failing));
    // Never sent; a server error if hyper ever wrote the head regardless.
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}

/// Whether an answer to `method` with `status` carries a body that can be cut (not a `HEAD`,
/// a 1xx, a 204 or a 304).
pub(super) fn has_body(method: &Method, status: StatusCode) -> bool {
    *method != Method::HEAD
        && !status.is_informational()
        && status != StatusCode::NO_CONTENT
        && status != StatusCode::NOT_MODIFIED
}

/// `response` with its body cut off halfway (at least one byte short of what is declared).
pub(super) async fn truncate(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(full) = to_bytes(body, usize::MAX).await else {
        return reset();
    };
    let declared = full.len().max(1);
    let part = full.slice(..full.len() / 2);
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(declared));
    let cut = stream::iter([Ok(part)]).chain(stream::once(async {
        tokio::time::sleep(FLUSH_PAUSE).await;
        Err(injected(io::ErrorKind::UnexpectedEof, "body truncated"))
    }));
    Response::from_parts(parts, Body::from_stream(cut))
}
