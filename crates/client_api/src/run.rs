//! The process: configuration, logging, metrics, the database (configured, or the embedded default), the
//! authenticator, then serving until SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use crate::app::AppState;
use crate::auth::{Authenticator, KeySet};
use crate::config::{Config, CredentialSource, DbConfig, Env, LogFormat, RoutingConfig};
use crate::db::{Db, Router, RouterConfig};

/// How often histogram samples are folded into their buckets.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// Folds recorded histogram samples into their buckets every few seconds. The recorder keeps each sample until
/// upkeep or a scrape drains it, so without this a service nobody scrapes (or whose scraper stopped) grew by
/// about 23 bytes per request (10 MiB per 450,000 requests, measured).
fn spawn_metrics_upkeep(handle: metrics_exporter_prometheus::PrometheusHandle) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(METRICS_UPKEEP);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            handle.run_upkeep();
        }
    });
}

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
    spawn_metrics_upkeep(metrics.clone());

    let (db_config, auth, banner, routing) = match (&config.db, &config.auth) {
        (Some(db), Some(auth)) => {
            let keys = KeySet::load(auth.jwks.clone()).await.context("loading the JWKS")?;
            (
                db.clone(),
                Authenticator::new(keys, auth.issuer.clone(), auth.audience.clone()),
                None,
                config.routing.clone(),
            )
        }
        (Some(_), None) => anyhow::bail!(
            "PCC_DB_PRIMARY is set but no token verification is configured: set PCC_AUTH_JWKS_URL or PCC_AUTH_JWKS_FILE and PCC_AUTH_ISSUER"
        ),
        (None, _) => embedded_default(env, &config).await?,
    };
    let db = connect_with(&db_config, &routing)
        .await?
        .with_write_retry(config.write_retry)
        .with_idempotency_ttl(config.idempotency.ttl);
    let mut pools = vec![("PCC_DB_POOL_MAX", db_config.pool_max)];
    if db_config.replica.is_some() {
        pools.push(("PCC_DB_REPLICA_POOL_MAX", db_config.replica_pool_max));
    }
    crate::db::connection_limit::spawn(db.clone(), pools);
    if let Some(every) = config.idempotency.purge_every {
        crate::purge::spawn_idempotency_purge(db.clone(), every);
    }
    if let Some(every) = config.history.purge_every {
        crate::purge::spawn(db.clone(), crate::purge::HISTORY, every);
    }
    // Import jobs whose instance stopped, and old ones (every 30 s: a stale job is failed within its
    // threshold plus this).
    crate::imports::upkeep::spawn(db.clone(), std::time::Duration::from_secs(30));
    let stop = CancellationToken::new();
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

/// The database, verifier, banner and read routing of the embedded default (no `PCC_DB_PRIMARY`): the
/// manifest's `read_fallback` under the variables.
#[cfg(feature = "embedded")]
async fn embedded_default(
    env: &dyn Env,
    config: &Config,
) -> anyhow::Result<(DbConfig, Authenticator, Option<crate::embedded::Banner>, RoutingConfig)> {
    let dev = crate::embedded::prepare(&config.dev)
        .await
        .context("starting the embedded default")?;
    let keys = KeySet::load(crate::auth::JwksSource::File(dev.key.jwks_path().to_owned())).await?;
    let auth = Authenticator::new(
        keys,
        crate::auth::dev::DEV_ISSUER.to_owned(),
        crate::auth::dev::DEV_AUDIENCE.to_owned(),
    );
    let routing = RoutingConfig::from_env_over(env, &crate::embedded::routing(&config.dev)?)?;
    Ok((dev.db, auth, Some(dev.banner), routing))
}

/// Without the `embedded` feature (the production image) there is no local default to fall back on.
#[cfg(not(feature = "embedded"))]
#[allow(clippy::unused_async)] // the same shape as the embedded version
async fn embedded_default(
    _env: &dyn Env,
    _config: &Config,
) -> anyhow::Result<(DbConfig, Authenticator, Option<NoBanner>, RoutingConfig)> {
    anyhow::bail!(
        "no database configured: set PCC_DB_PRIMARY (and PCC_DB_REPLICA, a credential source and PCC_AUTH_*); \
         this build has no embedded default (built without the `embedded` feature)"
    )
}

/// Stands in for the embedded default's banner in builds without it.
#[cfg(not(feature = "embedded"))]
struct NoBanner;

#[cfg(not(feature = "embedded"))]
impl NoBanner {
    fn print(&self, _addr: std::net::SocketAddr) {}
}

