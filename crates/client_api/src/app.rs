//! The application state every handler receives: the database with its typed intent, the authenticator,
//! the metrics handle, and the drain flag that /readyz reports.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::{Authenticator, HasAuth};
use crate::db::Db;

/// Shared state.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Database access.
    pub db: Db,
    /// Token verification.
    pub auth: Arc<Authenticator>,
    /// Prometheus renderer; `None` when another recorder is installed (tests).
    pub metrics: Option<PrometheusHandle>,
    draining: Arc<AtomicBool>,
}

impl AppState {
    /// State over `db` and `auth`.
    pub fn new(db: Db, auth: Arc<Authenticator>, metrics: Option<PrometheusHandle>) -> Self {
        Self {
            db,
            auth,
            metrics,
            draining: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Marks the service as draining: /readyz fails so load balancers stop sending new requests.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether a drain has started.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

impl HasAuth for AppState {
    fn authenticator(&self) -> &Arc<Authenticator> {
        &self.auth
    }
}
