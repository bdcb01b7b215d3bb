//! From the raw TOML to the typed manifest: defaults, conventions, derived names and the
//! connection budget. Every problem is collected with the key it concerns, so one run of
//! `pccdb plan` lists everything that is wrong with a manifest.
//!
//! Defaults (documented key by key in deploy/pcc.toml): service prefix `pcc-`, admin role
//! `pcc_admin`, migrator `flyway_user` (statement_timeout 0, lock_timeout 10s,
//! idle_in_transaction_session_timeout 10min), maintenance database `postgres`, max_connections
//! read from the server, 3 reserved, admin headroom 5, migration headroom 2, pods 1, surge 1,
//! pool max_lifetime 30min, service timeouts 30s / 5s / 60s, rotation grace 2 x pool max_lifetime
//! + 5min, rotation max age 90 days, extra login role connection limit 5.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use url::Url;

use super::raw::{RawEnvironment, RawManifest, RawMaxConnections, RawPool, RawSecrets, RawService};
use super::{
    Access, AdminCredential, Endpoints, Environment, ExtraRole, Manifest, MaxConnections, Migrator, Pool, Rotation,
    SecretsBackend, Service, ServiceEnv, Sizing, Timeouts,
};
use crate::budget;
use crate::error::ManifestError;
use crate::ident::Ident;
use crate::naming::{EnvName, ServiceName, ServiceNames, role_secret};
use crate::units::{ByteSize, Millis};

