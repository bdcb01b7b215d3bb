//! `repair`: under the lock, in one transaction, remove failed rows, mark migrations whose
//! file is gone as deleted, and realign checksums/descriptions/types with the files.

use serde::Serialize;
use tokio_postgres::Client;

use super::{locked, open, read_history};
use crate::callback::Event;
use crate::config::Config;
use crate::db::apply::{Applier, Callbacks};
use crate::db::history::{NewRow, quote_literal};
use crate::error::Error;
use crate::model::AppliedMigration;
use crate::name::abbreviate_description;
use crate::plan::migrate::next_rank;
use crate::plan::{InfoOptions, repair};
use crate::progress::Observer;

/// The outcome of `repair`.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepairReport {
    /// Failed rows removed (`version 3 (V3__x.sql)`).
    pub removed_failed: Vec<String>,
    /// Migrations marked deleted.
    pub marked_deleted: Vec<String>,
    /// Rows realigned with their files.
    pub realigned: Vec<String>,
    /// Things worth telling the operator.
    pub warnings: Vec<String>,
}

fn label(a: &AppliedMigration) -> String {
    match &a.version {
        Some(v) => format!("version {v} ({})", a.script),
        None => format!("repeatable \"{}\" ({})", a.description, a.script),
    }
}

/// Runs `repair`.
///
/// # Errors
/// [`Error`] for lock timeouts and database errors; nothing is changed then.
pub async fn repair(client: &Client, config: &Config, observer: &dyn Observer) -> Result<RepairReport, Error> {
    let opened = open(client, config).await?;
    let callbacks = Callbacks::new(&opened.resolved.callbacks, &opened.context)?;
    let session = &opened.session;
    locked(session, config, observer, async || {
        let applier = Applier::new(session, &callbacks);
        applier.callback(Event::BeforeRepair).await?;
        let Some(applied) = read_history(session).await? else {
            applier.callback(Event::AfterRepair).await?;
            return Ok(RepairReport {
                warnings: opened.warnings.clone(),
                ..RepairReport::default()
            });
        };
        let options = InfoOptions {
            target: config.target.clone(),
            out_of_order: config.out_of_order,
        };
        let plan = match repair::plan(
            &applied,
            &opened.resolved.migrations,
            &options,
            &config.ignore_migration_patterns,
        ) {
            Ok(plan) => plan,
            Err(e) => {
                applier.error_callbacks(Event::AfterRepairError).await;
                return Err(e.into());
            }
        };
        let t = session.history.qualified();
        let mut statements = Vec::new();
        let failed_ranks: Vec<i32> = plan.remove_failed.iter().map(|i| applied[*i].installed_rank).collect();
        if !failed_ranks.is_empty() {
            let list = failed_ranks
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            statements.push(format!(
                "DELETE FROM {t} WHERE \"success\" = false AND \"installed_rank\" IN ({list})"
            ));
        }
        for r in &plan.realign {
            let (a, m) = (&applied[r.applied], &opened.resolved.migrations[r.resolved]);
            statements.push(format!(
                "UPDATE {t} SET \"description\" = {}, \"type\" = {}, \"checksum\" = {} WHERE \"installed_rank\" = {}",
                quote_literal(&abbreviate_description(&m.description)),
                quote_literal(m.kind.history_type()),
                m.checksum,
                a.installed_rank
            ));
        }
        let kept: Vec<AppliedMigration> = applied.iter().filter(|a| a.success).cloned().collect();
        let rows: Vec<NewRow> = plan
            .mark_deleted
            .iter()
            .zip(next_rank(&kept)..)
            .map(|(i, rank)| {
                let a = &applied[*i];
                NewRow {
                    rank,
                    version: a.version.as_ref().map(ToString::to_string),
                    description: a.description.clone(),
                    kind: "DELETE".into(),
                    script: a.script.clone(),
                    checksum: a.checksum,
                    installed_by: session.installed_by.clone(),
                    execution_time: 0,
                    success: true,
                }
            })
            .collect();
        if let Err(e) = session
            .history
            .write(session.client, &statements, &rows, "repairing the schema history")
            .await
        {
            applier.error_callbacks(Event::AfterRepairError).await;
            return Err(e);
        }
        applier.callback(Event::AfterRepair).await?;
        Ok(RepairReport {
            removed_failed: plan.remove_failed.iter().map(|i| label(&applied[*i])).collect(),
            marked_deleted: plan.mark_deleted.iter().map(|i| label(&applied[*i])).collect(),
            realigned: plan.realign.iter().map(|r| label(&applied[r.applied])).collect(),
            warnings: opened.warnings.clone(),
        })
    })
    .await
}
