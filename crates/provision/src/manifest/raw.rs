//! The manifest exactly as written in TOML (deploy/pcc.toml), before validation.
//!
//! Every struct denies unknown keys, so a typo (`max_conections`) is an error that names the
//! key and its line instead of a silently ignored setting (which is also why there is no
//! `#[serde(flatten)]` here: serde cannot deny unknown keys through it). Defaults live in `validate.rs`,
//! next to the checks, and in deploy/pcc.toml's comments.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawManifest {
    pub version: u32,
    pub service_prefix: Option<String>,
    #[serde(default)]
    pub admin: RawAdmin,
    #[serde(default)]
    pub migrator: RawMigrator,
    #[serde(default)]
    pub environments: BTreeMap<String, RawEnvironment>,
    #[serde(default)]
    pub services: BTreeMap<String, RawService>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdmin {
    pub role: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMigrator {
    pub role: Option<String>,
    pub statement_timeout: Option<String>,
    pub lock_timeout: Option<String>,
    pub idle_in_transaction_session_timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawMaxConnections {
    Number(i64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEnvironment {
    pub primary: Option<RawEndpoint>,
    pub replica: Option<RawEndpoint>,
    pub terraform: Option<RawTerraform>,
    pub local_cluster: Option<String>,
    pub maintenance_database: Option<String>,
    pub max_connections: Option<RawMaxConnections>,
    pub reserved_connections: Option<u32>,
    pub admin_headroom: Option<u32>,
    pub migration_headroom: Option<u32>,
    pub storage_limit: Option<String>,
    pub admin_secret: Option<String>,
    pub secrets: Option<RawSecrets>,
    pub admin_secrets: Option<RawSecrets>,
    pub capacity_history: Option<String>,
    pub gke: Option<RawGke>,
}

/// An endpoint: a connection string, or a host from a Terraform output plus the rest of the string.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawEndpoint {
    Literal(String),
    Terraform(RawTerraformEndpoint),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTerraformEndpoint {
    pub terraform_output: String,
    pub settings: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTerraform {
    pub outputs_file: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGke {
    pub project: String,
    pub secret_sync_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPodResources {
    pub cpu: Option<String>,
    pub memory: Option<String>,
    pub memory_limit: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSecrets {
    pub backend: String,
    pub project: Option<String>,
    pub dir: Option<String>,
    pub prefix: Option<String>,
    pub api_base: Option<String>,
    pub metadata_base: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPool {
    pub min: u32,
    pub max: u32,
    pub max_lifetime: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawService {
    pub description: Option<String>,
    pub environments: Option<Vec<String>>,
    pub pool: RawPool,
    pub replica_pool: Option<RawPool>,
    pub pods: Option<u32>,
    pub max_surge: Option<u32>,
    pub size_estimate: Option<String>,
    pub monthly_growth: Option<String>,
    pub statement_timeout: Option<String>,
    pub lock_timeout: Option<String>,
    pub idle_in_transaction_session_timeout: Option<String>,
    pub rotation: Option<RawRotation>,
    pub read_fallback: Option<RawReadFallback>,
    #[serde(default)]
    pub pod_env: BTreeMap<String, String>,
    pub pod_resources: Option<RawPodResources>,
    #[serde(default)]
    pub roles: Vec<RawExtraRole>,
    #[serde(default)]
    pub overrides: BTreeMap<String, RawOverride>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReadFallback {
    pub min_in_flight: Option<u32>,
    pub max_in_flight: Option<u32>,
    pub queue: Option<u32>,
    pub queue_wait: Option<String>,
    pub latency_tolerance: Option<f64>,
    pub write_reserve: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRotation {
    pub grace: Option<String>,
    pub credentials_refresh: Option<String>,
    pub max_age_days: Option<u32>,
    pub keep_disabled: Option<u32>,
    pub destroy_disabled_after_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExtraRole {
    pub name: String,
    pub access: String,
    #[serde(default)]
    pub login: bool,
    pub connection_limit: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOverride {
    pub pool: Option<RawPool>,
    pub replica_pool: Option<RawPool>,
    pub pods: Option<u32>,
    pub max_surge: Option<u32>,
    pub size_estimate: Option<String>,
    pub monthly_growth: Option<String>,
    #[serde(default)]
    pub pod_env: BTreeMap<String, String>,
}
