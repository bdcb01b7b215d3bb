//! A service's database the way production has it, one copy per test: [`service_database`].
//!
//! Once per test binary and service, the repository's own manifest (deploy/pcc.toml) is brought up by the
//! platform library (crates/platform: provision's roles, grants and credentials, then the migrate engine
//! with its history table, as `pccdb apply` + `pccdb migrate` do in a pipeline) on this binary's cluster:
//! its `dev` environment, pointed at the test cluster, with its secrets in a temporary file store. That
//! database is the template; each test gets `platform::clone_database` of it (owner and privileges
//! included) and the service's real login, read from the secret store. Nothing here names a role or runs a
//! migration file by hand, so the tests exercise exactly what production runs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use platform::UpOptions;
use provision::Manifest;
use provision::manifest::{AdminCredential, Endpoints, SecretsBackend};
use provision::naming::ServiceNames;
use provision::resolve::RuntimeConnections;
use secrecy::ExposeSecret as _;
use tokio::sync::OnceCell;
use tokio_postgres::Client;

use crate::cluster::{Server, TestCluster, cluster};
use crate::database::TestDatabase;
use crate::names::unique_name;
use crate::tls::connect;

/// The environment of deploy/pcc.toml the tests bring up (pointed at the test cluster).
pub const TEST_ENVIRONMENT: &str = "dev";

/// The repository root (test_support lives in crates/test_support).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One service's template, built once per test binary.
struct ServiceTemplate {
    service: String,
    manifest: Manifest,
    names: ServiceNames,
    runtime: RuntimeConnections,
    migrations_executed: usize,
    /// Holds the file secret store for as long as the binary runs.
    _secrets: tempfile::TempDir,
}

/// Templates by service; each cell is leaked on insertion (one per service and process), so a built
/// template is `'static` and tests can hold on to it.
type Registry = Mutex<HashMap<String, &'static OnceCell<ServiceTemplate>>>;
static TEMPLATES: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();

/// A test's own copy of a service's provisioned, migrated database.
pub struct ServiceDatabase {
    db: TestDatabase,
    template: &'static ServiceTemplate,
}

impl std::fmt::Debug for ServiceDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceDatabase")
            .field("database", &self.db.name())
            .field("template", &self.template.names.database.as_str())
            .finish_non_exhaustive()
    }
}

/// A fresh copy of `service`'s database (e.g. `pcc-client-api`), provisioned from deploy/pcc.toml and
/// migrated from `migrations/<schema>` by the platform library on first use in this test binary.
///
/// # Panics
/// If bringing the platform up or cloning fails: no test of the service could run, and the message says
/// which step failed.
pub async fn service_database(service: &str) -> ServiceDatabase {
    let cell: &'static OnceCell<ServiceTemplate> = {
        let registry = TEMPLATES.get_or_init(Registry::default);
        let mut map = registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(service.to_owned())
            .or_insert_with(|| Box::leak(Box::new(OnceCell::new())))
    };
    let template = cell
        .get_or_try_init(|| build(service))
        .await
        .unwrap_or_else(|e| panic!("bringing {service} up on the test cluster failed: {e}"));
    let name = unique_name("t");
    clone(template, &name).await;
    ServiceDatabase {
        db: TestDatabase::adopt(name, cluster()),
        template,
    }
}

