//! Per-request plumbing: the request id (taken from a well-formed `X-Request-Id` or generated, echoed in the
//! response and put in every problem's `instance`), a JSON access-log line per request (method, route
//! template, status, duration; never the query string, bodies or headers, which may hold personal data or
//! tokens: writes and failures at info, successful reads at debug), and the request metrics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;

use crate::error::{ApiError, ProblemKind, REQUEST_ID};

/// The request id header.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// A request id unique in this process and across restarts: a random prefix drawn once, then a counter
/// (no system call per request, unlike a random UUID).
fn next_request_id() -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| uuid::Uuid::new_v4().simple().to_string()[..12].to_owned());
    format!("{prefix}-{:x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

fn well_formed(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Assigns the request id, logs and measures the request.
pub async fn observe(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| well_formed(v))
        .map_or_else(next_request_id, str::to_owned);
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    // An error-level span is enabled whatever the filter, so every event of the request carries its id.
    let span = tracing::error_span!("request", request_id = %id, http.method = %method, http.route = %route);
    let mut response =
        tracing::Instrument::instrument(REQUEST_ID.scope(id.clone(), next.run(request)), span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status();
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    let status_label = status.as_str().to_owned();
    metrics::counter!("http_requests_total", "method" => method.to_string(), "route" => route.clone(), "status" => status_label)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "method" => method.to_string(), "route" => route.clone())
        .record(elapsed.as_secs_f64());
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    // Every failure and every write is logged; successful reads only at debug level (they are counted
    // and timed in /metrics), so the log stays useful and cheap at thousands of reads per second.
    let _entered = span.enter();
    if status.is_server_error() {
        tracing::warn!(http.status = status.as_u16(), duration_ms, "request failed");
    } else if status.is_client_error() || (method != http::Method::GET && route.starts_with("/v1")) {
        tracing::info!(http.status = status.as_u16(), duration_ms, "request served");
    } else {
        tracing::debug!(http.status = status.as_u16(), duration_ms, "request served");
    }
    drop(_entered);
    response
}

/// The problem for a request that tower's layers refused (its timeout).
pub async fn refused(error: tower::BoxError) -> Response {
    if error.is::<tower::timeout::error::Elapsed>() {
        return ApiError::unavailable("the request took too long and was abandoned; retry", 1).into_response();
    }
    ApiError::internal(error).into_response()
}

/// 404 for unknown routes.
pub async fn no_route() -> ApiError {
    ApiError::new(ProblemKind::NotFound, "no resource exists at this path")
}

/// 405 for known paths with another method.
pub async fn wrong_method() -> ApiError {
    ApiError::new(
        ProblemKind::MethodNotAllowed,
        "this resource does not support the method",
    )
}

/// 500 problem for a panicking handler (the panic is logged; the connection stays usable).
#[allow(clippy::needless_pass_by_value)] // the signature CatchPanicLayer::custom requires
pub fn panicked(payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let text = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default();
    ApiError::internal(format!("handler panicked: {text}")).into_response()
}
