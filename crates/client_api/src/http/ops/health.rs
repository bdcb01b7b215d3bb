//! `/healthz` (the process answers: no database round trip, so it stays responsive under load) and
//! `/readyz` (the primary and the replica are reachable and the replica's lag; 503 while draining or when
//! the primary is down, so a load balancer stops sending traffic).

use std::time::Duration;

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
    /// The primary answered.
    pub primary: bool,
    /// The replica answered (null when none is configured).
    pub replica: Option<bool>,
    /// Replica replay lag in milliseconds.
    pub replica_lag_ms: Option<u64>,
    /// Replica replay lag in bytes of WAL.
    pub replica_lag_bytes: Option<u64>,
    /// The service is shutting down.
    pub draining: bool,
}

async fn ping(pool: &crate::db::Pool) -> bool {
    let check = async {
        let conn = pool.get().await.ok()?;
        conn.simple_query("SELECT 1").await.ok()
    };
    matches!(tokio::time::timeout(Duration::from_secs(2), check).await, Ok(Some(_)))
}

/// Readiness.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready", body = Readiness), (status = 503, description = "Not ready", body = Readiness)))]
pub async fn readyz(State(app): State<AppState>) -> Response {
    let primary = ping(app.db.primary_pool()).await;
    let replica = match app.db.replica_pool() {
        Some(pool) => Some(ping(pool).await),
        None => None,
    };
    let state = app.db.replica_state();
    let draining = app.is_draining();
    let ready = primary && !draining;
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        primary,
        replica,
        replica_lag_ms: replica.map(|_| u64::try_from(state.lag().as_millis()).unwrap_or(u64::MAX)),
        replica_lag_bytes: replica.map(|_| state.lag_bytes()),
        draining,
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}
