//! The commands (`migrate`, `info`, `validate`, `repair`, `baseline`, `clean`), each taking a
//! connected client and a [`Config`] and returning a serializable report. Connecting is the
//! caller's job (pccdb uses `conninfo`), so the engine works with any connection.

pub mod baseline;
pub mod clean;
pub mod info;
pub mod migrate;
pub mod repair;
pub mod validate;

use tokio_postgres::Client;

use crate::config::Config;
use crate::db::history::{NewRow, quote_ident};
use crate::db::lock::MigrationLock;
use crate::db::session::Session;
use crate::error::Error;
use crate::model::AppliedMigration;
use crate::name::abbreviate_description;
use crate::progress::{Observer, Progress};
use crate::resolve::{Resolved, ScriptContext, prepare, resolve};

/// A session with its migrations found and their checksums computed.
pub(crate) struct Opened<'a> {
    pub session: Session<'a>,
    pub resolved: Resolved,
    pub context: ScriptContext,
    pub warnings: Vec<String>,
}

/// Runs initSql, finds and prepares the migrations.
pub(crate) async fn open<'a>(client: &'a Client, config: &Config) -> Result<Opened<'a>, Error> {
    let session = Session::open(client, config).await?;
    let mut resolved = resolve(
        &config.locations,
        &config.naming,
        config.validate_migration_naming,
        config.fail_on_missing_locations,
    )?;
    let context = ScriptContext {
        placeholders: session.placeholders(config),
        options: session.script_options(config),
    };
    prepare(&mut resolved, &context);
    // Configuration warnings belong to whoever resolved the configuration; these are the engine's.
    let warnings = resolved.warnings.clone();
    Ok(Opened {
        session,
        resolved,
        context,
        warnings,
    })
}

/// Reads the history, or nothing when there is no table yet.
pub(crate) async fn read_history(session: &Session<'_>) -> Result<Option<Vec<AppliedMigration>>, Error> {
    if session.history.exists(session.client).await? {
        Ok(Some(session.history.read(session.client).await?))
    } else {
        Ok(None)
    }
}

/// Runs `work` while holding the migration lock, releasing it afterwards in every case.
pub(crate) async fn locked<T>(
    session: &Session<'_>,
    config: &Config,
    observer: &dyn Observer,
    work: impl AsyncFnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    let on_wait = |holder: &str| observer.progress(Progress::WaitingForLock { holder });
    let lock = MigrationLock::acquire(session.client, &session.history, config.lock_retry_count, &on_wait).await?;
    let result = work().await;
    let released = lock.release(session.client).await;
    let value = result?;
    released?;
    Ok(value)
}

/// The BASELINE marker row.
pub(crate) fn baseline_row(config: &Config, session: &Session<'_>, rank: i32) -> NewRow {
    let description = abbreviate_description(&config.baseline_description);
    NewRow {
        rank,
        version: Some(config.baseline_version.to_string()),
        description: description.clone(),
        kind: "BASELINE".into(),
        script: description,
        checksum: None,
        installed_by: session.installed_by.clone(),
        execution_time: 0,
        success: true,
    }
}

/// The SCHEMA marker row listing the schemas created (`"a","b"`), at rank 0 as Flyway writes it.
pub(crate) fn schema_row(created: &[String], session: &Session<'_>) -> NewRow {
    NewRow {
        rank: 0,
        version: None,
        description: "<< Flyway Schema Creation >>".into(),
        kind: "SCHEMA".into(),
        script: created.iter().map(|s| quote_ident(s)).collect::<Vec<_>>().join(","),
        checksum: None,
        installed_by: session.installed_by.clone(),
        execution_time: 0,
        success: true,
    }
}
