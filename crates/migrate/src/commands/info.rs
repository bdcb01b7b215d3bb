//! `info`: every migration with its state, in Flyway's order. Reads only; takes no lock.

use serde::Serialize;
use tokio_postgres::Client;

use super::{open, read_history};
use crate::callback::Event;
use crate::config::Config;
use crate::db::apply::{Applier, Callbacks};
use crate::error::Error;
use crate::plan::{InfoOptions, MigrationInfo, info::compute};

/// The outcome of `info`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InfoReport {
    /// The database.
    pub database: String,
    /// The schema of the history table.
    pub schema: String,
    /// The history table, quoted.
    pub table: String,
    /// The current version (highest applied).
    pub schema_version: Option<String>,
    /// Every migration.
    pub migrations: Vec<MigrationInfo>,
    /// Things worth telling the operator.
    pub warnings: Vec<String>,
}

/// Runs `info`.
///
/// # Errors
/// [`Error`] for unreadable migrations, a corrupt history, or database errors.
pub async fn info(client: &Client, config: &Config) -> Result<InfoReport, Error> {
    let opened = open(client, config).await?;
    let callbacks = Callbacks::new(&opened.resolved.callbacks, &opened.context)?;
    let applier = Applier::new(&opened.session, &callbacks);
    applier.callback(Event::BeforeInfo).await?;
    let result = async {
        let applied = read_history(&opened.session).await?.unwrap_or_default();
        let options = InfoOptions {
            target: config.target.clone(),
            out_of_order: config.out_of_order,
        };
        Ok::<_, Error>(compute(&applied, &opened.resolved.migrations, &options)?)
    }
    .await;
    let infos = match result {
        Ok(infos) => infos,
        Err(e) => {
            applier.error_callbacks(Event::AfterInfoError).await;
            return Err(e);
        }
    };
    applier.callback(Event::AfterInfo).await?;
    let session = &opened.session;
    Ok(InfoReport {
        database: session.database.clone(),
        schema: session.default_schema.clone(),
        table: session.history.qualified(),
        schema_version: infos
            .current()
            .and_then(|m| m.version.as_ref())
            .map(ToString::to_string),
        migrations: infos.infos,
        warnings: opened.warnings,
    })
}
