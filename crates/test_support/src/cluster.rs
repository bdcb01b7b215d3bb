//! The cluster a test binary shares, and private clusters for destructive tests.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

use pg_launcher::{Cluster, ClusterOptions, NodeName};
use secrecy::SecretString;
use tokio_postgres::config::Host;

/// How to reach one server as its superuser.
#[derive(Clone)]
pub struct Server {
    /// Host name or address (`127.0.0.1` for launched clusters).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Superuser name.
    pub user: String,
    /// Superuser password.
    pub password: SecretString,
    /// Database to connect to for administration (`postgres`).
    pub admin_db: String,
    /// The CA to verify the server's certificate with; `None` encrypts without verifying.
    pub ca_cert: Option<PathBuf>,
    /// Whether to use TLS at all (launched clusters require it; a URL with `sslmode=disable` turns it off).
    pub tls: bool,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A `conninfo` spec for `dbname` on this server as the superuser (TLS verified against the
    /// cluster CA when known), for code under test that takes connection specs.
    pub fn spec(&self, dbname: &str) -> conninfo::ConnSpec {
        let spec = conninfo::ConnSpec::for_host(&self.host, self.port)
            .with_user(&self.user)
            .with_password(self.password.clone())
            .with_database(dbname)
            .with_application_name("test_support");
        match (&self.ca_cert, self.tls) {
            (Some(ca), true) => spec.with_ssl_mode(conninfo::SslMode::VerifyFull).with_root_cert(ca),
            (None, true) => spec.with_ssl_mode(conninfo::SslMode::Require),
            (_, false) => spec.with_ssl_mode(conninfo::SslMode::Disable),
        }
    }

    /// A tokio-postgres configuration for `dbname` on this server.
    pub fn config(&self, dbname: &str) -> tokio_postgres::Config {
        use secrecy::ExposeSecret;
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .user(&self.user)
            .password(self.password.expose_secret())
            .dbname(dbname)
            .application_name("test_support")
            .connect_timeout(std::time::Duration::from_secs(10));
        config.ssl_mode(if self.tls {
            tokio_postgres::config::SslMode::Require
        } else {
            tokio_postgres::config::SslMode::Disable
        });
        config
    }

    fn from_launched(cluster: &Cluster, node: NodeName) -> Option<Self> {
        let endpoint = cluster.endpoint(node).ok()?;
        Some(Self {
            host: endpoint.host,
            port: endpoint.port,
            user: endpoint.user,
            password: endpoint.password,
            admin_db: "postgres".to_owned(),
            ca_cert: Some(cluster.ca_cert_path()),
            tls: true,
        })
    }

    fn from_url(var: &str, url: &str) -> Self {
        let config = tokio_postgres::Config::from_str(url)
            .unwrap_or_else(|e| panic!("{var} is not a valid libpq URL or keyword string: {e}"));
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(host)) => host.clone(),
            Some(Host::Unix(path)) => path.display().to_string(),
            None => "127.0.0.1".to_owned(),
        };
        let password = config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default();
        Self {
            host,
            port: config.get_ports().first().copied().unwrap_or(5432),
            user: config.get_user().unwrap_or("postgres").to_owned(),
            password: SecretString::from(password),
            admin_db: config.get_dbname().unwrap_or("postgres").to_owned(),
            ca_cert: std::env::var_os("PCC_TEST_CA_CERT").map(PathBuf::from),
            tls: config.get_ssl_mode() != tokio_postgres::config::SslMode::Disable,
        }
    }
}

/// The servers a test binary uses.
#[derive(Debug)]
pub struct TestCluster {
    launched: Option<Cluster>,
    primary: Server,
    replica: Option<Server>,
}

impl TestCluster {
    /// The primary.
    pub fn primary(&self) -> &Server {
        &self.primary
    }

    /// The streaming replica, if there is one.
    pub fn replica(&self) -> Option<&Server> {
        self.replica.as_ref()
    }

    /// The launcher cluster behind it; `None` when tests run against `PCC_TEST_DATABASE_URL`.
    pub fn launched(&self) -> Option<&Cluster> {
        self.launched.as_ref()
    }

    /// The CA certificate to trust, when connections use TLS.
    pub fn ca_cert(&self) -> Option<&Path> {
        self.primary.ca_cert.as_deref()
    }
}

static CLUSTER: OnceLock<TestCluster> = OnceLock::new();

/// The cluster shared by every test of this binary, started on first use.
///
/// # Panics
/// If the cluster cannot be started: every database test would fail anyway, and the message says why.
pub fn cluster() -> &'static TestCluster {
    CLUSTER.get_or_init(|| {
        if let Ok(url) = std::env::var("PCC_TEST_DATABASE_URL") {
            let primary = Server::from_url("PCC_TEST_DATABASE_URL", &url);
            let replica = std::env::var("PCC_TEST_REPLICA_URL")
                .ok()
                .map(|u| Server::from_url("PCC_TEST_REPLICA_URL", &u));
            return TestCluster {
                launched: None,
                primary,
                replica,
            };
        }
        let cluster = launch(&ClusterOptions::ephemeral());
        let primary = Server::from_launched(&cluster, NodeName::Primary)
            .unwrap_or_else(|| panic!("launched cluster has no primary"));
        let replica = Server::from_launched(&cluster, NodeName::Replica);
        TestCluster {
            launched: Some(cluster),
            primary,
            replica,
        }
    })
}

/// A private cluster for one test (kill, promote, lag...). It is removed when dropped, or when the
/// process exits if the test never gets to drop it.
///
/// # Panics
/// If the cluster cannot be started, with the launcher's explanation.
pub fn dedicated_cluster(options: ClusterOptions) -> Cluster {
    launch(&ClusterOptions {
        ephemeral: true,
        ..options
    })
}

fn launch(options: &ClusterOptions) -> Cluster {
    // Under the system temp dir, reachable by the `postgres` OS user when we are root. The
    // launcher's watchdog deletes the whole directory when the cluster is dropped or we exit.
    let dir = tempfile::Builder::new()
        .prefix("pcc-test-")
        .tempdir()
        .unwrap_or_else(|e| panic!("creating a temporary directory for the test cluster: {e}"))
        .keep();
    let (cluster, _) = Cluster::up(&dir, options).unwrap_or_else(|e| panic!("starting the test cluster failed: {e}"));
    cluster
}
