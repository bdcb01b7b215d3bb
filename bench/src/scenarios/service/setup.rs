//! The service scenario's world: a fresh local primary + replica provisioned and migrated by the platform
//! library from the repository's manifest (its `dev` environment moved into the benchmark's directory), as
//! the embedded default, `pccdb dev up` and the tests do; demo data loaded with COPY; and the release binary
//! of the service started as a separate process (so its RSS is its own).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use client_api::auth::dev::DevKey;
use platform::UpOptions;
use provision::Manifest;
use provision::manifest::{Endpoints, SecretsBackend};
use provision::resolve::RuntimeConnections;
use secrecy::ExposeSecret as _;

/// The prepared databases and how to reach them.
pub struct World {
    /// The temporary directory holding everything.
    pub dir: PathBuf,
    /// The service's connections (its login, primary and replica specs with the manifest's pool sizes).
    pub runtime: RuntimeConnections,
    /// The development signing key the service verifies the benchmark's tokens with.
    pub key: DevKey,
    /// The service database.
    pub database: String,
    /// The launcher cluster.
    pub cluster: pg_launcher::Cluster,
    /// Leave the cluster running at the end (`--keep`), to inspect the database.
    pub keep: bool,
}

impl Drop for World {
    fn drop(&mut self) {
        if self.keep {
            eprintln!(
                "    kept: the cluster in {} is still running (`pccdb dev psql --dir {}`; `pccdb dev destroy --dir {}` removes it)",
                self.dir.join("cluster").display(),
                self.dir.join("cluster").display(),
                self.dir.join("cluster").display()
            );
            return;
        }
        if let Ok(cluster) = pg_launcher::Cluster::open(&self.dir.join("cluster")) {
            let _ = cluster.destroy();
        }
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Creates the cluster, provisions and migrates the service database.
///
/// # Errors
/// Any step's failure.
pub async fn prepare(dir: &Path, keep: bool) -> anyhow::Result<World> {
    let mut manifest = Manifest::load(&repo_root().join("deploy/pcc.toml")).context("reading deploy/pcc.toml")?;
    let cluster_dir = dir.join("cluster");
    let env = manifest
        .environments
        .values_mut()
        .find(|e| e.name.as_str() == "dev")
        .context("deploy/pcc.toml has no `dev` environment")?;
    env.endpoints = Endpoints::LocalCluster(cluster_dir.clone());
    env.secrets = SecretsBackend::File(dir.join("secrets"));
    env.admin_secrets = env.secrets.clone();
    env.capacity_history = dir.join("capacity.jsonl");
    let options = UpOptions {
        services: Some(vec![client_api::embedded::SERVICE.to_owned()]),
        ..UpOptions::from_directory(repo_root().join("migrations"))
    };
    let mut report = platform::up(&manifest, "dev", &options).await?;
    let service = report.services.remove(0);
    let cluster = pg_launcher::Cluster::open(&cluster_dir)?;
    Ok(World {
        dir: dir.to_owned(),
        database: service.names.database.to_string(),
        runtime: service.runtime,
        key: DevKey::load_or_create(&dir.join("api"))?,
        cluster,
        keep,
    })
}

impl World {
    /// A superuser session on the primary.
    ///
    /// # Errors
    /// Connection failure.
    pub async fn admin(&self) -> anyhow::Result<tokio_postgres::Client> {
        Ok(platform::superuser(&self.cluster, &self.database).await?)
    }

    /// Server settings for bulk loads, on both servers: checkpoints far apart (a million clients write a few
    /// GiB of WAL; with the default 1 GiB `max_wal_size` the load would checkpoint, and then write full-page
    /// images, several times). Managed services (AlloyDB) size this themselves. Reads are unaffected.
    ///
    /// # Errors
    /// psql failing.
    pub fn tune_for_bulk_load(&self) -> anyhow::Result<()> {
        for node in [pg_launcher::NodeName::Primary, pg_launcher::NodeName::Replica] {
            for sql in [
                "ALTER SYSTEM SET max_wal_size = '16GB'",
                "ALTER SYSTEM SET checkpoint_timeout = '30min'",
                "SELECT pg_catalog.pg_reload_conf()",
            ] {
                self.cluster
                    .query(node, &self.database, sql)
                    .with_context(|| format!("{sql} on the {node:?}"))?;
            }
        }
        Ok(())
    }

    /// PG* variables for pgbench against `node`.
    pub fn pg_env(&self, node: pg_launcher::NodeName) -> anyhow::Result<Vec<(String, String)>> {
        let endpoint = self.cluster.endpoint(node)?;
        Ok(vec![
            ("PGHOST".into(), endpoint.host.clone()),
            ("PGPORT".into(), endpoint.port.to_string()),
            ("PGUSER".into(), endpoint.user.clone()),
            ("PGPASSWORD".into(), endpoint.password.expose_secret().to_owned()),
            ("PGDATABASE".into(), self.database.clone()),
            ("PGSSLMODE".into(), "require".into()),
        ])
    }

    /// Waits until the replica has replayed everything written so far.
    ///
    /// # Errors
    /// Timeout or connection failure.
    pub async fn replica_caught_up(&self) -> anyhow::Result<()> {
        let admin = self.admin().await?;
        let position: String = admin
            .query_one("SELECT pg_catalog.pg_current_wal_insert_lsn()::text", &[])
            .await?
            .get(0);
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            let replayed = self.cluster.query(
                pg_launcher::NodeName::Replica,
                &self.database,
                &format!("SELECT pg_catalog.pg_last_wal_replay_lsn() >= '{position}'::pg_lsn"),
            )?;
            if replayed.trim() == "t" {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the replica did not catch up with {position}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The service running as a child process.
pub struct Service {
    /// Base URL.
    pub base: String,
    /// The bearer token (handed to wrk in a script file, never on its command line).
    pub token: secrecy::SecretString,
    child: Child,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// `GET path` over HTTP/1.0; the status code.
pub fn http_status(base: &str, path: &str) -> Option<u16> {
    let address = base.strip_prefix("http://")?;
    let mut stream = TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

impl Service {
    /// Starts the release binary against the world's databases and waits until it is ready.
    ///
    /// # Errors
    /// The binary failing to start or to become ready in 60 s.
    pub fn start(binary: &Path, world: &World) -> anyhow::Result<Self> {
        let port = free_port()?;
        let db = &world.runtime;
        let token = world
            .key
            .token("bench", &["clients:read", "clients:write"], 24 * 3600)?;
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PCC_DB_PRIMARY", db.primary.to_npgsql_secret().expose_secret())
            .env("PCC_AUTH_JWKS_FILE", world.key.jwks_path())
            .env("PCC_AUTH_ISSUER", client_api::auth::dev::DEV_ISSUER)
            .env("PCC_AUTH_AUDIENCE", client_api::auth::dev::DEV_AUDIENCE)
            .env("PCC_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(world.dir.join("service.log"))?);
        // Pools as the manifest sizes them for this environment, as the deployment sets them (its login's
        // CONNECTION LIMIT is that size: a larger pool would have its extra connections refused, 53300).
        command.env("PCC_DB_POOL_MAX", db.primary.pool.max_size.to_string());
        if let Some(replica) = &db.replica {
            command.env("PCC_DB_REPLICA", replica.to_npgsql_secret().expose_secret());
            command.env("PCC_DB_REPLICA_POOL_MAX", replica.pool.max_size.to_string());
        }
        // Tuning variables of the bench's own environment reach the service (PCC_DB_SHARED_SESSIONS=4
        // bench/run service ...), so a setting can be measured without a rebuild; the connection strings and
        // addresses set above win, the pool sizes may be overridden.
        for (name, value) in std::env::vars_os() {
            let Some(text) = name.to_str() else { continue };
            let ours = [
                "PCC_DB_PRIMARY",
                "PCC_DB_REPLICA",
                "PCC_AUTH_JWKS_FILE",
                "PCC_AUTH_ISSUER",
                "PCC_AUTH_AUDIENCE",
                "PCC_HTTP_ADDR",
            ];
            if text.starts_with("PCC_") && !ours.contains(&text) {
                command.env(&name, value);
            }
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let service = Service {
            base: format!("http://127.0.0.1:{port}"),
            token,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while http_status(&service.base, "/readyz") != Some(200) {
            if Instant::now() > deadline {
                bail!(
                    "the service did not become ready; see {}",
                    world.dir.join("service.log").display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(service)
    }

    /// The process's /proc status file (RSS sampling).
    pub fn status_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/status", self.child.id()))
    }

    /// Peak and current resident set size, in MiB.
    ///
    /// # Errors
    /// /proc unreadable.
    pub fn rss_mib(&self) -> anyhow::Result<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let field = |name: &str| -> Option<f64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb / 1024.0)
        };
        Ok((field("VmHWM:").context("VmHWM")?, field("VmRSS:").context("VmRSS")?))
    }
}