/// Starts the database router over the configured primary and replica, with the default read routing, and
/// waits until the primary answers (so a wrong password or host fails at start, not on the first request).
///
/// # Errors
/// Unusable TLS files, a credential store that cannot be read, a primary that does not answer.
pub async fn connect(config: &DbConfig) -> anyhow::Result<Db> {
    connect_with(config, &RoutingConfig::default()).await
}

/// As [`connect`], with `routing` for fallbacks to the primary and read pools.
///
/// # Errors
/// As [`connect`].
pub async fn connect_with(config: &DbConfig, routing: &RoutingConfig) -> anyhow::Result<Db> {
    let size = |spec: &conninfo::ConnSpec, max: usize| {
        let mut spec = spec.clone();
        spec.pool.max_size = u32::try_from(max).unwrap_or(u32::MAX);
        spec.pool.min_size = spec.pool.min_size.min(spec.pool.max_size);
        spec
    };
    let mut router_config = RouterConfig::new(
        size(&config.primary, config.pool_max),
        config.replica.as_ref().map(|r| size(r, config.replica_pool_max)),
    );
    router_config.statement_timeout = Some(config.statement_timeout);
    router_config.checkout_timeout = config.checkout_timeout;
    router_config.token_wait = config.ryw_wait;
    router_config.fallback = routing.fallback.clone();
    router_config.read_pool_sessions = routing.read_pool_sessions;
    router_config.shared_connections = routing.shared_sessions;
    match &config.credentials {
        CredentialSource::Inline => {}
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
            let name = secrets::SecretName::parse(name)
                .context("PCC_DB_CREDENTIALS_FILE: the file name must be a secret name (letters, digits, - and _)")?;
            // The alias `current`, never `latest`: a rotation stores the new password before the
            // database knows it (provision README, step 1) and moves `current` only once it works
            // on the primary and the replica. A mounted plain file has one value, read for any alias.
            let cached = Arc::new(secrets::CachedCredential::new(
                store,
                name,
                secrets::VersionRef::current(),
            ));
            cached.current().await.context("reading PCC_DB_CREDENTIALS_FILE")?;
            // Re-read periodically, so new connections move to a rotated login during the grace period
            // instead of only after the old login is disabled (then a 28P01 triggers a re-read anyway).
            cached.spawn_refresher(config.credential_refresh);
            router_config = router_config.with_credentials(cached);
        }
        CredentialSource::Gcp { project, secret } => {
            let store: Arc<dyn secrets::SecretStore> = Arc::new(
                secrets::GcpSecretManager::new(secrets::GcpConfig::for_project(project.clone())?)
                    .context("configuring GCP Secret Manager")?,
            );
            let name = secrets::SecretName::parse(secret).context("PCC_DB_SECRET_NAME")?;
            let cached = Arc::new(secrets::CachedCredential::new(
                store,
                name,
                secrets::VersionRef::current(),
            ));
            cached
                .current()
                .await
                .context("reading the database credential from Secret Manager")?;
            cached.spawn_refresher(config.credential_refresh);
            router_config = router_config.with_credentials(cached);
        }
        CredentialSource::Iam { user, tokens } => {
            let tokens = match tokens {
                Some(tokens) => tokens.clone(),
                None => secrets::TokenSource::application_default()
                    .context("PCC_DB_AUTH=iam: choosing where Google access tokens come from")?,
            };
            // The first token is fetched here (a new pod's metadata server is waited for), the next
            // ones in the background well before each expires, so new connections never wait for one.
            let iam = secrets::IamCredentials::start(secrets::IamConfig::new(user.clone(), tokens))
                .await
                .context("PCC_DB_AUTH=iam: obtaining the IAM database login")?;
            tracing::info!(db.user = %iam.user(), gcp.credentials = %iam.describe(), "logging in to the database with IAM");
            router_config = router_config.with_credentials(iam);
        }
    }
    let router = Router::start(&router_config).context("starting the database router")?;
    router
        .ready(Duration::from_secs(30))
        .await
        .context("waiting for the primary")?;
    Ok(Db::new(router))
}

fn init_logging(config: &Config) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let terminal = std::io::stderr().is_terminal();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log.format.resolve(terminal) {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        // One line per event; colours only on a terminal that has not asked for none (no-color.org).
        LogFormat::Text | LogFormat::Auto => builder
            .with_ansi(terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()))
            .try_init(),
    };
}
