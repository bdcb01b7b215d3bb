//! The platform manifest (deploy/pcc.toml): environments and services, validated into typed
//! values with every derived name computed, so nothing downstream re-checks a convention.
//!
//! `Manifest::load` reads and validates; `Manifest::deployment(env, service)` gives one
//! service's resolved settings (per-environment overrides applied) and names in one environment.

mod kubernetes;
mod raw;
pub mod rotation;
mod validate;
mod validate_env;
mod validate_service;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use url::Url;

use crate::error::ManifestError;
use crate::ident::Ident;
use crate::naming::{EnvName, ServiceName, ServiceNames};
use crate::units::{ByteSize, Millis};

pub use kubernetes::{Gke, PodResources, PodSettings};

/// The validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Where it was read from (for messages).
    pub path: PathBuf,
    /// The organisation prefix of service names (`pcc-`), dropped in derived names.
    pub service_prefix: String,
    /// The admin role apply connects as (`pcc_admin`); created outside this tool (Terraform).
    pub admin_role: Ident,
    /// The shared migration login (`flyway_user`) and its session timeouts.
    pub migrator: Migrator,
    /// Environments by name.
    pub environments: BTreeMap<EnvName, Environment>,
    /// Services by name.
    pub services: BTreeMap<ServiceName, Service>,
}

/// The migration role.
#[derive(Debug, Clone)]
pub struct Migrator {
    /// `flyway_user`.
    pub role: Ident,
    /// Its session timeouts (migrations need long statements, short lock waits).
    pub timeouts: Timeouts,
}

/// The three per-role session timeouts this tool manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Timeouts {
    /// `statement_timeout`.
    pub statement_timeout: Millis,
    /// `lock_timeout`.
    pub lock_timeout: Millis,
    /// `idle_in_transaction_session_timeout`.
    pub idle_in_transaction_session_timeout: Millis,
}

impl Timeouts {
    /// The settings as (name, value) pairs, in a stable order.
    pub fn settings(&self) -> [(&'static str, Millis); 3] {
        [
            (
                "idle_in_transaction_session_timeout",
                self.idle_in_transaction_session_timeout,
            ),
            ("lock_timeout", self.lock_timeout),
            ("statement_timeout", self.statement_timeout),
        ]
    }
}

/// One server of an environment, as the manifest gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A connection string (Npgsql, libpq or JDBC form, without credentials).
    Literal(String),
    /// The host is output `output` of the environment's Terraform outputs file; `settings` is the rest of
    /// an Npgsql connection string (port, TLS, session attributes), without a host.
    Terraform {
        /// The output's name (`alloydb_primary_ip`).
        output: String,
        /// `Port=5432;SSL Mode=VerifyCA;...`.
        settings: String,
    },
}

impl From<String> for Endpoint {
    fn from(s: String) -> Self {
        Endpoint::Literal(s)
    }
}

/// How the cluster of an environment is reached.
#[derive(Debug, Clone)]
pub enum Endpoints {
    /// Connection strings, or hosts from Terraform outputs.
    Remote {
        /// The primary (read-write) instance.
        primary: Endpoint,
        /// The read replica, if any.
        replica: Option<Endpoint>,
    },
    /// The local cluster of `pccdb dev up` in this directory (endpoints and superuser password
    /// come from it).
    LocalCluster(PathBuf),
}

/// The connection count of a server: fixed in the manifest, or read at plan time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxConnections {
    /// From the manifest.
    Fixed(u32),
    /// `SHOW max_connections` on the primary.
    FromServer,
}

/// Where an environment's secrets live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretsBackend {
    /// GCP Secret Manager in this project (base URLs overridable for tests).
    Gcp {
        /// Project id.
        project: String,
        /// API base URL override.
        api_base: Option<Url>,
        /// Metadata server base URL override.
        metadata_base: Option<Url>,
    },
    /// A directory (Kubernetes mount, or the versioned local layout).
    File(PathBuf),
    /// Environment variables with this prefix (read-only).
    Env(String),
}

/// Where the admin credential comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCredential {
    /// A JSON credential secret in the environment's admin secret store.
    Secret(String),
    /// The superuser of the local cluster (dev only).
    LocalCluster,
}

