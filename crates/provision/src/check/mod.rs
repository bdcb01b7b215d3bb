//! `check`: the seed plan's validation criteria, run against a live cluster and the manifest.
//!
//! Every finding has a severity; any `fail` makes `pccdb check` exit 2. Checks:
//! - naming: every database of the environment is mapped to a service, no database carries
//!   another environment's suffix, the rest follow the convention (warn);
//! - drift: each step `apply` would run is a failed finding (ownership, privileges, PUBLIC,
//!   roles, limits, timeouts), and so is each blocked item;
//! - isolation probes: a service login cannot CREATE in its schema or database, cannot use
//!   TEMP, and cannot CONNECT to another service's database (`has_*_privilege`);
//! - endpoints: primary and replica are different servers (not the same host and port, nor names that
//!   resolve to one address);
//! - transport: `ssl = on`, a connection without TLS is refused before authentication (a plaintext
//!   startup message for a throwaway user, judged by the server's first answer whatever its wording;
//!   nothing secret is ever sent), SCRAM passwords;
//! - connection budget against the server's max_connections;
//! - sizes against the manifest's estimates (warn);
//! - credentials: each `current` secret logs in, is younger than the rotation policy, and no
//!   retired login outlived its grace period.

mod credentials;
mod endpoints;
mod isolation;
mod probes;
mod transport;

pub use transport::plaintext_refused;

use crate::apply::AdminSession;
use crate::budget;
use crate::catalog::ClusterSnapshot;
use crate::desired::HISTORY_TABLE;
use crate::diff::{Phase, Plan};
use crate::error::ProvisionError;
use crate::manifest::{Environment, Manifest};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The criterion holds.
    Pass,
    /// Worth a look; does not fail the check.
    Warn,
    /// The criterion is violated.
    Fail,
}

/// One result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Which criterion (`naming`, `drift`, `isolation`, `tls`, `endpoints`, `budget`, `size`, `credentials`, `platform`).
    pub check: &'static str,
    /// Pass, warn or fail.
    pub severity: Severity,
    /// What it is about (`database client_api_db_devtest`).
    pub subject: String,
    /// What was found.
    pub message: String,
    /// What to do, when something should be done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Finding {
    pub(crate) fn new(
        check: &'static str,
        severity: Severity,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            check,
            severity,
            subject: subject.into(),
            message: message.into(),
            fix: None,
        }
    }

    pub(crate) fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// All findings for one environment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckReport {
    /// The environment.
    pub environment: String,
    /// Every finding, failures first.
    pub findings: Vec<Finding>,
    /// How many failed.
    pub failed: usize,
    /// How many warned.
    pub warnings: usize,
}

impl CheckReport {
    /// True when nothing failed.
    pub fn passed(&self) -> bool {
        self.failed == 0
    }
}

/// Databases that belong to the platform, not to services.
const SYSTEM_DATABASES: &[&str] = &[
    "postgres",
    "template0",
    "template1",
    "alloydbadmin",
    "cloudsqladmin",
    "alloydbmetadata",
];

fn naming(manifest: &Manifest, env: &Environment, cluster: &ClusterSnapshot, out: &mut Vec<Finding>) {
    let managed: Vec<String> = manifest
        .deployments(env)
        .iter()
        .map(|d| d.names.database.to_string())
        .collect();
    for name in &managed {
        if cluster.databases.contains_key(name) {
            out.push(Finding::new(
                "naming",
                Severity::Pass,
                format!("database {name}"),
                "exists and follows {service}_db_{environment}",
            ));
        } else {
            out.push(
                Finding::new(
                    "naming",
                    Severity::Fail,
                    format!("database {name}"),
                    "the manifest maps a service to it but it does not exist",
                )
                .fix(format!("pccdb apply --env {}", env.name)),
            );
        }
    }
    let others = manifest.environments.keys().filter(|e| **e != env.name);
    let other_suffixes: Vec<String> = others.map(|e| format!("_db_{e}")).collect();
    for (name, db) in &cluster.databases {
        if db.is_template
            || managed.contains(name)
            || SYSTEM_DATABASES.contains(&name.as_str())
            || *name == env.maintenance_database
        {
            continue;
        }
        let subject = format!("database {name}");
        if name.ends_with(&format!("_db_{}", env.name)) {
            out.push(
                Finding::new(
                    "naming",
                    Severity::Fail,
                    subject,
                    format!(
                        "follows the convention for {} but no service in the manifest maps to it",
                        env.name
                    ),
                )
                .fix("add its service to the manifest, or drop the database"),
            );
        } else if let Some(suffix) = other_suffixes.iter().find(|s| name.ends_with(s.as_str())) {
            out.push(
                Finding::new(
                    "naming",
                    Severity::Fail,
                    subject,
                    format!(
                        "carries another environment's suffix ({}) in environment {}",
                        &suffix[4..],
                        env.name
                    ),
                )
                .fix("environments are separate clusters; move or drop it"),
            );
        } else {
            out.push(Finding::new(
                "naming",
                Severity::Warn,
                subject,
                "does not follow {service}_db_{environment} and is not in the manifest",
            ));
        }
    }
}

