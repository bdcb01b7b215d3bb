//! A fresh database per test, cloned with `CREATE DATABASE ... TEMPLATE` from `template0` or from a
//! template built once per test binary (for example one with all migrations applied).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::OnceCell;
use tokio_postgres::Client;

use crate::cluster::{Server, TestCluster, cluster};
use crate::names::unique_name;
use crate::tls::connect;

/// Which server of the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The primary (read-write).
    Primary,
    /// The streaming replica (read-only).
    Replica,
}

/// How a template database is prepared: it receives a configuration for the new, empty template
/// database (superuser) and fills it, e.g. by running migrations.
pub type TemplateInit = fn(tokio_postgres::Config) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A template database built once per test binary, on first use.
#[derive(Debug)]
pub struct Template {
    name: &'static str,
    init: TemplateInit,
}

impl Template {
    /// Declares a template; `name` must be unique within the test binary.
    pub const fn new(name: &'static str, init: TemplateInit) -> Self {
        Self { name, init }
    }
}

type Registry = Mutex<HashMap<&'static str, Arc<OnceCell<String>>>>;
static TEMPLATES: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();

/// A database that belongs to one test.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    cluster: &'static TestCluster,
}

/// A fresh, empty database (from `template0`).
///
/// # Panics
/// If the server refuses: the test cannot run, and the message says why.
pub async fn database() -> TestDatabase {
    create_from("template0").await
}

/// A fresh database cloned from `template`, which is built on first use in this test binary.
///
/// # Panics
/// If building the template or cloning it fails.
pub async fn database_from(template: &'static Template) -> TestDatabase {
    let cell = {
        let registry = TEMPLATES.get_or_init(Registry::default);
        let mut map = registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(template.name).or_default().clone()
    };
    let template_db = cell
        .get_or_try_init(|| build_template(template))
        .await
        .unwrap_or_else(|e| panic!("building template database `{}` failed: {e}", template.name));
    create_from(template_db).await
}

async fn build_template(template: &Template) -> Result<String, String> {
    let cluster = cluster();
    let primary = cluster.primary();
    let name = format!("tpl_{}_{}", template.name, std::process::id());
    let admin = admin(primary).await;
    // Two statements, two round trips: a multi-statement string is one implicit transaction,
    // and CREATE DATABASE refuses to run inside a transaction.
    for sql in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name} TEMPLATE template0"),
    ] {
        admin
            .batch_execute(&sql)
            .await
            .map_err(|e| format!("creating {name}: {e}"))?;
    }
    (template.init)(primary.config(&name)).await?;
    // Cloning requires that nobody is connected to the template.
    admin
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid();
             ALTER DATABASE {name} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
        ))
        .await
        .map_err(|e| format!("freezing {name}: {e}"))?;
    Ok(name)
}

async fn create_from(template: &str) -> TestDatabase {
    let cluster = cluster();
    let name = unique_name("t");
    let admin = admin(cluster.primary()).await;
    // Another session may still be leaving the template; retry "being accessed by other users".
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .await
        {
            Ok(()) => break,
            Err(e)
                if e.code() == Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE) && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("CREATE DATABASE {name} TEMPLATE {template} failed: {e}"),
        }
    }
    TestDatabase { name, cluster }
}

async fn admin(server: &Server) -> Client {
    connect(&server.config(&server.admin_db), server.ca_cert.as_deref())
        .await
        .unwrap_or_else(|e| panic!("connecting to {}:{} as {}: {e}", server.host, server.port, server.user))
}

impl TestDatabase {
    /// Takes ownership of database `name`, created by the caller on the shared cluster: dropped when the
    /// test passes, kept when it fails, like every other test database.
    pub(crate) fn adopt(name: String, cluster: &'static TestCluster) -> Self {
        Self { name, cluster }
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cluster it lives in.
    pub fn cluster(&self) -> &'static TestCluster {
        self.cluster
    }

    fn server(&self, target: Target) -> &'static Server {
        match target {
            Target::Primary => self.cluster.primary(),
            Target::Replica => self
                .cluster
                .replica()
                .unwrap_or_else(|| panic!("this test needs a replica and the test cluster has none")),
        }
    }

    /// Superuser configuration for this database on the primary.
    pub fn primary_config(&self) -> tokio_postgres::Config {
        self.cluster.primary().config(&self.name)
    }

    /// Superuser configuration for this database on the replica.
    ///
    /// # Panics
    /// When the cluster has no replica.
    pub fn replica_config(&self) -> tokio_postgres::Config {
        self.server(Target::Replica).config(&self.name)
    }

    /// A superuser connection to this database on the primary.
    ///
    /// # Panics
    /// If the connection fails.
    pub async fn connect(&self) -> Client {
        connect(&self.primary_config(), self.cluster.ca_cert())
            .await
            .unwrap_or_else(|e| panic!("connecting to test database {}: {e}", self.name))
    }

    /// A superuser connection to this database on the replica, once the replica has replayed its
    /// creation (it is created on the primary a moment before).
    ///
    /// # Panics
    /// If the database does not appear on the replica within 30 s.
    pub async fn connect_replica(&self) -> Client {
        let config = self.replica_config();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match connect(&config, self.cluster.ca_cert()).await {
                Ok(client) => return client,
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(e) => panic!("connecting to test database {} on the replica: {e}", self.name),
            }
        }
    }

    /// Returns once the replica has replayed everything written on the primary so far (a database
    /// created a moment ago included).
    ///
    /// # Panics
    /// As [`crate::replica_caught_up`].
    pub async fn replica_caught_up(&self) {
        let primary = self.connect().await;
        let replica = self.connect_replica().await;
        crate::wait::replica_caught_up(&primary, &replica).await;
    }

    /// A `conninfo` spec for this database on the primary or the replica (superuser, TLS verified
    /// against the cluster CA), for code under test that takes connection specs.
    pub fn spec(&self, target: Target) -> conninfo::ConnSpec {
        self.server(target).spec(&self.name)
    }

    /// A libpq URI for this database (`postgresql://user:password@host:port/db?sslmode=require`).
    pub fn libpq_url(&self, target: Target) -> SecretString {
        let server = self.server(target);
        let encode = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
        let sslmode = if server.tls { "require" } else { "disable" };
        SecretString::from(format!(
            "postgresql://{}:{}@{}:{}/{}?sslmode={sslmode}",
            encode(&server.user),
            encode(server.password.expose_secret()),
            server.host,
            server.port,
            self.name
        ))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let primary = self.cluster.primary();
            eprintln!(
                "test database kept for inspection: {} on {}:{} (the cluster is removed when the test binary exits)",
                self.name, primary.host, primary.port
            );
            return;
        }
        // Drop runs outside async context guarantees; use a private runtime on a plain thread.
        let name = self.name.clone();
        let server = self.cluster.primary().clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async move {
                let client = connect(&server.config(&server.admin_db), server.ca_cert.as_deref())
                    .await
                    .ok()?;
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("warning: could not drop test database {}", self.name);
        }
    }
}
