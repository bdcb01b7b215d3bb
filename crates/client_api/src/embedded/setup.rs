//! The steps of the embedded default, each idempotent: cluster up, provision `dev`, migrate, demo data,
//! development key.

use std::time::Duration;

use anyhow::Context as _;
use conninfo::{ConnSpec, SslMode};
use pg_launcher::{Cluster, ClusterOptions, UpAction};
use provision::Manifest;
use provision::manifest::Endpoints;
use secrecy::ExposeSecret as _;

use super::{Banner, Prepared};
use crate::auth::dev::DevKey;
use crate::config::{CredentialSource, DbConfig, DevConfig, RoutingConfig};

/// The service's name in the manifest.
pub const SERVICE: &str = "pcc-client-api";

/// Brings everything up and returns how to connect.
///
/// # Errors
/// Missing PostgreSQL binaries, a manifest without a `dev` environment, a migration that fails.
pub async fn prepare(dev: &DevConfig) -> anyhow::Result<Prepared> {
    let manifest = Manifest::load(&dev.manifest).with_context(|| format!("reading {}", dev.manifest.display()))?;
    let env = manifest.environment(&dev.environment)?;
    let Endpoints::LocalCluster(dir) = env.endpoints.clone() else {
        anyhow::bail!(
            "environment `{}` of {} has no local_cluster; the embedded default needs one (or set PCC_DB_PRIMARY)",
            dev.environment,
            dev.manifest.display()
        );
    };
    eprintln!(
        "pcc-client-api: no PCC_DB_PRIMARY set; starting the embedded default in {}",
        dir.display()
    );
    let shown = dir.display().to_string();
    let (cluster, action) = tokio::task::spawn_blocking(move || Cluster::up(&dir, &ClusterOptions::default()))
        .await?
        .with_context(|| format!("starting the local cluster in {shown}"))?;
    provision::apply::provision(&manifest, &dev.environment, Duration::from_secs(30))
        .await
        .with_context(|| {
            format!(
                "provisioning environment `{}` of {}",
                dev.environment,
                dev.manifest.display()
            )
        })?;
    migrate(&manifest, dev).await?;

    let runtime = provision::resolve::runtime_connections(&manifest, &dev.environment, SERVICE)
        .await
        .context("resolving the service's connection strings")?;
    let database = runtime.primary.database.clone().unwrap_or_default();
    let clients = {
        let admin = superuser(&cluster, &database).await?;
        let existing: i64 = admin
            .query_one("SELECT count(*) FROM client_api.client", &[])
            .await?
            .get(0);
        if existing == 0 && dev.demo_clients > 0 {
            eprintln!(
                "pcc-client-api: loading a demo portfolio of {} clients",
                dev.demo_clients
            );
            let report = super::demo::load(&admin, dev.demo_clients, 42)
                .await
                .context("loading the demo portfolio")?;
            report.clients
        } else {
            existing
        }
    };
    let key = DevKey::load_or_create(&dev.api_dir)?;
    let token = key.token(
        "dev-user",
        &[crate::auth::SCOPE_READ, crate::auth::SCOPE_WRITE],
        30 * 24 * 3600,
    )?;
    let db = DbConfig {
        primary: runtime.primary,
        replica: runtime.replica,
        credentials: CredentialSource::Inline,
        pool_max: 15,
        replica_pool_max: 10,
        checkout_timeout: Duration::from_secs(1),
        statement_timeout: Duration::from_secs(5),
        ryw_wait: Duration::from_millis(200),
        credential_refresh: Duration::from_secs(30),
    };
    drop(cluster);
    Ok(Prepared {
        db,
        key,
        banner: Banner {
            token,
            clients,
            created: action == UpAction::Created,
            cluster_dir: shown,
        },
    })
}

/// The service's `read_fallback` from the manifest, as routing settings (the variables of
/// `config::routing` are laid over them).
///
/// # Errors
/// A manifest that cannot be read, or one without this service.
pub fn routing(dev: &DevConfig) -> anyhow::Result<RoutingConfig> {
    let manifest = Manifest::load(&dev.manifest).with_context(|| format!("reading {}", dev.manifest.display()))?;
    let service = manifest
        .services
        .values()
        .find(|s| s.name.as_str() == SERVICE)
        .with_context(|| format!("{} has no service {SERVICE}", dev.manifest.display()))?;
    let f = service.read_fallback;
    let count = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
    Ok(RoutingConfig {
        fallback: db_router::FallbackConfig {
            min_in_flight: count(f.min_in_flight),
            max_in_flight: count(f.max_in_flight),
            queue: count(f.queue),
            queue_wait: Duration::from_millis(f.queue_wait.0),
            latency_tolerance: f.latency_tolerance,
            write_reserve: f.write_reserve,
            ..db_router::FallbackConfig::default()
        },
        ..RoutingConfig::default()
    })
}

async fn migrate(manifest: &Manifest, dev: &DevConfig) -> anyhow::Result<()> {
    let target = provision::resolve::migration_target(manifest, &dev.environment, SERVICE)
        .await
        .context("resolving the migration target")?;
    let (client, _) = conninfo::connect(&target.spec)
        .await
        .context("connecting as the migration user")?;
    let mut config = migrate::Config::defaults();
    config.locations = vec![migrate::config::Location::parse(
        &dev.migrations.display().to_string(),
        "PCC_DEV_MIGRATIONS",
    )?];
    config.schemas = vec![target.schema.clone()];
    config.default_schema = Some(target.schema.clone());
    config.table = target.history_table.clone();
    config.init_sql = Some(target.init_sql.clone());
    let report = migrate::migrate(&client, &config, &())
        .await
        .context("applying migrations/client_api")?;
    for statement in &target.after_history_created {
        client
            .batch_execute(statement)
            .await
            .context("securing the migration history")?;
    }
    if report.migrations_executed > 0 {
        eprintln!("pcc-client-api: applied {} migrations", report.migrations_executed);
    }
    Ok(())
}

/// A superuser session on the local primary (for the demo load, which bypasses triggers with
/// `session_replication_role = replica` after computing every derived column itself).
pub async fn superuser(cluster: &Cluster, database: &str) -> anyhow::Result<tokio_postgres::Client> {
    let endpoint = cluster.primary();
    let spec = ConnSpec::for_host(&endpoint.host, endpoint.port)
        .with_user(endpoint.user.clone())
        .with_password(secrecy::SecretString::from(
            endpoint.password.expose_secret().to_owned(),
        ))
        .with_database(database.to_owned())
        .with_ssl_mode(SslMode::VerifyCa)
        .with_root_cert(cluster.ca_cert_path());
    let (client, _) = conninfo::connect(&spec)
        .await
        .context("connecting to the local primary as superuser")?;
    Ok(client)
}