/// One environment (one cluster).
#[derive(Debug, Clone)]
pub struct Environment {
    /// `devtest`.
    pub name: EnvName,
    /// How to reach it.
    pub endpoints: Endpoints,
    /// The database apply connects to for cluster-wide work (`postgres`).
    pub maintenance_database: String,
    /// `max_connections` of the primary.
    pub max_connections: MaxConnections,
    /// Connections kept out of the budget (superuser_reserved_connections, platform agents).
    pub reserved_connections: u32,
    /// Connections kept for the admin and humans.
    pub admin_headroom: u32,
    /// Connections for migrations (the migrator's CONNECTION LIMIT).
    pub migration_headroom: u32,
    /// The cluster's storage limit, for capacity projections.
    pub storage_limit: Option<ByteSize>,
    /// The admin credential.
    pub admin_credential: AdminCredential,
    /// Where service and migrator credentials live.
    pub secrets: SecretsBackend,
    /// Where the admin credential lives (defaults to `secrets`).
    pub admin_secrets: SecretsBackend,
    /// The capacity snapshot history file (JSON lines).
    pub capacity_history: PathBuf,
    /// GKE settings (`gke`), for `pccdb render k8s`.
    pub gke: Option<Gke>,
    /// The `terraform output -json` file Terraform endpoints are read from (`terraform.outputs_file`).
    pub terraform_outputs: Option<PathBuf>,
}

/// A connection pool's size and lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Pool {
    /// Connections kept open.
    pub min: u32,
    /// Connections at most.
    pub max: u32,
    /// Connections are replaced after this long (rotation grace must exceed it).
    pub max_lifetime: Millis,
}

/// What an extra role may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// SELECT through the read-only group.
    ReadOnly,
    /// The service's DML through the app group.
    ReadWrite,
}

/// A role a service declares beyond the standard set (reporting, a batch job).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExtraRole {
    /// Its name, prefixed with the service's base (`client_api_reporting`).
    pub name: Ident,
    /// Read-only or read-write.
    pub access: Access,
    /// LOGIN (with its own rotated secret) or a NOLOGIN group for humans' own logins.
    pub login: bool,
    /// CONNECTION LIMIT for a login role.
    pub connection_limit: u32,
}

/// Per-environment sizing of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Sizing {
    /// Primary pool per pod.
    pub pool: Pool,
    /// Replica pool per pod, if the service reads from the replica.
    pub replica_pool: Option<Pool>,
    /// Pod replicas.
    pub pods: u32,
    /// Extra pods during a rolling update.
    pub max_surge: u32,
    /// Expected database size.
    pub size_estimate: ByteSize,
    /// Expected growth per month.
    pub monthly_growth: ByteSize,
}

impl Sizing {
    /// Pods that can be connected at once (during a rolling update).
    pub fn peak_pods(&self) -> u32 {
        self.pods + self.max_surge
    }

    /// Connections the service can hold on one server at peak: the larger pool times peak pods.
    /// This is each login role's CONNECTION LIMIT (a limit counts per server).
    pub fn peak_connections(&self) -> u32 {
        let per_pod = self.replica_pool.map_or(self.pool.max, |r| r.max.max(self.pool.max));
        per_pod * self.peak_pods()
    }
}

/// Credential rotation policy of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Rotation {
    /// How long the previous login stays valid after the alias moves (longer than pool max lifetime +
    /// secret sync interval + `credentials_refresh`: [`rotation::Window`]).
    pub grace: Millis,
    /// How often the service's pods re-read their credential (`PCC_DB_CREDENTIALS_REFRESH_MS`); default 30s.
    pub credentials_refresh: Millis,
    /// Rotate at least this often (the seed plan: 30-90 days); `check` warns past it.
    pub max_age_days: u32,
    /// Disabled secret versions kept however old they are (the newest ones); default 3.
    pub keep_disabled: u32,
    /// Older disabled versions are destroyed once superseded at least this many days ago; default 7.
    pub destroy_disabled_after_days: u32,
}

/// How a service's pods send reads to the primary while the replica cannot serve them (db_router's
/// fallback gate): an in-flight limit that adapts between `min_in_flight` and `max_in_flight` to the
/// primary's latency, a line of `queue` reads waiting up to `queue_wait`, and a share of the primary pool
/// (`write_reserve`) a read never borrows. The service reads it in its embedded default; in production the
/// same values are the pod's `PCC_DB_FALLBACK_*` variables.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ReadFallback {
    /// The adaptive limit's floor.
    pub min_in_flight: u32,
    /// Its ceiling.
    pub max_in_flight: u32,
    /// Reads that may wait for a slot.
    pub queue: u32,
    /// How long one waits.
    pub queue_wait: Millis,
    /// The primary keeps up while its latency is under this multiple of its normal level.
    pub latency_tolerance: f64,
    /// Share of the primary pool kept for writes.
    pub write_reserve: f64,
}

impl Default for ReadFallback {
    fn default() -> Self {
        Self {
            min_in_flight: 4,
            max_in_flight: 32,
            queue: 128,
            queue_wait: Millis(100),
            latency_tolerance: 3.0,
            write_reserve: 0.5,
        }
    }
}

