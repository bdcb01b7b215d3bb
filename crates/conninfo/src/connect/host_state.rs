//! What was last observed about each host (down, or its role), shared by every connect in the
//! process, so a multi-host connect skips hosts known to be unsuitable for `Host Recheck
//! Seconds` (Npgsql's database-state cache).
//!
//! Observations are scoped by user, database and startup options, because a session's
//! read-only-ness depends on them (`-c default_transaction_read_only=on`, `ALTER ROLE ... SET`);
//! Npgsql gets the same effect by keeping one cache per data source.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use crate::host::HostSpec;
use crate::modes::ServerRole;

/// A host's last observed state: `Some(role)` when it accepted a connection, `None` when down.
pub(crate) type Observed = Option<ServerRole>;

/// (scope, host) -> what was seen and when.
type States = HashMap<(String, HostSpec), (Observed, Instant)>;

static STATES: LazyLock<Mutex<States>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// The observation for `host` if it is younger than `recheck` (never with a zero `recheck`).
pub(crate) fn fresh(scope: &str, host: &HostSpec, recheck: Duration) -> Option<Observed> {
    if recheck.is_zero() {
        return None;
    }
    let states = STATES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    states
        .get(&(scope.to_owned(), host.clone()))
        .filter(|(_, at)| at.elapsed() < recheck)
        .map(|(observed, _)| *observed)
}

/// Records what a connection attempt found.
pub(crate) fn record(scope: &str, host: &HostSpec, observed: Observed) {
    let mut states = STATES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    states.insert((scope.to_owned(), host.clone()), (observed, Instant::now()));
}
