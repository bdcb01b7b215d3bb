//! The process: configuration, logging, metrics, the database (configured, or the embedded default), the
//! authenticator, then serving until SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::auth::{Authenticator, JwksSource, KeySet};
use crate::config::{Config, CredentialSource, DbConfig, Env, LogFormat};
use crate::db::{Credentials, Db, Manager, Role, build_pool, spawn_monitor};

/// Runs the service with configuration from `env`.
///
/// # Errors
/// Invalid configuration, a database or JWKS that cannot be reached at start, a port in use.
pub async fn run(env: &dyn Env) -> anyhow::Result<()> {
    let config = Config::from_env(env)?;
    init_logging(&config);
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&[
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ])
        .context("configuring histogram buckets")?
        .install_recorder()
        .context("installing the metrics recorder")?;

    let (db_config, auth, banner) = match (&config.db, &config.auth) {
        (Some(db), Some(auth)) => {
            let keys = KeySet::load(auth.jwks.clone()).await.context("loading the JWKS")?;
            (
                db.clone(),
                Authenticator::new(keys, auth.issuer.clone(), auth.audience.clone()),
                None,
            )
        }
        (Some(_), None) => anyhow::bail!(
            "PCC_DB_PRIMARY is set but no token verification is configured: set PCC_AUTH_JWKS_URL or PCC_AUTH_JWKS_FILE and PCC_AUTH_ISSUER"
        ),
        (None, _) => {
            let dev = crate::embedded::prepare(&config.dev)
                .await
                .context("starting the embedded default")?;
            let keys = KeySet::load(JwksSource::File(dev.key.jwks_path().to_owned())).await?;
            let auth = Authenticator::new(
                keys,
                crate::auth::dev::DEV_ISSUER.to_owned(),
                crate::auth::dev::DEV_AUDIENCE.to_owned(),
            );
            (dev.db, auth, Some(dev.banner))
        }
    };
    let db = connect(&db_config).await?;
    let stop = CancellationToken::new();
    spawn_monitor(
        db.primary_pool().clone(),
        db.replica_pool().cloned(),
        db.replica_state().clone(),
        Duration::from_secs(1),
        stop.clone(),
    );
    let state = AppState::new(db, Arc::new(auth), Some(metrics));
    let listener = tokio::net::TcpListener::bind(config.http.addr)
        .await
        .with_context(|| format!("binding {} (PCC_HTTP_ADDR)", config.http.addr))?;
    let local = listener.local_addr()?;
    tracing::info!(http.addr = %local, "serving");
    if let Some(banner) = banner {
        banner.print(local);
    }
    crate::server::cancel_on_signal(stop.clone());
    crate::server::serve(listener, state, config.http.clone(), stop).await?;
    Ok(())
}

/// Builds the pools (sessions open lazily; the first is opened now so a wrong password fails at start).
///
/// # Errors
/// Unusable TLS files, a credential store that cannot be read, a primary that refuses.
pub async fn connect(config: &DbConfig) -> anyhow::Result<Db> {
    let credentials = Arc::new(match &config.credentials {
        CredentialSource::Inline => Credentials::Inline,
        CredentialSource::File(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .context("PCC_DB_CREDENTIALS_FILE has no file name")?;
            let store: Arc<dyn secrets::SecretStore> = Arc::new(secrets::FileStore::new(dir));
            let name =
                secrets::SecretName::parse(name).context("PCC_DB_CREDENTIALS_FILE: file name is not a secret name")?;
            Credentials::Store(secrets::CachedCredential::new(store, name, secrets::VersionRef::Latest))
        }
        CredentialSource::Gcp { project, secret } => {
            let store: Arc<dyn secrets::SecretStore> = Arc::new(
                secrets::GcpSecretManager::new(secrets::GcpConfig::for_project(project.clone())?)
                    .context("configuring GCP Secret Manager")?,
            );
            let name = secrets::SecretName::parse(secret).context("PCC_DB_SECRET_NAME")?;
            Credentials::Store(secrets::CachedCredential::new(
                store,
                name,
                secrets::VersionRef::current(),
            ))
        }
    });
    let primary = build_pool(
        Manager::new(
            &config.primary,
            credentials.clone(),
            Role::Primary,
            config.statement_timeout,
        )?,
        config.pool_max,
        config.checkout_timeout,
    )?;
    let replica = match &config.replica {
        Some(spec) => Some(build_pool(
            Manager::new(spec, credentials, Role::Replica, config.statement_timeout)?,
            config.replica_pool_max,
            config.checkout_timeout,
        )?),
        None => None,
    };
    let first = primary
        .get()
        .await
        .map_err(|e| anyhow::anyhow!("connecting to the primary: {e:?}"))?;
    drop(first);
    Ok(Db::new(primary, replica, config.ryw_wait))
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
