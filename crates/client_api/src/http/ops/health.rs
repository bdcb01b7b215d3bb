//! `/healthz` (the process answers: no database round trip, so it stays responsive under load) and
//! `/readyz` (the primary and the replica are reachable, the replica's lag; 503 while draining or when the
//! primary is down, so a load balancer stops sending traffic here).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;

/// Liveness.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The process is alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness report.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: &'static str,
    /// The primary is up (its sessions are open).
    pub primary: bool,
    /// The replica is up (null when none is configured).
    pub replica: Option<bool>,
    /// Upper bound of the replica's staleness, in milliseconds.
    pub replica_lag_ms: Option<u64>,
    /// Replica replay lag behind the primary, in bytes of WAL.
    pub replica_lag_bytes: Option<u64>,
    /// Reads the replica cannot serve that may still go to the primary right now.
    pub fallback_budget: f64,
    /// The service is shutting down.
    pub draining: bool,
}

/// Readiness.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready", body = Readiness), (status = 503, description = "Not ready", body = Readiness)))]
pub async fn readyz(State(app): State<AppState>) -> Response {
    let status = app.db.router().status();
    let primary = status.primary.up == Some(true);
    let replica = status.replica.as_ref().map(|r| r.up == Some(true));
    let draining = app.is_draining();
    let ready = primary && !draining;
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        primary,
        replica,
        replica_lag_ms: status
            .replica_staleness
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        replica_lag_bytes: status.replica_lag_bytes,
        fallback_budget: status.fallback_budget,
        draining,
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}
