//! `Connection: close` on a response sent before the request's body was read to the end (a 401, 404, 413,
//! 415 or 422 decided from the headers, path or the first 64 KiB).
//!
//! hyper then cannot reuse the connection unless the rest of the body is already buffered, and closes it
//! after the response, but without saying so: the client returns the connection to its pool and its next
//! request fails with "connection closed before message completed" (found by the fault suite's bad-input
//! flood, scenario 9). Saying `Connection: close` makes every client open a new connection instead
//! (RFC 9112 §9.6).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt as _;
use http::{HeaderValue, header};

/// Whether the request announces a body (chunked transfer, or a non-zero `Content-Length`).
fn has_body(request: &Request) -> bool {
    let headers = request.headers();
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|length| length > 0)
}

/// Tracks whether the handler read the body to its end; if not, the response closes the connection.
pub async fn close_if_unread(request: Request, next: Next) -> Response {
    if !has_body(&request) {
        return next.run(request).await;
    }
    let finished = Arc::new(AtomicBool::new(false));
    let flag = finished.clone();
    let (parts, body) = request.into_parts();
    // The second stream is polled only after the body's last chunk: it records the end and ends too.
    let end = futures_util::stream::poll_fn(move |_| {
        flag.store(true, Ordering::Release);
        Poll::Ready(None)
    });
    let body = Body::from_stream(body.into_data_stream().chain(end));
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if !finished.load(Ordering::Acquire) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
