//! The connection budget of one server (primary or replica) of an environment:
//! sum over services of pool max x peak pods (pods + surge), plus extra login roles, plus
//! migration and admin headroom, must fit in max_connections - reserved.
//!
//! Each service login role gets CONNECTION LIMIT = its service's peak (larger pool x peak
//! pods): PostgreSQL counts a role's connections per server, and during a rotation the pods
//! move from one login to the other, so each of the pair must be able to hold all of them.
//! The two logins are never both at peak, so the budget counts the service once.

use crate::manifest::{Access, Environment, Manifest};

/// One consumer of connections.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BudgetLine {
    /// A service name, an extra role, or `migrations` / `admin and humans`.
    pub consumer: String,
    /// Connections per pod (0 for headroom lines).
    pub per_pod: u32,
    /// Peak pods (0 for headroom lines).
    pub peak_pods: u32,
    /// Connections this consumer may hold.
    pub connections: u32,
}

/// The budget of one server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Budget {
    /// `primary` or `replica`.
    pub server: &'static str,
    /// Its max_connections.
    pub max_connections: u32,
    /// Kept out of the budget.
    pub reserved: u32,
    /// The consumers.
    pub lines: Vec<BudgetLine>,
    /// Their sum.
    pub total: u32,
}

impl Budget {
    /// Connections available to consumers.
    pub fn available(&self) -> u32 {
        self.max_connections.saturating_sub(self.reserved)
    }

    /// True when the consumers fit.
    pub fn fits(&self) -> bool {
        self.total <= self.available()
    }

    /// A one-line explanation for errors and reports.
    pub fn explain(&self) -> String {
        let parts: Vec<String> = self
            .lines
            .iter()
            .map(|l| {
                if l.peak_pods == 0 {
                    format!("{} {}", l.consumer, l.connections)
                } else {
                    format!("{} {}x{}={}", l.consumer, l.per_pod, l.peak_pods, l.connections)
                }
            })
            .collect();
        format!(
            "{} needs {} connections ({}) but max_connections {} - reserved {} leaves {}",
            self.server,
            self.total,
            parts.join(" + "),
            self.max_connections,
            self.reserved,
            self.available()
        )
    }
}

fn finish(server: &'static str, env: &Environment, max_connections: u32, lines: Vec<BudgetLine>) -> Budget {
    let total = lines.iter().map(|l| l.connections).sum();
    Budget {
        server,
        max_connections,
        reserved: env.reserved_connections,
        lines,
        total,
    }
}

/// The primary's budget in `env` for `max_connections`.
pub fn primary(manifest: &Manifest, env: &Environment, max_connections: u32) -> Budget {
    let mut lines = Vec::new();
    for d in manifest.deployments(env) {
        let per_pod = d.sizing.pool.max;
        let peak_pods = d.sizing.peak_pods();
        lines.push(BudgetLine {
            consumer: d.service.name.to_string(),
            per_pod,
            peak_pods,
            connections: per_pod * peak_pods,
        });
        for role in d.service.roles.iter().filter(|r| r.login) {
            lines.push(BudgetLine {
                consumer: role.name.to_string(),
                per_pod: 0,
                peak_pods: 0,
                connections: role.connection_limit,
            });
        }
    }
    lines.push(BudgetLine {
        consumer: "migrations".to_owned(),
        per_pod: 0,
        peak_pods: 0,
        connections: env.migration_headroom,
    });
    lines.push(BudgetLine {
        consumer: "admin and humans".to_owned(),
        per_pod: 0,
        peak_pods: 0,
        connections: env.admin_headroom,
    });
    finish("primary", env, max_connections, lines)
}

/// The replica's budget in `env`, when any service reads from a replica.
pub fn replica(manifest: &Manifest, env: &Environment, max_connections: u32) -> Option<Budget> {
    let mut lines = Vec::new();
    for d in manifest.deployments(env) {
        if let Some(pool) = d.sizing.replica_pool {
            let peak_pods = d.sizing.peak_pods();
            lines.push(BudgetLine {
                consumer: d.service.name.to_string(),
                per_pod: pool.max,
                peak_pods,
                connections: pool.max * peak_pods,
            });
        }
        for role in d
            .service
            .roles
            .iter()
            .filter(|r| r.login && r.access == Access::ReadOnly)
        {
            lines.push(BudgetLine {
                consumer: role.name.to_string(),
                per_pod: 0,
                peak_pods: 0,
                connections: role.connection_limit,
            });
        }
    }
    if lines.is_empty() {
        return None;
    }
    lines.push(BudgetLine {
        consumer: "admin and humans".to_owned(),
        per_pod: 0,
        peak_pods: 0,
        connections: env.admin_headroom,
    });
    Some(finish("replica", env, max_connections, lines))
}