/// Collects problems; each names its key.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, key: &str, message: impl std::fmt::Display) {
        self.0.push(format!("{key}: {message}"));
    }

    fn millis(&mut self, key: &str, value: Option<&String>, default: u64) -> Millis {
        match value.map(|v| Millis::parse(v)) {
            None => Millis(default),
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                self.push(key, e);
                Millis(default)
            }
        }
    }

    fn size(&mut self, key: &str, value: Option<&String>) -> Option<ByteSize> {
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

fn environment(
    p: &mut Problems,
    key: &str,
    name: EnvName,
    raw: RawEnvironment,
    migrator: Option<&Ident>,
) -> Option<Environment> {
    let endpoints = match (raw.primary, raw.replica, raw.local_cluster) {
        (Some(primary), replica, None) => Some(Endpoints::Remote { primary, replica }),
        (None, None, Some(dir)) => Some(Endpoints::LocalCluster(PathBuf::from(dir))),
        (None, _, None) => {
            p.push(
                key,
                "set `primary` (a connection string) or `local_cluster` (a `pccdb dev` directory)",
            );
            None
        }
        _ => {
            p.push(
                key,
                "`local_cluster` provides the endpoints; do not also set `primary` or `replica`",
            );
            None
        }
    };
    let max_connections = match raw.max_connections {
        None => MaxConnections::FromServer,
        Some(RawMaxConnections::Text(t)) if t == "server" => MaxConnections::FromServer,
        Some(RawMaxConnections::Number(n)) if (1..=262_143).contains(&n) => {
            MaxConnections::Fixed(u32::try_from(n).expect("range checked"))
        }
        Some(other) => {
            p.push(
                &format!("{key}.max_connections"),
                format!("{other:?} must be a number from 1 to 262143 or \"server\""),
            );
            MaxConnections::FromServer
        }
    };
    let secrets = raw.secrets.map(|s| secrets_backend(p, &format!("{key}.secrets"), s));
    let admin_secrets = raw
        .admin_secrets
        .map(|s| secrets_backend(p, &format!("{key}.admin_secrets"), s));
    let local = matches!(endpoints, Some(Endpoints::LocalCluster(_)));
    let secrets = match secrets {
        Some(s) => s?,
        None if local => SecretsBackend::File(PathBuf::from(format!(".pcc/secrets/{name}"))),
        None => {
            p.push(key, "set `secrets` (where service credentials live: gcp, file or env)");
            return None;
        }
    };
    let admin_secrets = match admin_secrets {
        Some(s) => s?,
        None => secrets.clone(),
    };
    let admin_credential = match (raw.admin_secret, local) {
        (Some(secret), _) => AdminCredential::Secret(secret),
        (None, true) => AdminCredential::LocalCluster,
        (None, false) => {
            let default = Ident::parse("role", "pcc_admin").expect("constant");
            AdminCredential::Secret(role_secret(&default, &name))
        }
    };
    if let AdminCredential::Secret(s) = &admin_credential
        && secrets::SecretName::parse(s).is_err()
    {
        p.push(
            &format!("{key}.admin_secret"),
            format!("{s:?} is not a valid secret id ([A-Za-z0-9_-], 1-255)"),
        );
    }
    let maintenance_database = raw.maintenance_database.unwrap_or_else(|| "postgres".to_owned());
    if maintenance_database.is_empty() || maintenance_database.len() > 63 {
        p.push(
            &format!("{key}.maintenance_database"),
            format!("{maintenance_database:?} is not a database name"),
        );
    }
    let migration_headroom = raw.migration_headroom.unwrap_or(2);
    if migration_headroom == 0 && migrator.is_some() {
        p.push(
            &format!("{key}.migration_headroom"),
            "must be at least 1: migrations need a connection",
        );
    }
    Some(Environment {
        capacity_history: raw
            .capacity_history
            .map_or_else(|| PathBuf::from(format!(".pcc/capacity/{name}.jsonl")), PathBuf::from),
        name,
        endpoints: endpoints?,
        maintenance_database,
        max_connections,
        reserved_connections: raw.reserved_connections.unwrap_or(3),
        admin_headroom: raw.admin_headroom.unwrap_or(5),
        migration_headroom,
        storage_limit: p.size(&format!("{key}.storage_limit"), raw.storage_limit.as_ref()),
        admin_credential,
        secrets,
        admin_secrets,
    })
}

fn secrets_backend(p: &mut Problems, key: &str, raw: RawSecrets) -> Option<SecretsBackend> {
    let url = |p: &mut Problems, field: &str, v: Option<String>| -> Option<Url> {
        v.and_then(|v| {
            Url::parse(&v)
                .map_err(|e| p.push(&format!("{key}.{field}"), format!("{v:?}: {e}")))
                .ok()
        })
    };
    let stray = |p: &mut Problems, field: &str, present: bool, backend: &str| {
        if present {
            p.push(&format!("{key}.{field}"), format!("is not used by backend {backend:?}"));
        }
    };
    match raw.backend.as_str() {
        "gcp" => {
            stray(p, "dir", raw.dir.is_some(), "gcp");
            stray(p, "prefix", raw.prefix.is_some(), "gcp");
            let Some(project) = raw.project else {
                p.push(key, "backend \"gcp\" needs `project`");
                return None;
            };
            let ok = !project.is_empty()
                && project
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                p.push(
                    &format!("{key}.project"),
                    format!("{project:?} is not a GCP project id"),
                );
            }
            Some(SecretsBackend::Gcp {
                project,
                api_base: url(p, "api_base", raw.api_base),
                metadata_base: url(p, "metadata_base", raw.metadata_base),
            })
        }
        "file" => {
            for (f, present) in [
                ("project", raw.project.is_some()),
                ("prefix", raw.prefix.is_some()),
                ("api_base", raw.api_base.is_some()),
                ("metadata_base", raw.metadata_base.is_some()),
            ] {
                stray(p, f, present, "file");
            }
            match raw.dir {
                Some(dir) => Some(SecretsBackend::File(PathBuf::from(dir))),
                None => {
                    p.push(key, "backend \"file\" needs `dir`");
                    None
                }
            }
        }
        "env" => {
            for (f, present) in [
                ("project", raw.project.is_some()),
                ("dir", raw.dir.is_some()),
                ("api_base", raw.api_base.is_some()),
                ("metadata_base", raw.metadata_base.is_some()),
            ] {
                stray(p, f, present, "env");
            }
            Some(SecretsBackend::Env(
                raw.prefix.unwrap_or_else(|| "PCC_SECRET_".to_owned()),
            ))
        }
        other => {
            p.push(
                &format!("{key}.backend"),
                format!("{other:?} is not a backend (use \"gcp\", \"file\" or \"env\")"),
            );
            None
        }
    }
}

