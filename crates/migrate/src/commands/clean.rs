//! `clean`: drop every object in the configured schemas (schemas Flyway created are dropped
//! whole), in one transaction. Refused unless `cleanDisabled=false`, Flyway's default.

use serde::Serialize;
use tokio_postgres::Client;

use super::{locked, open, read_history};
use crate::callback::Event;
use crate::config::Config;
use crate::db::apply::{Applier, Callbacks};
use crate::db::catalog::{clean_statements, existing_schemas};
use crate::db::history::quote_ident;
use crate::error::Error;
use crate::model::HistoryType;
use crate::progress::Observer;

/// The outcome of `clean`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanReport {
    /// Schemas emptied.
    pub schemas_cleaned: Vec<String>,
    /// Schemas dropped (they were created by Flyway or pccdb).
    pub schemas_dropped: Vec<String>,
    /// How many DROP statements ran.
    pub statements: usize,
}

/// Runs `clean`.
///
/// # Errors
/// [`Error::CleanDisabled`] unless `cleanDisabled=false`; lock timeouts and database errors
/// (nothing is dropped then).
pub async fn clean(client: &Client, config: &Config, observer: &dyn Observer) -> Result<CleanReport, Error> {
    if config.clean_disabled {
        return Err(Error::CleanDisabled);
    }
    let opened = open(client, config).await?;
    let callbacks = Callbacks::new(&opened.resolved.callbacks, &opened.context)?;
    let session = &opened.session;
    locked(session, config, observer, async || {
        let applier = Applier::new(session, &callbacks);
        applier.callback(Event::BeforeClean).await?;
        let outcome = async {
            let created: Vec<String> = read_history(session)
                .await?
                .unwrap_or_default()
                .iter()
                .filter(|a| a.kind == HistoryType::Schema)
                .flat_map(|a| {
                    a.script
                        .split(',')
                        .map(|s| s.trim().trim_matches('"').replace("\"\"", "\""))
                        .collect::<Vec<_>>()
                })
                .collect();
            let existing = existing_schemas(session.client, &session.schemas).await?;
            let mut report = CleanReport {
                schemas_cleaned: Vec::new(),
                schemas_dropped: Vec::new(),
                statements: 0,
            };
            let mut statements = Vec::new();
            for schema in session.schemas.iter().filter(|s| existing.contains(*s)) {
                if created.contains(schema) {
                    statements.push(format!("DROP SCHEMA {} CASCADE", quote_ident(schema)));
                    report.schemas_dropped.push(schema.clone());
                } else {
                    statements.extend(clean_statements(session.client, schema).await?);
                    report.schemas_cleaned.push(schema.clone());
                }
            }
            report.statements = statements.len();
            session
                .history
                .write(session.client, &statements, &[], "cleaning the schemas")
                .await?;
            Ok(report)
        }
        .await;
        match outcome {
            Ok(report) => {
                applier.callback(Event::AfterClean).await?;
                Ok(report)
            }
            Err(e) => {
                applier.error_callbacks(Event::AfterCleanError).await;
                Err(e)
            }
        }
    })
    .await
}
