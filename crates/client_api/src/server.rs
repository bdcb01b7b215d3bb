//! Serving: binds, serves the router, and drains gracefully on SIGTERM / Ctrl-C. A drain first fails
//! /readyz (so the load balancer stops routing new requests here), stops accepting connections, lets
//! in-flight requests finish up to the drain timeout, then closes the pools.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::config::HttpConfig;

/// Serves `state` on `listener` until `shutdown` is cancelled, then drains for at most `drain`.
///
/// # Errors
/// I/O errors of the listener.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    config: HttpConfig,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let router = crate::http::router(state.clone(), &config);
    let drain = config.drain_timeout;
    let drain_state = state.clone();
    let signal = shutdown.clone();
    let graceful = async move {
        signal.cancelled().await;
        drain_state.start_draining();
        tracing::info!(
            drain_timeout_ms = u64::try_from(drain.as_millis()).unwrap_or(u64::MAX),
            "draining"
        );
    };
    // TCP_NODELAY: a response is one write; Nagle's algorithm would only hold back the last segment of a
    // large one until the client acknowledges (tens of milliseconds with delayed ACKs).
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream: &mut tokio::net::TcpStream| {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let server = axum::serve(listener, router).with_graceful_shutdown(graceful);
    let server = tokio::spawn(async move { server.await });
    shutdown.cancelled().await;
    match tokio::time::timeout(drain + Duration::from_millis(100), server).await {
        Ok(Ok(result)) => result?,
        Ok(Err(join)) => tracing::error!(error = %join, "server task failed"),
        Err(_) => tracing::warn!("drain timeout reached; closing remaining connections"),
    }
    // The router (and its pools) close when the last state clone is dropped.
    drop(state);
    tracing::info!("stopped");
    Ok(())
}

/// Cancels `token` on SIGTERM or Ctrl-C.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                return;
            }
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received"),
        }
        token.cancel();
    });
}
