//! `/healthz` (the process answers: no database round trip, so it stays responsive under load) and
//! `/readyz` (the primary and the replica are reachable, the replica's lag per session, the fallback gate
//! that admits replica reads to the primary; 503 while draining or when the primary is down, so a load
//! balancer stops sending traffic here).

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
    /// Each replica session's own lag (behind a load-balanced read pool, each is its node's).
    pub replica_sessions: Vec<SessionReadiness>,
    /// How reads the replica cannot serve are admitted to the primary.
    pub fallback: FallbackReadiness,
    /// The service is shutting down.
    pub draining: bool,
}

/// One replica session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionReadiness {
    /// The session's slot (the `session` label of `db_router_replica_lag_bytes`).
    pub slot: usize,
    /// Upper bound of its staleness, in milliseconds.
    pub lag_ms: Option<u64>,
    /// Its replay lag, in bytes of WAL.
    pub lag_bytes: Option<u64>,
}

/// The fallback gate: replica reads sent to the primary while it has headroom.
#[derive(Debug, Serialize, ToSchema)]
pub struct FallbackReadiness {
    /// Fallback reads allowed in flight now (adapts to the primary's latency).
    pub limit: usize,
    /// Fallback reads running on the primary.
    pub in_flight: usize,
    /// Fallback reads waiting for a slot.
    pub queued: usize,
    /// The primary kept up at the last heartbeat (latency near normal, no write waiting for a connection).
    pub primary_healthy: bool,
    /// Recent round trip of the primary's probe, in milliseconds.
    pub primary_latency_ms: Option<f64>,
    /// Its normal level, in milliseconds.
    pub primary_normal_latency_ms: Option<f64>,
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn millis_f(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
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
        replica_lag_ms: status.replica_staleness.map(millis),
        replica_lag_bytes: status.replica_lag_bytes,
        replica_sessions: status
            .replica_sessions
            .iter()
            .map(|s| SessionReadiness {
                slot: s.slot,
                lag_ms: s.staleness.map(millis),
                lag_bytes: s.lag_bytes,
            })
            .collect(),
        fallback: FallbackReadiness {
            limit: status.fallback.limit,
            in_flight: status.fallback.in_flight,
            queued: status.fallback.queued,
            primary_healthy: status.fallback.primary_healthy,
            primary_latency_ms: status.fallback.primary_latency.map(millis_f),
            primary_normal_latency_ms: status.fallback.primary_normal_latency.map(millis_f),
        },
        draining,
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(body)).into_response()
}
