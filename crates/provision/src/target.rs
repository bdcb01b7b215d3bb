//! From a manifest environment to live things: connection specs of its primary and replica,
//! its secret stores, the admin credential, and authenticated sessions.
//!
//! Endpoint strings in the manifest carry hosts and TLS settings only; a password there is
//! refused (credentials come from secret stores). A `local_cluster` environment reads the
//! endpoints, CA certificate and superuser password from the `pccdb dev` directory and
//! verifies the server against that CA (VerifyFull: the local certificate names 127.0.0.1; AlloyDB is verified
//! against its cluster CA with VerifyCA, deploy/pcc.toml says why).

use std::sync::Arc;
use std::time::Duration;

use conninfo::{ConnSpec, SslMode, TargetSessionAttrs};
use secrets::{
    DbCredential, EnvStore, FileStore, GcpConfig, GcpSecretManager, SecretName, SecretStore, TokenSource, VersionRef,
};
use tokio_postgres::Client;

use crate::error::ProvisionError;
use crate::manifest::{AdminCredential, Endpoint, Endpoints, Environment, SecretsBackend};

/// The servers of one environment, without credentials or database.
#[derive(Debug, Clone)]
pub struct EnvEndpoints {
    /// The primary.
    pub primary: ConnSpec,
    /// The replica, when the environment has one.
    pub replica: Option<ConnSpec>,
}

fn local_spec(endpoint: &pg_launcher::Endpoint, ca: &std::path::Path) -> ConnSpec {
    ConnSpec::for_host(&endpoint.host, endpoint.port)
        .with_ssl_mode(SslMode::VerifyFull)
        .with_root_cert(ca)
}

fn open_local(env: &Environment, dir: &std::path::Path) -> Result<pg_launcher::Cluster, ProvisionError> {
    pg_launcher::Cluster::open(dir).map_err(|source| ProvisionError::LocalCluster {
        env: env.name.to_string(),
        dir: dir.to_owned(),
        source: Box::new(source),
    })
}

/// Resolves the endpoints of `env`.
///
/// # Errors
/// [`ProvisionError::Endpoint`] for an unparsable string or one that carries a password;
/// [`ProvisionError::LocalCluster`] when the local cluster directory cannot be opened.
pub fn endpoints(env: &Environment) -> Result<EnvEndpoints, ProvisionError> {
    match &env.endpoints {
        Endpoints::Remote { primary, replica } => {
            let fail = |detail: String| ProvisionError::Endpoint {
                env: env.name.to_string(),
                detail,
            };
            let parse = |which: &str, endpoint: &Endpoint| -> Result<ConnSpec, ProvisionError> {
                let (text, host) = match endpoint {
                    Endpoint::Literal(text) => (text.clone(), None),
                    Endpoint::Terraform { output, settings } => {
                        let file = env.terraform_outputs.as_deref().ok_or_else(|| {
                            fail(format!(
                                "{which} takes its host from Terraform, but terraform.outputs_file is not set"
                            ))
                        })?;
                        let host =
                            crate::terraform::output_host(file, output).map_err(|e| fail(format!("{which}: {e}")))?;
                        (format!("Host={host};{settings}"), Some(host))
                    }
                };
                let spec = ConnSpec::parse(&text).map_err(|e| ProvisionError::Endpoint {
                    env: env.name.to_string(),
                    detail: format!("{which} is not a connection string: {e}"),
                })?;
                // The settings of a Terraform endpoint may not name a host of their own: the one host is
                // Terraform's.
                if let Some(host) = host
                    && (spec.hosts.len() != 1 || spec.hosts[0].host != conninfo::Host::Tcp(host.clone()))
                {
                    return Err(fail(format!(
                        "{which}: settings name a host; the host is Terraform's output ({host})"
                    )));
                }
                if spec.password.is_some() {
                    return Err(ProvisionError::Endpoint {
                        env: env.name.to_string(),
                        detail: format!(
                            "{which} contains a password; the manifest holds endpoints only, credentials come from the secret store"
                        ),
                    });
                }
                Ok(spec)
            };
            let primary = parse("primary", primary)?;
            let replica = replica.as_ref().map(|r| parse("replica", r)).transpose()?;
            Ok(EnvEndpoints { primary, replica })
        }
        Endpoints::LocalCluster(dir) => {
            let cluster = open_local(env, dir)?;
            let ca = cluster.ca_cert_path();
            let primary = local_spec(&cluster.primary(), &ca);
            let replica = cluster
                .replica()
                .map(|r| local_spec(&r, &ca).with_target_session_attrs(TargetSessionAttrs::ReadOnly));
            Ok(EnvEndpoints { primary, replica })
        }
    }
}