/// A service.
#[derive(Debug, Clone)]
pub struct Service {
    /// `pcc-client-api`.
    pub name: ServiceName,
    /// What it is.
    pub description: Option<String>,
    /// The environments it is deployed to.
    pub environments: BTreeSet<EnvName>,
    /// Session timeouts of its login roles.
    pub timeouts: Timeouts,
    /// Rotation policy.
    pub rotation: Rotation,
    /// Reads sent to the primary while the replica cannot serve (`read_fallback`).
    pub read_fallback: ReadFallback,
    /// Extra roles.
    pub roles: Vec<ExtraRole>,
    /// Where it is deployed: sizing (overrides applied) and derived names per environment.
    pub per_env: BTreeMap<EnvName, ServiceEnv>,
}

/// A service's settings and names in one environment.
#[derive(Debug, Clone)]
pub struct ServiceEnv {
    /// Sizing there.
    pub sizing: Sizing,
    /// Names there.
    pub names: ServiceNames,
    /// Pod variables and resources there.
    pub pod: PodSettings,
}

/// One service in one environment: names and resolved settings.
#[derive(Debug, Clone, Copy)]
pub struct Deployment<'a> {
    /// The environment.
    pub env: &'a Environment,
    /// The service.
    pub service: &'a Service,
    /// Its sizing there.
    pub sizing: &'a Sizing,
    /// Its names there.
    pub names: &'a ServiceNames,
    /// Its pod settings there.
    pub pod: &'a PodSettings,
}

/// The repository's deploy/pcc.toml, compiled in, for programs that run without a checkout
/// (the service's embedded default).
pub const BUILTIN: &str = include_str!("../../../../deploy/pcc.toml");

impl Manifest {
    /// The compiled-in deploy/pcc.toml.
    ///
    /// # Panics
    /// Never: a test validates the shipped manifest.
    pub fn builtin() -> Self {
        Self::parse(Path::new("deploy/pcc.toml (built in)"), BUILTIN).expect("the shipped manifest is valid")
    }

    /// Reads and validates a manifest file.
    ///
    /// # Errors
    /// [`ManifestError`] for an unreadable file, TOML syntax or unknown keys, or invalid values
    /// (all problems listed).
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Validates manifest text; `path` is used in messages only.
    ///
    /// # Errors
    /// As [`Manifest::load`], minus reading.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ManifestError> {
        let raw: raw::RawManifest = toml::from_str(text).map_err(|e| ManifestError::Syntax {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        validate::validate(path, raw)
    }

    /// The environment called `name`.
    ///
    /// # Errors
    /// [`ManifestError::Unknown`] listing the known environments.
    pub fn environment(&self, name: &str) -> Result<&Environment, ManifestError> {
        self.environments
            .iter()
            .find(|(k, _)| k.as_str() == name)
            .map(|(_, v)| v)
            .ok_or_else(|| ManifestError::Unknown {
                what: "environment",
                name: name.to_owned(),
                known: self
                    .environments
                    .keys()
                    .map(EnvName::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The service called `name`.
    ///
    /// # Errors
    /// [`ManifestError::Unknown`] listing the known services.
    pub fn service(&self, name: &str) -> Result<&Service, ManifestError> {
        self.services
            .iter()
            .find(|(k, _)| k.as_str() == name)
            .map(|(_, v)| v)
            .ok_or_else(|| ManifestError::Unknown {
                what: "service",
                name: name.to_owned(),
                known: self
                    .services
                    .keys()
                    .map(ServiceName::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// `service` in `env`.
    ///
    /// # Errors
    /// [`ManifestError::Unknown`] for an unknown name or a service not deployed to `env`.
    pub fn deployment<'a>(&'a self, env: &str, service: &str) -> Result<Deployment<'a>, ManifestError> {
        let environment = self.environment(env)?;
        let svc = self.service(service)?;
        let here = svc
            .per_env
            .get(&environment.name)
            .ok_or_else(|| ManifestError::Unknown {
                what: "deployment",
                name: format!("{service} in {env}"),
                known: format!(
                    "{service} is deployed to {}",
                    svc.environments
                        .iter()
                        .map(EnvName::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        Ok(Deployment {
            env: environment,
            service: svc,
            sizing: &here.sizing,
            names: &here.names,
            pod: &here.pod,
        })
    }

    /// Every service deployed to `env`, in name order.
    pub fn deployments<'a>(&'a self, env: &'a Environment) -> Vec<Deployment<'a>> {
        self.services
            .values()
            .filter_map(|s| {
                s.per_env.get(&env.name).map(|e| Deployment {
                    env,
                    service: s,
                    sizing: &e.sizing,
                    names: &e.names,
                    pod: &e.pod,
                })
            })
            .collect()
    }
}