fn pool(p: &mut Problems, key: &str, raw: &RawPool) -> Pool {
    if raw.max == 0 {
        p.push(&format!("{key}.max"), "must be at least 1");
    }
    if raw.min > raw.max {
        p.push(key, format!("min {} is larger than max {}", raw.min, raw.max));
    }
    let max_lifetime = p.millis(&format!("{key}.max_lifetime"), raw.max_lifetime.as_ref(), 1_800_000);
    if max_lifetime.0 == 0 {
        p.push(
            &format!("{key}.max_lifetime"),
            "must be positive: rotation relies on pools replacing connections",
        );
    }
    Pool {
        min: raw.min,
        max: raw.max,
        max_lifetime,
    }
}

fn service(
    p: &mut Problems,
    key: &str,
    prefix: &str,
    name: ServiceName,
    raw: RawService,
    environments: &BTreeMap<EnvName, Environment>,
) -> Option<Service> {
    let deployed: BTreeSet<EnvName> = match &raw.environments {
        None => environments.keys().cloned().collect(),
        Some(list) => list
            .iter()
            .filter_map(|e| match environments.keys().find(|k| k.as_str() == e) {
                Some(k) => Some(k.clone()),
                None => {
                    p.push(
                        &format!("{key}.environments"),
                        format!("{e:?} is not a declared environment"),
                    );
                    None
                }
            })
            .collect(),
    };
    let timeouts = Timeouts {
        statement_timeout: p.millis(
            &format!("{key}.statement_timeout"),
            raw.statement_timeout.as_ref(),
            30_000,
        ),
        lock_timeout: p.millis(&format!("{key}.lock_timeout"), raw.lock_timeout.as_ref(), 5_000),
        idle_in_transaction_session_timeout: p.millis(
            &format!("{key}.idle_in_transaction_session_timeout"),
            raw.idle_in_transaction_session_timeout.as_ref(),
            60_000,
        ),
    };
    let base_pool = pool(p, &format!("{key}.pool"), &raw.pool);
    let base_replica = raw
        .replica_pool
        .as_ref()
        .map(|r| pool(p, &format!("{key}.replica_pool"), r));
    let rotation = {
        let lifetime = base_pool
            .max_lifetime
            .max(base_replica.map_or(Millis(0), |r| r.max_lifetime));
        let rk = format!("{key}.rotation");
        let grace = p.millis(
            &format!("{rk}.grace"),
            raw.rotation.as_ref().and_then(|r| r.grace.as_ref()),
            2 * lifetime.0 + 300_000,
        );
        if grace <= lifetime {
            p.push(&format!("{rk}.grace"), format!("{grace} must be longer than the pools' max_lifetime {lifetime}, or pods still hold connections of the login being disabled"));
        }
        let max_age_days = raw.rotation.as_ref().and_then(|r| r.max_age_days).unwrap_or(90);
        if !(1..=365).contains(&max_age_days) {
            p.push(
                &format!("{rk}.max_age_days"),
                format!("{max_age_days} must be 1-365 (the seed plan rotates every 30-90 days)"),
            );
        }
        Rotation { grace, max_age_days }
    };
    let base = name
        .as_str()
        .strip_prefix(prefix)
        .unwrap_or(name.as_str())
        .replace('-', "_");
    let roles = extra_roles(p, key, &base, &raw);
    let base_sizing = Sizing {
        pool: base_pool,
        replica_pool: base_replica,
        pods: raw.pods.unwrap_or(1),
        max_surge: raw.max_surge.unwrap_or(1),
        size_estimate: p
            .size(&format!("{key}.size_estimate"), raw.size_estimate.as_ref())
            .unwrap_or_default(),
        monthly_growth: p
            .size(&format!("{key}.monthly_growth"), raw.monthly_growth.as_ref())
            .unwrap_or_default(),
    };
    if base_sizing.pods == 0 {
        p.push(&format!("{key}.pods"), "must be at least 1");
    }
    for env in raw.overrides.keys() {
        if !deployed.iter().any(|d| d.as_str() == env) {
            p.push(
                &format!("{key}.overrides.{env}"),
                "the service is not deployed to this environment",
            );
        }
    }
    let mut per_env = BTreeMap::new();
    for env in &deployed {
        let ok = format!("{key}.overrides.{env}");
        let o = raw.overrides.get(env.as_str());
        let sizing = match o {
            None => base_sizing,
            Some(o) => Sizing {
                pool: o
                    .pool
                    .as_ref()
                    .map_or(base_sizing.pool, |r| pool(p, &format!("{ok}.pool"), r)),
                replica_pool: o
                    .replica_pool
                    .as_ref()
                    .map(|r| pool(p, &format!("{ok}.replica_pool"), r))
                    .or(base_sizing.replica_pool),
                pods: o.pods.unwrap_or(base_sizing.pods),
                max_surge: o.max_surge.unwrap_or(base_sizing.max_surge),
                size_estimate: p
                    .size(&format!("{ok}.size_estimate"), o.size_estimate.as_ref())
                    .unwrap_or(base_sizing.size_estimate),
                monthly_growth: p
                    .size(&format!("{ok}.monthly_growth"), o.monthly_growth.as_ref())
                    .unwrap_or(base_sizing.monthly_growth),
            },
        };
        if sizing.pods == 0 {
            p.push(&format!("{ok}.pods"), "must be at least 1");
        }
        let lifetime = sizing
            .pool
            .max_lifetime
            .max(sizing.replica_pool.map_or(Millis(0), |r| r.max_lifetime));
        if rotation.grace <= lifetime {
            p.push(
                &format!("{ok}"),
                format!(
                    "pool max_lifetime {lifetime} is not shorter than the rotation grace {}",
                    rotation.grace
                ),
            );
        }
        match ServiceNames::derive(&name, prefix, env) {
            Ok(names) => {
                per_env.insert(env.clone(), ServiceEnv { sizing, names });
            }
            Err(e) => p.push(key, format!("in environment {env}: {e}")),
        }
    }
    Some(Service {
        name,
        description: raw.description,
        environments: deployed,
        timeouts,
        rotation,
        roles,
        per_env,
    })
}