/// Opens a secret store.
///
/// # Errors
/// [`ProvisionError::Secret`] when the GCP client cannot be configured.
pub fn open_store(backend: &SecretsBackend) -> Result<Arc<dyn SecretStore>, ProvisionError> {
    Ok(match backend {
        SecretsBackend::File(dir) => Arc::new(FileStore::new(dir.clone())),
        SecretsBackend::Env(prefix) => Arc::new(EnvStore::new(prefix.clone())),
        SecretsBackend::Gcp {
            project,
            api_base,
            metadata_base,
        } => {
            let fail = |source| ProvisionError::Secret {
                what: format!("configuring Secret Manager for project {project}"),
                source: Box::new(source),
            };
            // A manifest's metadata_base (a test's fake) pins the source; otherwise Application
            // Default Credentials: a key file or gcloud's login on a workstation or CI runner,
            // the metadata server on GCP.
            let token = match metadata_base {
                Some(base) => TokenSource::Metadata(base.clone()),
                None => TokenSource::application_default().map_err(fail)?,
            };
            let mut config = GcpConfig::new(project.clone(), token);
            if let Some(base) = api_base {
                config.api_base = base.clone();
            }
            Arc::new(GcpSecretManager::new(config).map_err(fail)?)
        }
    })
}

/// Reads one credential secret (`version`) from `store`.
///
/// # Errors
/// [`ProvisionError::Secret`] naming the secret.
pub async fn read_credential(
    store: &dyn SecretStore,
    name: &str,
    version: &VersionRef,
) -> Result<DbCredential, ProvisionError> {
    let what = || format!("reading credential {name} ({version}) from {}", store.describe());
    let secret = SecretName::parse(name).map_err(|e| ProvisionError::Secret {
        what: what(),
        source: Box::new(e.into()),
    })?;
    let read = store
        .access(&secret, version)
        .await
        .map_err(|source| ProvisionError::Secret {
            what: what(),
            source: Box::new(source),
        })?;
    DbCredential::from_json(&read.value).map_err(|e| ProvisionError::Secret {
        what: what(),
        source: Box::new(secrets::SecretError::Credential {
            secret: name.to_owned(),
            version: read.version.map_or_else(|| version.to_string(), |v| v.to_string()),
            detail: e.to_string(),
        }),
    })
}

/// The admin credential of `env` (the secret's newest version, or the local superuser).
///
/// # Errors
/// [`ProvisionError::Secret`] or [`ProvisionError::LocalCluster`].
pub async fn admin_credential(env: &Environment) -> Result<DbCredential, ProvisionError> {
    match &env.admin_credential {
        AdminCredential::LocalCluster => {
            let Endpoints::LocalCluster(dir) = &env.endpoints else {
                unreachable!("validation ties the local admin credential to a local cluster")
            };
            let primary = open_local(env, dir)?.primary();
            Ok(DbCredential::new(primary.user, primary.password))
        }
        AdminCredential::Secret(name) => {
            let store = open_store(&env.admin_secrets)?;
            read_credential(store.as_ref(), name, &VersionRef::Latest).await
        }
    }
}

/// `user@host:port/database` for messages.
pub fn describe(spec: &ConnSpec, database: &str, user: &str) -> String {
    let hosts: Vec<String> = spec.hosts.iter().map(ToString::to_string).collect();
    format!("{user}@{}/{database}", hosts.join(","))
}

/// Opens a session on `spec` to `database` as `credential`.
///
/// # Errors
/// [`ProvisionError::Connect`] with each host's failure (never the password).
pub async fn connect(spec: &ConnSpec, database: &str, credential: &DbCredential) -> Result<Client, ProvisionError> {
    let spec = spec
        .clone()
        .with_database(database)
        .with_user(credential.username.clone())
        .with_application_name("pccdb")
        .with_connect_timeout(Some(spec.connect_timeout.unwrap_or(Duration::from_secs(15))))
        .with_command_timeout(None);
    conninfo::connect_with_password(&spec, &credential.password)
        .await
        .map(|(client, _)| client)
        .map_err(|source| ProvisionError::Connect {
            target: describe(&spec, database, &credential.username),
            source: Box::new(source),
        })
}
