//! One scenario's database platform, set up the way production is: a private primary + streaming
//! replica (pg_launcher through test_support, TLS verified against the cluster CA), the admin
//! role Terraform would create (`pcc_admin`: LOGIN CREATEROLE CREATEDB, not a superuser), a
//! manifest written to a temporary directory, the admin credential stored with `pccdb secrets set`
//! as an operator does, then the platform library's `up` (the path `pccdb dev`, the embedded default
//! and the tests share): database, roles, grants, the service's and flyway_user's credentials in a
//! file secret store, and migrations/client_api as flyway_user with `SET ROLE` owner.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::platform::UpOptions;
use conninfo::{ConnSpec, HostSpec, SslMode};
use pg_launcher::{Cluster, ClusterOptions, NodeName};
use secrecy::ExposeSecret as _;
use tokio_postgres::Client;

mod cli;

pub use cli::CliRun;

/// The service, as the manifest names it.
pub const SERVICE: &str = "pcc-client-api";
/// The environment every scenario's manifest declares (each scenario has its own cluster).
pub const ENV: &str = "fault";
/// The service database (`{service}_db_{environment}`).
pub const DATABASE: &str = "client_api_db_fault";
/// The service schema.
pub const SCHEMA: &str = "client_api";
/// The admin role (Terraform's `pcc_admin`).
pub const ADMIN_ROLE: &str = "pcc_admin";

/// What a scenario needs from its platform.
#[derive(Debug, Clone)]
pub struct PlatformOptions {
    /// The replica's `recovery_min_apply_delay`.
    pub apply_delay: Option<Duration>,
    /// The service pools' `max_lifetime` in the manifest.
    pub max_lifetime: &'static str,
    /// The rotation grace period in the manifest (must exceed `max_lifetime` + `credentials_refresh`).
    pub rotation_grace: &'static str,
    /// The manifest's `rotation.credentials_refresh`: the service's `PCC_DB_CREDENTIALS_REFRESH_MS`.
    pub credentials_refresh: &'static str,
    /// Run `pccdb migrate` during setup.
    pub migrate: bool,
}

impl Default for PlatformOptions {
    fn default() -> Self {
        Self {
            apply_delay: None,
            max_lifetime: "30min",
            rotation_grace: "65min",
            credentials_refresh: "30s",
            migrate: true,
        }
    }
}

/// A scenario's cluster, manifest and secret stores.
pub struct Platform {
    /// The cluster (shared with the tasks that kill or promote its servers).
    pub cluster: Arc<Cluster>,
    /// Removed on drop, kept when the scenario fails (for the service's log).
    dir: Option<tempfile::TempDir>,
    manifest: PathBuf,
    /// How long each setup step took (cluster, apply, migrate), for the report.
    pub setup: Vec<(&'static str, Duration)>,
    /// Held while this platform lives (the last field, so released after the cluster stops): see
    /// [`ONE_AT_A_TIME`].
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

/// Scenarios run one at a time, whatever the test harness's thread count: each calibrates its load to
/// the throughput it measures on the machine at its start (then offers twice that, or half of it), and a
/// scenario running beside it would change that throughput halfway through, so the rate a scenario
/// offers would no longer mean what it says.
static ONE_AT_A_TIME: std::sync::LazyLock<Arc<tokio::sync::Mutex<()>>> =
    std::sync::LazyLock::new(|| Arc::new(tokio::sync::Mutex::new(())));

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("cluster", &self.cluster.dir())
            .field("manifest", &self.manifest)
            .finish()
    }
}

