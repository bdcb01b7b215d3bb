//! The embedded default's preparation: the platform library brings the manifest's `dev` environment up
//! (local cluster, provisioning, this service's migrations, its runtime connections), then a demo portfolio
//! on the first run and the development signing key.

use std::time::Duration;

use anyhow::Context as _;
use pg_launcher::{Cluster, UpAction};
use platform::{Migrations, UpOptions};
use provision::Manifest;
use provision::manifest::Endpoints;

use super::{Banner, Prepared};
use crate::auth::dev::DevKey;
use crate::config::{CredentialSource, DbConfig, DevConfig, RoutingConfig};

/// The service's name in the manifest.
pub const SERVICE: &str = "pcc-client-api";

mod built_in {
    include!(concat!(env!("OUT_DIR"), "/embedded_migrations.rs"));
}

/// The migrations built into this binary, by schema.
pub static BUILT_IN_MIGRATIONS: &[(&str, &[migrate::config::EmbeddedFile])] = &[("client_api", built_in::CLIENT_API)];

/// The manifest: the file named by `PCC_DEV_MANIFEST`, else the one built in.
///
/// # Errors
/// An unreadable or invalid manifest file.
pub fn manifest(dev: &DevConfig) -> anyhow::Result<Manifest> {
    match &dev.manifest {
        Some(path) => Manifest::load(path).with_context(|| format!("reading {} (PCC_DEV_MANIFEST)", path.display())),
        None => Ok(Manifest::builtin()),
    }
}

/// Where the migrations come from: the directory named by `PCC_DEV_MIGRATIONS`, else the files built in.
fn migrations(dev: &DevConfig, schema: &str) -> Migrations {
    match &dev.migrations {
        Some(dir) => Migrations::Directories(vec![(schema.to_owned(), dir.clone())]),
        None => Migrations::Embedded(BUILT_IN_MIGRATIONS),
    }
}

/// Brings everything up and returns how to connect.
///
/// # Errors
/// Missing PostgreSQL binaries, a manifest without a local `dev` environment, a migration that fails.
pub async fn prepare(dev: &DevConfig) -> anyhow::Result<Prepared> {
    let manifest = manifest(dev)?;
    let env = manifest.environment(&dev.environment)?;
    let Endpoints::LocalCluster(dir) = env.endpoints.clone() else {
        anyhow::bail!(
            "environment `{}` of {} has no local_cluster; the embedded default needs one (or set PCC_DB_PRIMARY)",
            dev.environment,
            manifest.path.display()
        );
    };
    let schema = manifest.deployment(&dev.environment, SERVICE)?.names.schema.to_string();
    tracing::info!(cluster.dir = %dir.display(), "no PCC_DB_PRIMARY set; starting the embedded default");
    let options = UpOptions {
        services: Some(vec![SERVICE.to_owned()]),
        migrations: migrations(dev, &schema),
        cluster: pg_launcher::ClusterOptions::default(),
        lock_wait: Duration::from_secs(30),
    };
    let mut report = platform::up(&manifest, &dev.environment, &options)
        .await
        .with_context(|| format!("bringing environment `{}` up", dev.environment))?;
    let created = report
        .local_cluster
        .as_ref()
        .is_some_and(|c| c.action == UpAction::Created);
    let service = report.services.remove(0);
    if service.migrate.migrations_executed > 0 {
        tracing::info!(migrations = service.migrate.migrations_executed, "applied migrations");
    }
    let database = service.names.database.to_string();
    let clients = {
        let shown = dir.display().to_string();
        let cluster = tokio::task::spawn_blocking(move || Cluster::open(&dir))
            .await?
            .with_context(|| format!("opening the local cluster in {shown}"))?;
        let admin = platform::superuser(&cluster, &database).await?;
        let existing: i64 = admin
            .query_one(&format!("SELECT count(*) FROM {schema}.client"), &[])
            .await?
            .get(0);
        if existing == 0 && dev.demo_clients > 0 {
            tracing::info!(clients = dev.demo_clients, "loading a demo portfolio");
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
    let runtime = service.runtime;
    // Pools as the manifest sizes them for this environment (what `pccdb capacity` budgets).
    let pool_max = runtime.primary.pool.max_size as usize;
    let replica_pool_max = runtime.replica.as_ref().map_or(pool_max, |r| r.pool.max_size as usize);
    let db = DbConfig {
        primary: runtime.primary,
        replica: runtime.replica,
        credentials: CredentialSource::Inline,
        pool_max,
        replica_pool_max,
        checkout_timeout: Duration::from_secs(1),
        statement_timeout: Duration::from_secs(5),
        ryw_wait: Duration::from_millis(200),
        credential_refresh: Duration::from_secs(30),
    };
    Ok(Prepared {
        db,
        key,
        banner: Banner {
            token,
            clients,
            created,
            cluster_dir: shown_dir(&manifest, &dev.environment),
        },
    })
}

/// The service's `read_fallback` from the manifest, as routing settings (the variables of
/// `config::routing` are laid over them).
///
/// # Errors
/// A manifest that cannot be read, or one without this service.
pub fn routing(dev: &DevConfig) -> anyhow::Result<RoutingConfig> {
    let manifest = manifest(dev)?;
    let service = manifest
        .services
        .values()
        .find(|s| s.name.as_str() == SERVICE)
        .with_context(|| format!("{} has no service {SERVICE}", manifest.path.display()))?;
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

fn shown_dir(manifest: &Manifest, env: &str) -> String {
    match manifest.environment(env).map(|e| &e.endpoints) {
        Ok(Endpoints::LocalCluster(dir)) => dir.display().to_string(),
        _ => String::new(),
    }
}
