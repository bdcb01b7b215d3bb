//! The container's variables, derived from the manifest: the database endpoints as Npgsql strings (database,
//! TLS mode and root certificate, application name, search path and the manifest's pool), pool sizes, the
//! mounted credential file, the read fallback gate (`read_fallback` as `PCC_DB_FALLBACK_*`), the listen
//! address; then the manifest's own `pod_env`. Sorted by name, so a render is byte-for-byte repeatable.

use std::collections::BTreeMap;

use conninfo::ConnSpec;
use provision::manifest::Deployment;
use provision::resolve::RuntimeSpecs;

use crate::objects::EnvVar;

/// The port the service listens on in the pod (probes and the Service use the port's name).
pub const HTTP_PORT: u16 = 8080;

/// A connection string for a pod: Npgsql form, no credential (the mounted secret supplies it).
fn connection_string(spec: &ConnSpec) -> String {
    debug_assert!(spec.password.is_none() && spec.username.is_none());
    // Without a password the redacted form is the whole string.
    spec.to_npgsql_redacted()
}

/// Every variable of the container, `credentials_file` being where the secret is mounted.
pub fn variables(d: &Deployment<'_>, specs: &RuntimeSpecs, credentials_file: &str) -> Vec<EnvVar> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut set = |name: &str, value: String| {
        vars.insert(name.to_owned(), value);
    };
    set("PCC_DB_PRIMARY", connection_string(&specs.primary));
    set("PCC_DB_POOL_MAX", d.sizing.pool.max.to_string());
    if let (Some(replica), Some(pool)) = (&specs.replica, d.sizing.replica_pool) {
        set("PCC_DB_REPLICA", connection_string(replica));
        set("PCC_DB_REPLICA_POOL_MAX", pool.max.to_string());
    }
    set("PCC_DB_CREDENTIALS_FILE", credentials_file.to_owned());
    // The figure the manifest's rotation rule counted (rotation.credentials_refresh).
    set(
        "PCC_DB_CREDENTIALS_REFRESH_MS",
        d.service.rotation.credentials_refresh.0.to_string(),
    );
    let f = &d.service.read_fallback;
    set("PCC_DB_FALLBACK_MIN_IN_FLIGHT", f.min_in_flight.to_string());
    set("PCC_DB_FALLBACK_MAX_IN_FLIGHT", f.max_in_flight.to_string());
    set("PCC_DB_FALLBACK_QUEUE", f.queue.to_string());
    set("PCC_DB_FALLBACK_QUEUE_WAIT_MS", f.queue_wait.0.to_string());
    set("PCC_DB_FALLBACK_LATENCY_TOLERANCE", f.latency_tolerance.to_string());
    set("PCC_DB_FALLBACK_WRITE_RESERVE", f.write_reserve.to_string());
    set("PCC_HTTP_ADDR", format!("0.0.0.0:{HTTP_PORT}"));
    // The manifest refuses pod_env names that collide with the derived ones, so nothing is overwritten.
    for (name, value) in &d.pod.env {
        vars.entry(name.clone()).or_insert_with(|| value.clone());
    }
    vars.into_iter().map(|(name, value)| EnvVar { name, value }).collect()
}
