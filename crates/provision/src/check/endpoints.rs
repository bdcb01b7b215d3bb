//! Endpoints: the replica is not the primary. Primary and replica resolving to the same server (one address
//! copied into both, two Terraform outputs of the same instance, two names of one address) would send every
//! "replica" read to the primary: the plan's read/write split silently gone, and a read-only session
//! refused or, worse, a replica pool sized on top of the primary's connections.

use conninfo::{ConnSpec, Host};

use super::{Finding, Severity};
use crate::manifest::Environment;
use crate::target::EnvEndpoints;

/// `host:port` of every TCP host of `spec`, as written.
fn written(spec: &ConnSpec) -> Vec<(String, u16)> {
    spec.hosts
        .iter()
        .filter_map(|h| match &h.host {
            Host::Tcp(name) => Some((name.to_ascii_lowercase(), h.port)),
            Host::Unix(_) => None,
        })
        .collect()
}

/// The addresses `spec`'s hosts resolve to (DNS names looked up, literals as they are).
async fn resolved(spec: &ConnSpec) -> Vec<std::net::SocketAddr> {
    let mut out = Vec::new();
    for (host, port) in written(spec) {
        if let Ok(addrs) = tokio::net::lookup_host((host.as_str(), port)).await {
            out.extend(addrs);
        }
    }
    out
}

/// The host both specs name, if any (the pure part of the check).
pub(crate) fn same_written(primary: &ConnSpec, replica: &ConnSpec) -> Option<String> {
    let p = written(primary);
    written(replica)
        .into_iter()
        .find(|r| p.contains(r))
        .map(|(host, port)| format!("{host}:{port}"))
}

pub(super) async fn distinct(endpoints: &EnvEndpoints, env: &Environment, out: &mut Vec<Finding>) {
    let Some(replica) = &endpoints.replica else { return };
    let subject = format!("endpoints of {}", env.name);
    let same = match same_written(&endpoints.primary, replica) {
        Some(both) => Some(format!("primary and replica are the same server ({both})")),
        None => {
            let p = resolved(&endpoints.primary).await;
            resolved(replica)
                .await
                .into_iter()
                .find(|a| p.contains(a))
                .map(|a| format!("primary and replica resolve to the same address ({a})"))
        }
    };
    match same {
        Some(message) => out.push(
            Finding::new("endpoints", Severity::Fail, subject, message)
                .fix("point `replica` at the read pool instance (its own Terraform output or address)"),
        ),
        None => out.push(Finding::new(
            "endpoints",
            Severity::Pass,
            subject,
            "primary and replica are different servers",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(s: &str) -> ConnSpec {
        ConnSpec::parse(s).unwrap()
    }

    #[test]
    fn the_same_host_and_port_is_found_whatever_else_differs() {
        let p = spec("Host=10.0.0.1;Port=5432;SSL Mode=Require");
        assert_eq!(
            same_written(&p, &spec("Host=10.0.0.1;Port=5432;Target Session Attributes=read-only")).as_deref(),
            Some("10.0.0.1:5432")
        );
        assert_eq!(
            same_written(&spec("Host=DB.internal"), &spec("Host=db.internal")).as_deref(),
            Some("db.internal:5432")
        );
        assert_eq!(same_written(&p, &spec("Host=10.0.0.2;Port=5432")), None);
        assert_eq!(same_written(&p, &spec("Host=10.0.0.1;Port=5433")), None);
    }
}