fn extra_roles(p: &mut Problems, key: &str, base: &str, raw: &RawService) -> Vec<ExtraRole> {
    let mut out = Vec::new();
    for (i, r) in raw.roles.iter().enumerate() {
        let rk = format!("{key}.roles[{i}]");
        let name = match Ident::parse("role", &r.name) {
            Ok(n) => n,
            Err(e) => {
                p.push(&format!("{rk}.name"), e);
                continue;
            }
        };
        if !r.name.starts_with(&format!("{base}_")) {
            p.push(
                &format!("{rk}.name"),
                format!("{:?} must start with the service's base \"{base}_\"", r.name),
            );
        }
        let standard = ["owner", "app", "readonly", "user", "user_b"].map(|s| format!("{base}_{s}"));
        if standard.contains(&r.name) {
            p.push(
                &format!("{rk}.name"),
                format!("{:?} is one of the service's standard roles", r.name),
            );
        }
        let access = match r.access.as_str() {
            "read_only" => Access::ReadOnly,
            "read_write" => Access::ReadWrite,
            other => {
                p.push(
                    &format!("{rk}.access"),
                    format!("{other:?} must be \"read_only\" or \"read_write\""),
                );
                continue;
            }
        };
        if !r.login && r.connection_limit.is_some() {
            p.push(
                &format!("{rk}.connection_limit"),
                "only login roles have a connection limit",
            );
        }
        out.push(ExtraRole {
            name,
            access,
            login: r.login,
            connection_limit: r.connection_limit.unwrap_or(if r.login { 5 } else { 0 }),
        });
    }
    out
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