impl Platform {
    /// Starts the cluster and provisions (and by default migrates) the service's database.
    ///
    /// # Panics
    /// When any step fails, with its output.
    pub async fn start(options: PlatformOptions) -> Self {
        let turn = ONE_AT_A_TIME.clone().lock_owned().await;
        let delay = options.apply_delay;
        let mut setup = Vec::new();
        let started = Instant::now();
        let cluster = tokio::task::spawn_blocking(move || {
            test_support::dedicated_cluster(ClusterOptions {
                recovery_min_apply_delay: delay,
                ..ClusterOptions::ephemeral()
            })
        })
        .await
        .unwrap_or_else(|e| panic!("starting the cluster: {e}"));
        let dir = tempfile::Builder::new()
            .prefix("pcc-fault-")
            .tempdir()
            .unwrap_or_else(|e| panic!("temporary directory: {e}"));
        setup.push(("cluster", started.elapsed()));
        let manifest = dir.path().join("pcc.toml");
        let mut platform = Self {
            cluster: Arc::new(cluster),
            dir: Some(dir),
            manifest,
            setup: Vec::new(),
            _turn: turn,
        };
        platform.write_manifest(&options);
        let admin_password = platform.create_admin_role().await;
        platform
            .pccdb(
                &[
                    "secrets",
                    "set",
                    "--secret",
                    &format!("pcc-admin-{ENV}-db"),
                    "--username",
                    ADMIN_ROLE,
                    "--admin-store",
                ],
                Some(admin_password.expose_secret()),
            )
            .await
            .expect_success("pccdb secrets set (admin credential)");
        // Provisioning and migrations through the platform library, the one path every entry point
        // shares (`pccdb apply` + `pccdb migrate --env --service` do the same steps in a pipeline).
        let started = Instant::now();
        let manifest = provision::Manifest::load(&platform.manifest).unwrap_or_else(|e| panic!("manifest: {e}"));
        let up = UpOptions {
            services: Some(if options.migrate {
                vec![SERVICE.to_owned()]
            } else {
                Vec::new()
            }),
            lock_wait: Duration::from_secs(120),
            ..UpOptions::from_directory(crate::binaries::workspace_root().join("migrations"))
        };
        ::platform::up(&manifest, ENV, &up)
            .await
            .unwrap_or_else(|e| panic!("bringing the platform up: {e}"));
        setup.push(("provision_and_migrate", started.elapsed()));
        if options.migrate {
            // A deployment rolls the service out after the migration has reached the replica
            // (with a delayed replica, lists would otherwise name tables it does not have yet).
            let started = Instant::now();
            platform.replica_caught_up().await;
            setup.push(("replica_caught_up", started.elapsed()));
        }
        platform.setup = setup;
        platform
    }

    fn write_manifest(&self, options: &PlatformOptions) {
        let root = self.dir().display();
        let ca = self.cluster.ca_cert_path();
        let endpoint = |node: NodeName| {
            let e = self.cluster.endpoint(node).unwrap_or_else(|e| panic!("{node:?}: {e}"));
            format!(
                "Host={};Port={};SSL Mode=VerifyFull;Root Certificate={}",
                e.host,
                e.port,
                ca.display()
            )
        };
        // Production's shape (deploy/pcc.toml, devtest) on this cluster. Four concurrent
        // migration runs (scenario 7) need four flyway_user sessions: migration_headroom 5.
        let text = format!(
            r#"version = 1
[admin]
role = "{ADMIN_ROLE}"
[migrator]
role = "flyway_user"
[environments.{ENV}]
primary = "{primary}"
replica = "{replica};Target Session Attributes=read-only"
max_connections = "server"
migration_headroom = 5
secrets = {{ backend = "file", dir = "{root}/secrets" }}
admin_secrets = {{ backend = "file", dir = "{root}/admin" }}
admin_secret = "pcc-admin-{ENV}-db"
capacity_history = "{root}/capacity.jsonl"
[services.{SERVICE}]
pool = {{ min = 2, max = 15, max_lifetime = "{lifetime}" }}
replica_pool = {{ min = 2, max = 10, max_lifetime = "{lifetime}" }}
pods = 1
max_surge = 1
rotation = {{ grace = "{grace}", credentials_refresh = "{refresh}" }}
"#,
            primary = endpoint(NodeName::Primary),
            replica = endpoint(NodeName::Replica),
            lifetime = options.max_lifetime,
            grace = options.rotation_grace,
            refresh = options.credentials_refresh,
        );
        std::fs::write(&self.manifest, text).unwrap_or_else(|e| panic!("writing the manifest: {e}"));
    }

    /// Creates `pcc_admin` as Terraform would and returns its password.
    async fn create_admin_role(&self) -> secrecy::SecretString {
        test_support::create_platform_admin(&self.superuser(NodeName::Primary, "postgres").await, ADMIN_ROLE).await
    }

    /// Waits until the replica has replayed everything the primary has written so far.
    ///
    /// # Panics
    /// After a minute.
    pub async fn replica_caught_up(&self) {
        let primary = self.superuser(NodeName::Primary, "postgres").await;
        let replica = self.superuser(NodeName::Replica, "postgres").await;
        test_support::replica_caught_up(&primary, &replica).await;
    }

