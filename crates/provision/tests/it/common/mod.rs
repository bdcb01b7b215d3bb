//! A provisioning test environment on the shared test cluster: a manifest with names unique to
//! the test (roles are cluster-wide, so parallel tests must not share them), file secret
//! stores in a temporary directory (or the fake Secret Manager for the service secrets), and an admin that is either the superuser or a
//! non-superuser LOGIN CREATEROLE CREATEDB role, as on AlloyDB.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use provision::Manifest;
use rand::distr::{Alphanumeric, SampleString};
use secrecy::{ExposeSecret as _, SecretString};
use secrets::{DbCredential, FileStore, SecretName, SecretStore, VersionRef};
use tokio_postgres::Client;

/// Who applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admin {
    /// The cluster's superuser.
    Superuser,
    /// A LOGIN CREATEROLE CREATEDB role without SUPERUSER (the managed-platform admin).
    CreateRole,
}

/// Options of a test environment.
pub struct Opts {
    pub admin: Admin,
    pub services: usize,
    pub max_lifetime: &'static str,
    pub grace: &'static str,
    pub extra: &'static str,
    pub env_extra: &'static str,
    /// More keys of each service's `rotation` table (`, keep_disabled = 1`).
    pub rotation_extra: &'static str,
    /// The environment's `secrets` table instead of a file store (`{ backend = "gcp", ... }`).
    pub secrets: Option<String>,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            admin: Admin::CreateRole,
            services: 1,
            max_lifetime: "30min",
            grace: "65min",
            extra: "",
            env_extra: "",
            rotation_extra: "",
            secrets: None,
        }
    }
}

/// A server to provision: host, port, CA, superuser.
#[derive(Clone)]
pub struct ServerInfo {
    pub host: String,
    pub port: u16,
    pub ca: Option<PathBuf>,
    pub user: String,
    pub password: SecretString,
    pub replica: Option<(String, u16)>,
}

impl ServerInfo {
    /// The shared test cluster.
    pub fn shared() -> Self {
        let cluster = test_support::cluster();
        let p = cluster.primary();
        Self {
            host: p.host.clone(),
            port: p.port,
            ca: cluster.ca_cert().map(std::path::Path::to_path_buf),
            user: p.user.clone(),
            password: p.password.clone(),
            replica: cluster.replica().map(|r| (r.host.clone(), r.port)),
        }
    }

    /// A superuser connection to `db`.
    pub async fn superuser(&self, db: &str) -> Client {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .user(&self.user)
            .password(self.password.expose_secret())
            .dbname(db);
        if self.ca.is_some() {
            config.ssl_mode(tokio_postgres::config::SslMode::Require);
        }
        test_support::connect(&config, self.ca.as_deref()).await.unwrap()
    }
}

pub struct Harness {
    pub server: ServerInfo,
    pub dir: tempfile::TempDir,
    pub token: String,
    pub env: String,
    pub manifest: Manifest,
    pub services: Vec<String>,
    pub admin_role: String,
    pub migrator: String,
}

pub fn token() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 6).to_ascii_lowercase()
}

impl Harness {
    pub async fn new(opts: Opts) -> Self {
        Self::on(ServerInfo::shared(), opts).await
    }