fn drift(env: &Environment, plan: &Plan, out: &mut Vec<Finding>) {
    if plan.is_empty() {
        out.push(Finding::new(
            "drift",
            Severity::Pass,
            format!("environment {}", env.name),
            "ownership, privileges, PUBLIC, roles, limits and timeouts match the manifest",
        ));
    }
    for step in &plan.steps {
        let subject = match &step.phase {
            Phase::Cluster => "roles".to_owned(),
            Phase::CreateDatabase(d) | Phase::Database(d) | Phase::InDatabase(d) => format!("database {d}"),
        };
        // The history table is created by the first migration and picks up the service's DML
        // through default privileges; apply takes it back. Worth fixing, not worth failing a deploy.
        let severity = if step.sql.contains(&format!(".{HISTORY_TABLE} ")) {
            Severity::Warn
        } else {
            Severity::Fail
        };
        out.push(Finding::new("drift", severity, subject, step.reason.clone()).fix(step.sql.clone()));
    }
    for b in &plan.blocked {
        out.push(Finding::new("drift", Severity::Fail, b.what.clone(), b.why.clone()).fix(b.fix.clone()));
    }
    for note in &plan.notes {
        out.push(Finding::new(
            "drift",
            Severity::Warn,
            format!("environment {}", env.name),
            note.clone(),
        ));
    }
}

fn budgets(manifest: &Manifest, env: &Environment, cluster: &ClusterSnapshot, out: &mut Vec<Finding>) {
    let max = cluster.settings.max_connections;
    for b in [
        Some(budget::primary(manifest, env, max)),
        budget::replica(manifest, env, max),
    ]
    .into_iter()
    .flatten()
    {
        let subject = format!("{} connections", b.server);
        if b.fits() {
            out.push(Finding::new(
                "budget",
                Severity::Pass,
                subject,
                format!("{} of {} available connections budgeted", b.total, b.available()),
            ));
        } else {
            out.push(
                Finding::new("budget", Severity::Fail, subject, b.explain())
                    .fix("lower pool sizes or pods, or raise max_connections"),
            );
        }
    }
    if let crate::manifest::MaxConnections::Fixed(declared) = env.max_connections
        && declared != max
    {
        out.push(Finding::new(
            "budget",
            Severity::Warn,
            "max_connections",
            format!("the manifest says {declared}, the server has {max}"),
        ));
    }
}

/// Runs every check of `env` as its admin.
///
/// # Errors
/// Errors that prevent checking at all (no connection, unreadable catalog); everything else
/// is a finding.
pub async fn check(manifest: &Manifest, env_name: &str) -> Result<CheckReport, ProvisionError> {
    let env = manifest.environment(env_name)?;
    let session = AdminSession::open(env).await?;
    let (cluster, plan) = session.plan(manifest, env).await?;
    let mut findings = Vec::new();
    naming(manifest, env, &cluster, &mut findings);
    drift(env, &plan, &mut findings);
    isolation::isolation(&session, manifest, env, &cluster, &mut findings).await?;
    transport::transport(&session, env, &cluster, &mut findings).await;
    endpoints::distinct(&session.endpoints, env, &mut findings).await;
    budgets(manifest, env, &cluster, &mut findings);
    probes::sizes(&session, manifest, env, &mut findings).await;
    credentials::credentials(&session, manifest, env, &mut findings).await;
    probes::platform(manifest, &cluster, &mut findings);
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let failed = findings.iter().filter(|f| f.severity == Severity::Fail).count();
    let warnings = findings.iter().filter(|f| f.severity == Severity::Warn).count();
    Ok(CheckReport {
        environment: env.name.to_string(),
        findings,
        failed,
        warnings,
    })
}
