//! [`up`]: one environment from the manifest to serving-ready databases (cluster, provision, migrate,
//! runtime connections), in the order a pipeline runs `pccdb apply` and `pccdb migrate`.

use std::path::PathBuf;
use std::time::Duration;

use pg_launcher::{Cluster, ClusterOptions, UpAction};
use provision::Manifest;
use provision::apply::ProvisionReport;
use provision::manifest::Endpoints;
use provision::naming::ServiceNames;
use provision::resolve::RuntimeConnections;

use crate::error::PlatformError;
use crate::migrations::{Migrations, migrate_service};

/// What to bring up, beyond the manifest and the environment.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// The services to migrate and resolve; `None`: every service deployed to the environment.
    /// Provisioning always covers the whole environment (the manifest is one desired state).
    pub services: Option<Vec<String>>,
    /// Where the migration files are.
    pub migrations: Migrations,
    /// How a `local_cluster` environment's cluster is created when it does not exist yet.
    pub cluster: ClusterOptions,
    /// How long to wait for another `apply` on the same cluster (they take turns under a lock).
    pub lock_wait: Duration,
}

impl UpOptions {
    /// Every service, migrations from `root/<schema>`, a default local cluster, 30 s lock wait.
    pub fn from_directory(root: impl Into<PathBuf>) -> Self {
        Self {
            services: None,
            migrations: Migrations::Directory(root.into()),
            cluster: ClusterOptions::default(),
            lock_wait: Duration::from_secs(30),
        }
    }
}

/// The local cluster of a `local_cluster` environment.
#[derive(Debug, Clone)]
pub struct LocalCluster {
    /// Its directory.
    pub dir: PathBuf,
    /// Created, started or already running.
    pub action: UpAction,
}

/// One service, ready to serve.
#[derive(Debug, Clone)]
pub struct ServiceUp {
    /// The service (`pcc-client-api`).
    pub service: String,
    /// Its derived names in this environment (database, schema, owner, groups, logins, secret).
    pub names: ServiceNames,
    /// What the migration run did.
    pub migrate: migrate::MigrateReport,
    /// How the service connects (its login, its current credential, primary and replica specs).
    pub runtime: RuntimeConnections,
}

/// What [`up`] did.
#[derive(Debug)]
pub struct UpReport {
    /// The environment.
    pub environment: String,
    /// The local cluster, for a `local_cluster` environment.
    pub local_cluster: Option<LocalCluster>,
    /// What provisioning executed (empty on a second run).
    pub provision: ProvisionReport,
    /// The selected services, in manifest order.
    pub services: Vec<ServiceUp>,
}

impl UpReport {
    /// The service called `name`.
    pub fn service(&self, name: &str) -> Option<&ServiceUp> {
        self.services.iter().find(|s| s.service == name)
    }
}

/// Brings environment `env` of `manifest` up: its local cluster (when it has one), provisioning, the
/// migrations of every selected service, and their runtime connections. Idempotent: a second call
/// changes nothing and reports empty work.
///
/// # Errors
/// The first failing step, naming it (and the service) with the underlying error.
pub async fn up(manifest: &Manifest, env: &str, options: &UpOptions) -> Result<UpReport, PlatformError> {
    let environment = manifest.environment(env).map_err(provision::ProvisionError::from)?;
    let services: Vec<String> = match &options.services {
        Some(names) => names.clone(),
        None => manifest
            .deployments(environment)
            .iter()
            .map(|d| d.service.name.as_str().to_owned())
            .collect(),
    };
    let mut names = Vec::with_capacity(services.len());
    for service in &services {
        let deployment = manifest
            .deployment(env, service)
            .map_err(provision::ProvisionError::from)?;
        names.push(deployment.names.clone());
    }

    let local_cluster = match &environment.endpoints {
        Endpoints::LocalCluster(dir) => Some(start_local(dir.clone(), options.cluster.clone()).await?),
        Endpoints::Remote { .. } => None,
    };
    let provision = provision::apply::provision(manifest, env, options.lock_wait).await?;
    tracing::debug!(
        environment = env,
        statements = provision.apply.executed.len(),
        "provisioned"
    );

    let mut ready = Vec::with_capacity(services.len());
    for (service, names) in services.into_iter().zip(names) {
        let migrate = migrate_service(manifest, env, &service, &options.migrations).await?;
        tracing::debug!(
            environment = env,
            service = %service,
            migrations_executed = migrate.migrations_executed,
            "migrated"
        );
        let runtime = provision::resolve::runtime_connections(manifest, env, &service).await?;
        ready.push(ServiceUp {
            service,
            names,
            migrate,
            runtime,
        });
    }
    Ok(UpReport {
        environment: env.to_owned(),
        local_cluster,
        provision,
        services: ready,
    })
}

/// Starts (creating it when needed) the cluster in `dir`; the launcher is synchronous, so off the runtime.
async fn start_local(dir: PathBuf, options: ClusterOptions) -> Result<LocalCluster, PlatformError> {
    let shown = dir.display().to_string();
    let started =
        tokio::task::spawn_blocking(move || Cluster::up(&dir, &options).map(|(c, a)| (c.dir().to_owned(), a)))
            .await
            .map_err(|e| PlatformError::Task(format!("starting the local cluster in {shown}: {e}")))?;
    let (dir, action) = started.map_err(|source| PlatformError::LocalCluster { dir: shown, source })?;
    Ok(LocalCluster { dir, action })
}