    pub async fn on(server: ServerInfo, opts: Opts) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let tok = token();
        let env = format!("e{tok}");
        let admin_role = format!("adm_{tok}");
        let migrator = format!("fly_{tok}");
        let tls = match &server.ca {
            Some(ca) => format!("SSL Mode=VerifyFull;Root Certificate={}", ca.display()),
            None => "SSL Mode=Require".to_owned(),
        };
        let endpoint = |host: &str, port: u16| format!("Host={host};Port={port};{tls}");
        let replica = server
            .replica
            .as_ref()
            .map(|(h, p)| {
                format!(
                    "replica = \"{};Target Session Attributes=read-only\"\n",
                    endpoint(h, *p)
                )
            })
            .unwrap_or_default();
        let root = dir.path().display().to_string();
        let mut text = format!(
            r#"version = 1
[admin]
role = "{admin_role}"
[migrator]
role = "{migrator}"
[environments.{env}]
primary = "{primary}"
{replica}secrets = {secrets}
admin_secrets = {{ backend = "file", dir = "{root}/admin" }}
admin_secret = "admin"
capacity_history = "{root}/capacity.jsonl"
{env_extra}
"#,
            env_extra = opts.env_extra,
            secrets = opts
                .secrets
                .clone()
                .unwrap_or_else(|| format!(r#"{{ backend = "file", dir = "{root}/secrets" }}"#)),
            primary = endpoint(&server.host, server.port)
        );
        let mut services = Vec::new();
        for i in 0..opts.services {
            let name = format!("pcc-t{tok}{}", (b'a' + u8::try_from(i).unwrap()) as char);
            text.push_str(&format!(
                "[services.{name}]\npool = {{ min = 1, max = 5, max_lifetime = \"{lt}\" }}\nreplica_pool = {{ min = 1, max = 3, max_lifetime = \"{lt}\" }}\nsize_estimate = \"50MB\"\nrotation = {{ grace = \"{grace}\", credentials_refresh = \"100ms\"{rotation_extra} }}\n{extra}\n",
                lt = opts.max_lifetime,
                grace = opts.grace,
                rotation_extra = opts.rotation_extra,
                extra = opts.extra.replace("{base}", &format!("t{tok}{}", (b'a' + u8::try_from(i).unwrap()) as char)),
            ));
            services.push(name);
        }
        let manifest = Manifest::parse(&dir.path().join("pcc.toml"), &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let admin_store = FileStore::new(dir.path().join("admin"));
        let credential = match opts.admin {
            Admin::Superuser => DbCredential::new(server.user.clone(), server.password.clone()),
            Admin::CreateRole => {
                let su = server.superuser("postgres").await;
                let password = test_support::create_platform_admin(&su, &admin_role).await;
                DbCredential::new(admin_role.clone(), password)
            }
        };
        admin_store
            .add_version(&SecretName::parse("admin").unwrap(), &credential.to_json())
            .await
            .unwrap();
        Self {
            server,
            dir,
            token: tok,
            env,
            manifest,
            services,
            admin_role,
            migrator,
        }
    }

    pub fn env(&self) -> &provision::manifest::Environment {
        self.manifest.environment(&self.env).unwrap()
    }

    pub fn deployment(&self, i: usize) -> provision::manifest::Deployment<'_> {
        self.manifest.deployment(&self.env, &self.services[i]).unwrap()
    }

    /// The environment's secret store (a file store unless the options chose another).
    pub fn store(&self) -> Arc<dyn SecretStore> {
        provision::target::open_store(&self.env().secrets).unwrap()
    }

    pub fn secrets_dir(&self) -> PathBuf {
        self.dir.path().join("secrets")
    }

    /// The `current` credential of a secret.
    pub async fn credential(&self, secret: &str) -> DbCredential {
        let read = self
            .store()
            .access(&SecretName::parse(secret).unwrap(), &VersionRef::current())
            .await
            .unwrap();
        DbCredential::from_json(&read.value).unwrap()
    }

    pub async fn session(&self) -> provision::apply::AdminSession {
        provision::apply::AdminSession::open(self.env()).await.unwrap()
    }
}

/// A superuser connection to `db` on the primary.
pub async fn superuser(db: &str) -> Client {
    let cluster = test_support::cluster();
    test_support::connect(&cluster.primary().config(db), cluster.ca_cert())
        .await
        .unwrap()
}

/// A connection to `db` on the primary as `credential`; the server's error otherwise.
pub async fn login(db: &str, credential: &DbCredential) -> Result<Client, tokio_postgres::Error> {
    let cluster = test_support::cluster();
    let mut config = cluster.primary().config(db);
    config
        .user(&credential.username)
        .password(credential.password.expose_secret());
    test_support::connect(&config, cluster.ca_cert()).await
}

/// The SQLSTATE of an error, or "" for a client-side error.
pub fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_owned()).unwrap_or_default()
}

pub fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}
