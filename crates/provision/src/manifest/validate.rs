//! From the raw TOML to the typed manifest: defaults, conventions, derived names and the
//! connection budget. Every problem is collected with the key it concerns, so one run of
//! `pccdb plan` lists everything that is wrong with a manifest.
//!
//! Defaults (documented key by key in deploy/pcc.toml): service prefix `pcc-`, admin role
//! `pcc_admin`, migrator `flyway_user` (statement_timeout 0, lock_timeout 10s,
//! idle_in_transaction_session_timeout 10min), maintenance database `postgres`, max_connections
//! read from the server, 3 reserved, admin headroom 5, migration headroom 2, pods 1, surge 1,
//! pool max_lifetime 30min, service timeouts 30s / 5s / 60s, rotation grace 2 x pool max_lifetime plus
//! 5min (it must exceed max_lifetime + gke.secret_sync_interval + rotation.credentials_refresh:
//! `rotation.rs`), credentials refresh 30s, secret sync interval 2min, rotation max age 90 days, rotation
//! keeps 3 disabled versions and destroys older ones superseded more than 7 days ago, extra login role
//! connection limit 5.

use std::collections::BTreeMap;
use std::path::Path;

use super::raw::RawManifest;
use super::validate_env::environment;
use super::validate_service::service;
use super::{Manifest, MaxConnections, Migrator, Service, Timeouts};
use crate::budget;
use crate::error::ManifestError;
use crate::ident::Ident;
use crate::naming::{EnvName, ServiceName};
use crate::units::{ByteSize, Millis};

/// Collects problems; each names its key.
#[derive(Default)]
pub(super) struct Problems(pub(super) Vec<String>);

impl Problems {
    pub(super) fn push(&mut self, key: &str, message: impl std::fmt::Display) {
        self.0.push(format!("{key}: {message}"));
    }

    pub(super) fn millis(&mut self, key: &str, value: Option<&String>, default: u64) -> Millis {
        match value.map(|v| Millis::parse(v)) {
            None => Millis(default),
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                self.push(key, e);
                Millis(default)
            }
        }
    }

    pub(super) fn size(&mut self, key: &str, value: Option<&String>) -> Option<ByteSize> {
        match value.map(|v| ByteSize::parse(v)) {
            None => None,
            Some(Ok(s)) => Some(s),
            Some(Err(e)) => {
                self.push(key, e);
                None
            }
        }
    }
}

pub(super) fn validate(path: &Path, raw: RawManifest) -> Result<Manifest, ManifestError> {
    let mut p = Problems::default();
    if raw.version != 1 {
        p.push(
            "version",
            format!("{} is not supported; this pccdb reads version 1", raw.version),
        );
    }
    let service_prefix = raw.service_prefix.unwrap_or_else(|| "pcc-".to_owned());
    let prefix_ok = service_prefix.ends_with('-')
        && service_prefix.len() > 1
        && service_prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !prefix_ok {
        p.push(
            "service_prefix",
            format!("{service_prefix:?} must be lower-case letters and digits ending in '-'"),
        );
    }
    let role = |p: &mut Problems, key: &str, raw: Option<String>, default: &str| {
        let text = raw.unwrap_or_else(|| default.to_owned());
        Ident::parse("role", &text).map_err(|e| p.push(key, e)).ok()
    };
    let admin_role = role(&mut p, "admin.role", raw.admin.role, "pcc_admin");
    let migrator_role = role(&mut p, "migrator.role", raw.migrator.role, "flyway_user");
    let migrator_timeouts = Timeouts {
        statement_timeout: p.millis("migrator.statement_timeout", raw.migrator.statement_timeout.as_ref(), 0),
        lock_timeout: p.millis("migrator.lock_timeout", raw.migrator.lock_timeout.as_ref(), 10_000),
        idle_in_transaction_session_timeout: p.millis(
            "migrator.idle_in_transaction_session_timeout",
            raw.migrator.idle_in_transaction_session_timeout.as_ref(),
            600_000,
        ),
    };

    if raw.environments.is_empty() {
        p.push(
            "environments",
            "declare at least one environment ([environments.<name>])",
        );
    }
    let mut environments = BTreeMap::new();
    for (name, env) in raw.environments {
        let key = format!("environments.{name}");
        match EnvName::parse(&name) {
            Ok(env_name) => {
                if let Some(e) = environment(&mut p, &key, env_name.clone(), env, migrator_role.as_ref()) {
                    environments.insert(env_name, e);
                }
            }
            Err(e) => p.push(&key, e),
        }
    }
    let env_names: Vec<&str> = environments.keys().map(EnvName::as_str).collect();

    let mut services = BTreeMap::new();
    for (name, svc) in raw.services {
        let key = format!("services.{name}");
        match ServiceName::parse(&name, &service_prefix, &env_names) {
            Ok(svc_name) => {
                if let Some(s) = service(&mut p, &key, &service_prefix, svc_name.clone(), svc, &environments) {
                    services.insert(svc_name, s);
                }
            }
            Err(e) => p.push(&key, e),
        }
    }

    let (Some(admin_role), Some(migrator_role)) = (admin_role, migrator_role) else {
        return Err(ManifestError::Invalid {
            path: path.to_owned(),
            problems: p.0,
        });
    };
    unique_roles(&mut p, &admin_role, &migrator_role, &services);
    let manifest = Manifest {
        path: path.to_owned(),
        service_prefix,
        admin_role,
        migrator: Migrator {
            role: migrator_role,
            timeouts: migrator_timeouts,
        },
        environments,
        services,
    };
    for env in manifest.environments.values() {
        if let MaxConnections::Fixed(max) = env.max_connections {
            let key = format!("environments.{}", env.name);
            let primary = budget::primary(&manifest, env, max);
            if !primary.fits() {
                p.push(&key, format!("connection budget does not fit: {}", primary.explain()));
            }
            if let Some(replica) = budget::replica(&manifest, env, max).filter(|b| !b.fits()) {
                p.push(&key, format!("connection budget does not fit: {}", replica.explain()));
            }
        }
    }
    if p.0.is_empty() {
        Ok(manifest)
    } else {
        Err(ManifestError::Invalid {
            path: path.to_owned(),
            problems: p.0,
        })
    }
}

/// Roles are cluster-wide: no two services (or a service and a platform role) may derive the same one.
fn unique_roles(p: &mut Problems, admin: &Ident, migrator: &Ident, services: &BTreeMap<ServiceName, Service>) {
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    let mut claim = |p: &mut Problems, role: &str, owner: String| {
        if let Some(previous) = owners.insert(role.to_owned(), owner.clone()) {
            p.push(
                "services",
                format!("role {role:?} is claimed twice: by {previous} and by {owner}"),
            );
        }
    };
    if admin == migrator {
        p.push(
            "migrator.role",
            format!("{migrator} is also the admin role; they must differ"),
        );
    }
    claim(p, admin.as_str(), "admin.role".to_owned());
    claim(p, migrator.as_str(), "migrator.role".to_owned());
    for s in services.values() {
        // Role names do not depend on the environment, so one environment's names suffice.
        let Some(e) = s.per_env.values().next() else { continue };
        let n = &e.names;
        let owner = format!("services.{}", s.name);
        for role in [&n.owner, &n.app_group, &n.readonly_group, &n.logins[0], &n.logins[1]] {
            claim(p, role.as_str(), owner.clone());
        }
        for r in &s.roles {
            claim(p, r.name.as_str(), owner.clone());
        }
    }
}