    /// The manifest file.
    pub fn manifest(&self) -> &Path {
        &self.manifest
    }

    /// The scenario's temporary directory (manifest, secret stores, service files).
    pub fn dir(&self) -> &Path {
        self.dir
            .as_ref()
            .map_or_else(|| Path::new("/nonexistent"), tempfile::TempDir::path)
    }

    /// The service's credential as the service mounts it: the secret's directory in the file store
    /// (`PCC_DB_CREDENTIALS_FILE`), read through its `current` alias.
    pub fn credentials_file(&self) -> PathBuf {
        self.dir().join("secrets").join(format!("{SERVICE}-{ENV}-db"))
    }

    /// A superuser spec for `db` on `node`.
    ///
    /// # Panics
    /// For the replica of a cluster without one.
    pub fn superuser_spec(&self, node: NodeName, db: &str) -> ConnSpec {
        let e = self.cluster.endpoint(node).unwrap_or_else(|e| panic!("{node:?}: {e}"));
        ConnSpec::for_host(&e.host, e.port)
            .with_user(&e.user)
            .with_password(e.password.clone())
            .with_database(db)
            .with_ssl_mode(SslMode::VerifyFull)
            .with_root_cert(self.cluster.ca_cert_path())
            .with_connect_timeout(Some(Duration::from_secs(5)))
            .with_application_name("fault_suite")
    }

    /// A superuser session on `node` in `db`.
    ///
    /// # Panics
    /// When the server cannot be reached.
    pub async fn superuser(&self, node: NodeName, db: &str) -> Client {
        let (client, _) = conninfo::connect(&self.superuser_spec(node, db))
            .await
            .unwrap_or_else(|e| panic!("superuser session on {node:?}/{db}: {e}"));
        client
    }

    /// A superuser session in the service database on the primary.
    pub async fn service_db(&self) -> Client {
        self.superuser(NodeName::Primary, DATABASE).await
    }

    /// The service's connection strings (Npgsql form, no password: the service reads its
    /// credential from the secret store), resolved from the manifest as a deployment would.
    ///
    /// # Panics
    /// When the manifest or the secret store cannot be read.
    pub async fn connection_strings(&self) -> (String, Option<String>) {
        let manifest = provision::Manifest::load(&self.manifest).unwrap_or_else(|e| panic!("manifest: {e}"));
        let rt = provision::resolve::runtime_connections(&manifest, ENV, SERVICE)
            .await
            .unwrap_or_else(|e| panic!("resolving the service's connections: {e}"));
        let render = |mut spec: ConnSpec| {
            spec.password = None;
            spec.to_npgsql_secret().expose_secret().to_owned()
        };
        (render(rt.primary), rt.replica.map(render))
    }

    /// The primary string listing both servers, primary first (`Host=a:p1,b:p2`), as a
    /// deployment configures it for failover.
    pub async fn multi_host_primary(&self) -> String {
        let manifest = provision::Manifest::load(&self.manifest).unwrap_or_else(|e| panic!("manifest: {e}"));
        let rt = provision::resolve::runtime_connections(&manifest, ENV, SERVICE)
            .await
            .unwrap_or_else(|e| panic!("resolving the service's connections: {e}"));
        let hosts = [NodeName::Primary, NodeName::Replica]
            .into_iter()
            .map(|node| {
                let e = self.cluster.endpoint(node).unwrap_or_else(|e| panic!("{node:?}: {e}"));
                HostSpec::tcp(&e.host, e.port)
            })
            .collect();
        let mut spec = rt.primary.with_hosts(hosts);
        spec.password = None;
        spec.to_npgsql_secret().expose_secret().to_owned()
    }

    /// Runs a blocking launcher operation (kill, start, promote) off the async threads.
    ///
    /// # Panics
    /// When the operation fails.
    pub async fn launcher<T: Send + 'static>(
        &self,
        what: &'static str,
        op: impl FnOnce(&Cluster) -> pg_launcher::Result<T> + Send + 'static,
    ) -> T {
        let cluster = self.cluster.clone();
        tokio::task::spawn_blocking(move || op(&cluster))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"))
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        // A failed scenario keeps its directory: the service's log explains the failure.
        if std::thread::panicking()
            && let Some(dir) = self.dir.take()
        {
            let kept = dir.keep();
            eprintln!("fault_suite: kept {} (manifest, secrets, service logs)", kept.display());
        }
    }
}
