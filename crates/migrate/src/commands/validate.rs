//! `validate`: the history against the files (checksums, descriptions, types, missing and
//! pending migrations, failed runs), plus every script that has yet to run must be runnable.
//! Reads only; takes no lock.

use serde::Serialize;
use tokio_postgres::Client;

use super::{open, read_history};
use crate::callback::Event;
use crate::config::Config;
use crate::db::apply::{Applier, Callbacks};
use crate::error::Error;
use crate::model::MigrationState;
use crate::plan::validate::{ErrorCode, ValidationError, validate as check};
use crate::plan::{InfoOptions, info::compute};

/// The outcome of `validate`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidateReport {
    /// The database.
    pub database: String,
    /// The schema of the history table.
    pub schema: String,
    /// Whether everything is valid.
    pub valid: bool,
    /// How many migrations were checked.
    pub validated: usize,
    /// The findings.
    pub errors: Vec<ValidationError>,
    /// Things worth telling the operator.
    pub warnings: Vec<String>,
}

/// Runs `validate`. Findings are in the report (not an `Err`), so callers can list them all.
///
/// # Errors
/// [`Error`] when validation cannot be done at all (unreadable files, database errors).
pub async fn validate(client: &Client, config: &Config) -> Result<ValidateReport, Error> {
    let opened = open(client, config).await?;
    let callbacks = Callbacks::new(&opened.resolved.callbacks, &opened.context)?;
    let applier = Applier::new(&opened.session, &callbacks);
    applier.callback(Event::BeforeValidate).await?;
    let applied = read_history(&opened.session).await?.unwrap_or_default();
    let resolved = &opened.resolved.migrations;
    let options = InfoOptions {
        target: config.target.clone(),
        out_of_order: config.out_of_order,
    };
    let infos = compute(&applied, resolved, &options)?;
    let mut errors = check(&infos, &applied, resolved, &config.ignore_migration_patterns);
    for m in infos.infos.iter().filter(|m| m.state == MigrationState::Pending) {
        if let Some(Err(e)) = m.resolved.map(|i| opened.context.script(&resolved[i])) {
            errors.push(ValidationError {
                code: ErrorCode::InvalidScript,
                version: m.version.as_ref().map(ToString::to_string),
                description: m.description.clone(),
                script: m.script.clone(),
                message: e.to_string(),
            });
        }
    }
    let event = if errors.is_empty() {
        Event::AfterValidate
    } else {
        Event::AfterValidateError
    };
    applier.callback(event).await?;
    Ok(ValidateReport {
        database: opened.session.database.clone(),
        schema: opened.session.default_schema.clone(),
        valid: errors.is_empty(),
        validated: infos.infos.iter().filter(|m| m.resolved.is_some()).count(),
        errors,
        warnings: opened.warnings,
    })
}