/// How many copies of the service can run at once: one per test thread.
fn test_threads() -> u32 {
    std::env::var("RUST_TEST_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get() as u32))
        .unwrap_or(2)
        .max(2)
}

/// deploy/pcc.toml with its `dev` environment on this binary's cluster and its secrets in `secrets`.
async fn test_manifest(cluster: &TestCluster, secrets: &Path) -> Result<Manifest, String> {
    let path = repo_root().join("deploy/pcc.toml");
    let mut manifest = Manifest::load(&path).map_err(|e| e.to_string())?;
    let env = manifest
        .environments
        .values_mut()
        .find(|e| e.name.as_str() == TEST_ENVIRONMENT)
        .ok_or_else(|| format!("{} has no `{TEST_ENVIRONMENT}` environment", path.display()))?;
    env.secrets = SecretsBackend::File(secrets.join("service"));
    env.capacity_history = secrets.join("capacity.jsonl");
    match cluster.launched() {
        Some(launched) => {
            env.endpoints = Endpoints::LocalCluster(launched.dir().to_owned());
            env.admin_credential = AdminCredential::LocalCluster;
            env.admin_secrets = env.secrets.clone();
        }
        None => {
            // PCC_TEST_DATABASE_URL: a server of the developer's; its superuser is the admin, kept in a
            // file store like any environment's admin secret.
            let remote = |s: &Server| {
                let tls = match (&s.ca_cert, s.tls) {
                    (Some(ca), true) => format!("SSL Mode=VerifyFull;Root Certificate={}", ca.display()),
                    (None, true) => "SSL Mode=Require".to_owned(),
                    (_, false) => "SSL Mode=Disable".to_owned(),
                };
                format!("Host={};Port={};{tls}", s.host, s.port)
            };
            env.endpoints = Endpoints::Remote {
                primary: remote(cluster.primary()).into(),
                replica: cluster
                    .replica()
                    .map(|r| format!("{};Target Session Attributes=read-only", remote(r)).into()),
            };
            let admin_dir = secrets.join("admin");
            let store = secrets::FileStore::new(&admin_dir);
            let name = "pcc-test-admin-db";
            let credential =
                secrets::DbCredential::new(cluster.primary().user.clone(), cluster.primary().password.clone());
            use secrets::SecretStore as _;
            store
                .add_version(
                    &secrets::SecretName::parse(name).map_err(|e| e.to_string())?,
                    &credential.to_json(),
                )
                .await
                .map_err(|e| e.to_string())?;
            env.admin_credential = AdminCredential::Secret(name.to_owned());
            env.admin_secrets = SecretsBackend::File(admin_dir);
        }
    }
    // Every test thread may run its own copy of the service: budget that many pods, so the logins'
    // CONNECTION LIMIT (pool size x peak pods) never refuses a test's pool.
    let threads = test_threads();
    for service in manifest.services.values_mut() {
        for here in service.per_env.values_mut() {
            here.sizing.pods = here.sizing.pods.max(threads);
        }
    }
    Ok(manifest)
}

async fn build(service: &str) -> Result<ServiceTemplate, String> {
    let cluster = cluster();
    // Inside the launched cluster's directory, which its watchdog removes when the process exits (a
    // static is never dropped, so a TempDir of its own would be left behind).
    let secrets = match cluster.launched() {
        Some(launched) => tempfile::Builder::new().prefix("secrets-").tempdir_in(launched.dir()),
        None => tempfile::Builder::new().prefix("pcc-test-secrets-").tempdir(),
    }
    .map_err(|e| format!("temporary directory: {e}"))?;
    let manifest = test_manifest(cluster, secrets.path()).await?;
    let options = UpOptions {
        services: Some(vec![service.to_owned()]),
        ..UpOptions::from_directory(repo_root().join("migrations"))
    };
    let mut report = platform::up(&manifest, TEST_ENVIRONMENT, &options)
        .await
        .map_err(|e| e.to_string())?;
    let up = report.services.remove(0);
    let admin = admin(cluster.primary()).await;
    // The template must have no sessions for CREATE DATABASE ... TEMPLATE; nobody connects to it again.
    admin
        .batch_execute(&format!(
            "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity \
              WHERE datname = '{db}' AND pid <> pg_catalog.pg_backend_pid(); \
             ALTER DATABASE {db} WITH ALLOW_CONNECTIONS false",
            db = up.names.database
        ))
        .await
        .map_err(|e| format!("freezing the template {}: {e}", up.names.database))?;
    Ok(ServiceTemplate {
        service: service.to_owned(),
        manifest,
        migrations_executed: up.migrate.migrations_executed,
        names: up.names,
        runtime: up.runtime,
        _secrets: secrets,
    })
}

async fn clone(template: &ServiceTemplate, name: &str) {
    let admin = admin(cluster().primary()).await;
    // A session of another clone may still be leaving the template; retry "being accessed by other users".
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match platform::clone_database(&admin, template.names.database.as_str(), name).await {
            Ok(()) => return,
            Err(platform::PlatformError::Statement { source, .. })
                if source.code() == Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE)
                    && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("cloning {} into {name}: {e}", template.names.database),
        }
    }
}

