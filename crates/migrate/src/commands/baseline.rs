//! `baseline`: adopt an existing database by recording a BASELINE row, so migrations up to
//! and including `baselineVersion` are never applied (Flyway's `DbBaseline`).

use serde::Serialize;
use tokio_postgres::Client;

use super::{baseline_row, locked, open, read_history, schema_row};
use crate::callback::Event;
use crate::config::Config;
use crate::db::apply::{Applier, Callbacks};
use crate::db::catalog::{create_schema_sql, existing_schemas};
use crate::error::Error;
use crate::model::HistoryType;
use crate::plan::migrate::next_rank;
use crate::progress::Observer;

/// The outcome of `baseline`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BaselineReport {
    /// The baseline version.
    pub version: String,
    /// The baseline description.
    pub description: String,
    /// Whether the history table was created.
    pub created_table: bool,
    /// Whether the same baseline was already recorded (nothing changed).
    pub already_baselined: bool,
    /// Things worth telling the operator.
    pub warnings: Vec<String>,
}

/// Runs `baseline`.
///
/// # Errors
/// [`Error::Baseline`] when the history already holds migrations or another baseline;
/// lock timeouts and database errors.
pub async fn baseline(client: &Client, config: &Config, observer: &dyn Observer) -> Result<BaselineReport, Error> {
    let opened = open(client, config).await?;
    let callbacks = Callbacks::new(&opened.resolved.callbacks, &opened.context)?;
    let session = &opened.session;
    let table = session.history.qualified();
    let (version, description) = (config.baseline_version.to_string(), config.baseline_description.clone());
    locked(session, config, observer, async || {
        let applier = Applier::new(session, &callbacks);
        applier.callback(Event::BeforeBaseline).await?;
        let mut report = BaselineReport {
            version: version.clone(),
            description: description.clone(),
            created_table: false,
            already_baselined: false,
            warnings: opened.warnings.clone(),
        };
        let outcome = async {
            match read_history(session).await? {
                None => {
                    let existing = existing_schemas(session.client, &session.schemas).await?;
                    let missing: Vec<String> = session.schemas.iter().filter(|s| !existing.contains(*s)).cloned().collect();
                    if let Some(first) = missing.first().filter(|_| !config.create_schemas) {
                        return Err(Error::MissingSchema(first.clone()));
                    }
                    let mut statements: Vec<String> = missing.iter().map(|s| create_schema_sql(s)).collect();
                    statements.extend(session.history.create_statements(config.tablespace.as_deref()));
                    let mut rows = vec![baseline_row(config, session, 1)];
                    if !missing.is_empty() {
                        rows.insert(0, schema_row(&missing, session));
                    }
                    session.history.write(session.client, &statements, &rows, "creating the schema history table").await?;
                    report.created_table = true;
                }
                Some(applied) => {
                    if let Some(marker) = applied.iter().find(|a| a.kind == HistoryType::Baseline) {
                        let same = marker.version.as_ref() == Some(&config.baseline_version) && marker.description == description;
                        if !same {
                            let v = marker.version.as_ref().map_or_else(String::new, ToString::to_string);
                            return Err(Error::Baseline(format!(
                                "unable to baseline schema history table {table} with ({version}, {description}) as it has \
                                 already been baselined with ({v}, {})", marker.description
                            )));
                        }
                        report.already_baselined = true;
                    } else if applied.iter().any(|a| !a.kind.is_synthetic()) {
                        return Err(Error::Baseline(format!(
                            "unable to baseline schema history table {table} as it already contains migrations; baseline \
                             adopts a database that has none (see `pccdb info`)"
                        )));
                    } else if applied.iter().any(|a| a.kind == HistoryType::Schema) && config.baseline_version.as_str() == "0" {
                        return Err(Error::Baseline(format!(
                            "unable to baseline schema history table {table} with version 0 as this version was used for schema creation"
                        )));
                    } else {
                        let row = baseline_row(config, session, next_rank(&applied));
                        session.history.write(session.client, &[], &[row], "writing the baseline row").await?;
                    }
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = outcome {
            applier.error_callbacks(Event::AfterBaselineError).await;
            return Err(e);
        }
        applier.callback(Event::AfterBaseline).await?;
        Ok(report)
    })
    .await
}
