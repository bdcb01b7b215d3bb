//! `pcc-http-floor`: the HTTP floor of a hot path. A minimal axum server that answers every request with the
//! same response the service gave for that path (status, headers, body, read from a file), touching no
//! database, so wrk against it measures what HTTP alone costs on this machine: `R_http` in
//! `limit = 1 / (1/R_http + 1/R_sql)`. It runs the way the service does: its own process, a multi-threaded
//! tokio runtime with one worker per CPU, mimalloc, `TCP_NODELAY` on every connection, and it reads the
//! request body (a write's JSON) before answering.
//!
//! Usage: `pcc-http-floor <response.json> <address-file>`; the response file holds
//! `{"status": 200, "headers": [["etag", "\"3\""], ...], "body": "<text>"}`, and the chosen
//! `127.0.0.1` port is written to the address file once the server listens.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The canned response.
#[derive(serde::Deserialize)]
struct Canned {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// What every request gets, prepared once.
struct Answer {
    status: http::StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

async fn answer(State(answer): State<Arc<Answer>>, request: Request) -> Response {
    // Read the request body as the service's JSON extractor would (a write sends one).
    let _ = axum::body::to_bytes(request.into_body(), 1 << 20).await;
    let mut response = Response::new(Body::from(answer.body.clone()));
    *response.status_mut() = answer.status;
    *response.headers_mut() = answer.headers.clone();
    response
}

fn load(path: &str) -> anyhow::Result<Answer> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let canned: Canned = serde_json::from_str(&text).with_context(|| format!("parsing {path}"))?;
    let mut headers = http::HeaderMap::new();
    for (name, value) in canned.headers {
        // hyper writes these itself.
        if matches!(
            name.as_str(),
            "content-length" | "date" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        headers.append(
            http::HeaderName::from_bytes(name.as_bytes()).with_context(|| format!("header name {name}"))?,
            http::HeaderValue::from_str(&value).with_context(|| format!("header {name}"))?,
        );
    }
    Ok(Answer {
        status: http::StatusCode::from_u16(canned.status).context("status")?,
        headers,
        body: Bytes::from(canned.body),
    })
}

async fn serve(canned: Answer, address_file: &str) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    std::fs::write(address_file, format!("127.0.0.1:{port}"))?;
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream: &mut tokio::net::TcpStream| {
        let _ = stream.set_nodelay(true);
    });
    let app = axum::Router::new().fallback(answer).with_state(Arc::new(canned));
    axum::serve(listener, app).await?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, response, address_file] = args.as_slice() else {
        eprintln!("usage: pcc-http-floor <response.json> <address-file>");
        return ExitCode::from(2);
    };
    let result = load(response).and_then(|answer| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the runtime")?
            .block_on(serve(answer, address_file))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pcc-http-floor: {e:#}");
            ExitCode::FAILURE
        }
    }
}