async fn admin(server: &Server) -> Client {
    connect(&server.config(&server.admin_db), server.ca_cert.as_deref())
        .await
        .unwrap_or_else(|e| panic!("connecting to {}:{} as {}: {e}", server.host, server.port, server.user))
}

impl ServiceDatabase {
    /// The test's database (superuser access, its name, the replica).
    pub fn db(&self) -> &TestDatabase {
        &self.db
    }

    /// A superuser session on this test's database on the primary.
    ///
    /// # Panics
    /// If the connection fails.
    pub async fn connect(&self) -> Client {
        self.db.connect().await
    }

    /// Returns once the replica has replayed everything written on the primary so far.
    pub async fn replica_caught_up(&self) {
        self.db.replica_caught_up().await;
    }

    /// The service's derived names (schema, owner, groups, logins); `database` is the template's.
    pub fn names(&self) -> &ServiceNames {
        &self.template.names
    }

    /// The manifest the platform brought up (deploy/pcc.toml, `dev` on the test cluster).
    pub fn manifest(&self) -> &Manifest {
        &self.template.manifest
    }

    /// How many migrations the platform applied to the template.
    pub fn migrations_executed(&self) -> usize {
        self.template.migrations_executed
    }

    /// The service's runtime connections (its login and current credential, primary and replica specs
    /// with the manifest's pool settings), pointed at this test's database.
    pub fn runtime(&self) -> RuntimeConnections {
        let mut runtime = self.template.runtime.clone();
        runtime.primary = runtime.primary.with_database(self.db.name().to_owned());
        runtime.replica = runtime.replica.map(|r| r.with_database(self.db.name().to_owned()));
        runtime
    }

    /// A session on the primary as the service's login.
    ///
    /// # Panics
    /// If the connection fails.
    pub async fn connect_as_service(&self) -> Client {
        let spec = self.runtime().primary;
        let (client, _) = conninfo::connect(&spec)
            .await
            .unwrap_or_else(|e| panic!("connecting to {} as the service: {e}", self.db.name()));
        client
    }

    /// A superuser session on the primary acting as the owner role (`SET ROLE`), as migrations run.
    ///
    /// # Panics
    /// If the connection fails.
    pub async fn connect_as_owner(&self) -> Client {
        let client = self.db.connect().await;
        client
            .batch_execute(&format!("SET ROLE {}", self.names().owner))
            .await
            .expect("acting as the owner role");
        client
    }

    /// Runs the migrate engine on this test's database again, exactly as the platform ran it on the
    /// template (the migration login, `SET ROLE` owner, the history table secured afterwards).
    ///
    /// # Errors
    /// The platform's error (resolution, connection, engine).
    pub async fn migrate(&self) -> Result<migrate::MigrateReport, platform::PlatformError> {
        let mut target =
            provision::resolve::migration_target(&self.template.manifest, TEST_ENVIRONMENT, &self.template.service)
                .await?;
        target.spec = target.spec.with_database(self.db.name().to_owned());
        target.database = self.db.name().to_owned();
        platform::migrate_target(
            &target,
            &self.template.service,
            &platform::Migrations::Directory(repo_root().join("migrations")),
        )
        .await
    }

    /// The service login's password (for tests that hand the credential to a process).
    pub fn password(&self) -> secrecy::SecretString {
        secrecy::SecretString::from(self.template.runtime.credential.password.expose_secret().to_owned())
    }
}
