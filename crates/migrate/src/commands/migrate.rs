//! `migrate`: under the lock, create the history table (and schemas) when missing, re-read the
//! history, plan (validating first), check every script that will run, then apply the plan with
//! Flyway's callbacks around it.

use std::time::Duration;

use serde::Serialize;
use tokio_postgres::Client;

use super::{Opened, baseline_row, locked, open, read_history, schema_row};
use crate::callback::Event;
use crate::config::Config;
use crate::db::apply::{Applier, Callbacks, Unit};
use crate::db::catalog::{create_schema_sql, existing_schemas, non_empty_schemas};
use crate::db::history::NewRow;
use crate::error::Error;
use crate::model::{AppliedMigration, HistoryType, ResolvedMigration};
use crate::name::{MigrationKind, abbreviate_description, abbreviate_script};
use crate::plan::PlanError;
use crate::plan::init::{HistoryPresence, Initialization, decide};
use crate::plan::migrate::{MigrateOptions, MigratePlan, next_rank, plan};
use crate::progress::{Observer, Progress};
use crate::sql::script::Script;

/// One applied migration.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedStep {
    /// Its version (`None` for repeatables).
    pub version: Option<String>,
    /// Its description.
    pub description: String,
    /// Its script.
    pub script: String,
    /// `SQL` or `SQL_BASELINE`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Wall-clock milliseconds.
    pub execution_time: u64,
    /// Whether it ran inside a transaction.
    pub transactional: bool,
    /// Whether it was older than the schema version (outOfOrder).
    pub out_of_order: bool,
}

/// The outcome of `migrate`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrateReport {
    /// The database.
    pub database: String,
    /// The schema of the history table.
    pub schema: String,
    /// The version before the run.
    pub initial_schema_version: Option<String>,
    /// The version after the run.
    pub target_schema_version: Option<String>,
    /// How many migrations were applied.
    pub migrations_executed: usize,
    /// The migrations applied, in order.
    pub migrations: Vec<AppliedStep>,
    /// What was created before migrating (schemas, history table, baseline).
    pub initialized: Vec<String>,
    /// Things worth telling the operator.
    pub warnings: Vec<String>,
}

/// Runs `migrate`.
///
/// # Errors
/// [`Error`]: validation failures ([`Error::is_validation`]), failed migrations, scripts that
/// cannot run (before anything runs), lock timeouts, database errors.
pub async fn migrate(client: &Client, config: &Config, observer: &dyn Observer) -> Result<MigrateReport, Error> {
    let opened = open(client, config).await?;
    let callbacks = Callbacks::new(&opened.resolved.callbacks, &opened.context)?;
    locked(&opened.session, config, observer, async || {
        run(&opened, config, &callbacks, observer).await
    })
    .await
}

/// What initialization would write, as history rows (for planning before writing anything).
fn simulated_baseline(config: &Config, rank: i32) -> AppliedMigration {
    let description = abbreviate_description(&config.baseline_description);
    AppliedMigration {
        installed_rank: rank,
        version: Some(config.baseline_version.clone()),
        description: description.clone(),
        kind: HistoryType::Baseline,
        script: description,
        checksum: None,
        installed_by: String::new(),
        installed_on: None,
        execution_time: 0,
        success: true,
    }
}

/// Writes what `init` asks for: schemas, the history table, marker rows.
async fn initialize(
    opened: &Opened<'_>,
    config: &Config,
    init: Initialization,
    next: i32,
) -> Result<Vec<String>, Error> {
    let session = &opened.session;
    let mut done = Vec::new();
    match init {
        Initialization::Ready => {}
        Initialization::AddBaseline => {
            session
                .history
                .write(
                    session.client,
                    &[],
                    &[baseline_row(config, session, next)],
                    "baselining the schema history",
                )
                .await?;
            done.push(format!(
                "baselined at version {} (baselineOnMigrate)",
                config.baseline_version
            ));
        }
        Initialization::Create | Initialization::CreateWithBaseline => {
            let existing = existing_schemas(session.client, &session.schemas).await?;
            let missing: Vec<String> = session
                .schemas
                .iter()
                .filter(|s| !existing.contains(*s))
                .cloned()
                .collect();
            if let Some(first) = missing.first().filter(|_| !config.create_schemas) {
                return Err(Error::MissingSchema(first.clone()));
            }
            let mut statements: Vec<String> = missing.iter().map(|s| create_schema_sql(s)).collect();
            statements.extend(session.history.create_statements(config.tablespace.as_deref()));
            let mut rows = Vec::new();
            if !missing.is_empty() {
                rows.push(schema_row(&missing, session));
                done.push(format!("created schema(s) {}", missing.join(", ")));
            }
            if init == Initialization::CreateWithBaseline {
                rows.push(baseline_row(config, session, 1));
                done.push(format!(
                    "baselined at version {} (baselineOnMigrate)",
                    config.baseline_version
                ));
            }
            session
                .history
                .write(session.client, &statements, &rows, "creating the schema history table")
                .await?;
            done.insert(
                0,
                format!("created schema history table {}", session.history.qualified()),
            );
        }
    }
    Ok(done)
}

fn new_row(m: &ResolvedMigration, rank: i32, installed_by: &str) -> NewRow {
    NewRow {
        rank,
        version: m.version.as_ref().map(ToString::to_string),
        description: abbreviate_description(&m.description),
        kind: m.kind.history_type().into(),
        script: abbreviate_script(&m.script),
        checksum: Some(m.checksum),
        installed_by: installed_by.to_owned(),
        execution_time: 0,
        success: true,
    }
}

async fn run(
    opened: &Opened<'_>,
    config: &Config,
    callbacks: &Callbacks<'_>,
    observer: &dyn Observer,
) -> Result<MigrateReport, Error> {
    let session = &opened.session;
    let before = read_history(session).await?;
    let presence = match &before {
        None => HistoryPresence::Missing,
        Some(rows) if rows.is_empty() => HistoryPresence::Empty,
        Some(_) => HistoryPresence::HasRows,
    };
    let non_empty = if presence == HistoryPresence::HasRows {
        Vec::new()
    } else {
        non_empty_schemas(session.client, &session.schemas).await?
    };
    let init = decide(presence, &non_empty, config.baseline_on_migrate)?;
    let next = before.as_deref().map_or(1, next_rank);
    let mut applied: Vec<AppliedMigration> = before.unwrap_or_default();
    if matches!(init, Initialization::CreateWithBaseline | Initialization::AddBaseline) {
        applied.push(simulated_baseline(config, next));
    }
    let resolved = &opened.resolved.migrations;
    let options = MigrateOptions {
        target: config.target.clone(),
        out_of_order: config.out_of_order,
        validate_on_migrate: config.validate_on_migrate,
        ignore_patterns: config.ignore_migration_patterns.clone(),
        schema: session.default_schema.clone(),
    };
    // Plan on the history as initialization will leave it, and check every script that will run,
    // before anything is written (so `\c` in V1 leaves the database untouched).
    let mut planned = plan(&applied, resolved, &options)?;
    let parse = |planned: &MigratePlan| {
        planned
            .steps
            .iter()
            .map(|s| opened.context.script(&resolved[s.resolved]))
            .collect::<Result<Vec<_>, _>>()
    };
    let mut scripts = parse(&planned)?;
    let initialized = initialize(opened, config, init, next).await?;
    if !initialized.is_empty() {
        applied = session.history.read(session.client).await?;
        planned = plan(&applied, resolved, &options)?;
        scripts = parse(&planned)?;
    }
    let scripts: Vec<&Script> = scripts.iter().collect();
    let applier = Applier::new(session, callbacks).prepare().await?;
    let mut warnings = opened.warnings.clone();
    warnings.extend(planned.warnings.iter().cloned());
    observer.progress(Progress::Planned {
        total: planned.steps.len(),
    });
    if let Err(e) = applier.callback(Event::BeforeMigrate).await {
        applier.error_callbacks(Event::AfterMigrateError).await;
        return Err(e);
    }
    let mut steps = match apply_all(
        &applier,
        &planned,
        &scripts,
        resolved,
        &applied,
        config,
        session.installed_by.as_str(),
        observer,
    )
    .await
    {
        Ok(steps) => steps,
        Err(e) => {
            applier.error_callbacks(Event::AfterMigrateError).await;
            return Err(e);
        }
    };
    if !steps.is_empty() {
        // The recorded (server-measured) durations, not the client's share of a pipeline.
        let first = next_rank(&applied);
        let sql = format!(
            "SELECT \"installed_rank\", \"execution_time\" FROM {} WHERE \"installed_rank\" >= $1",
            session.history.qualified()
        );
        let rows = session
            .client
            .query_typed(&sql, &[(&first, tokio_postgres::types::Type::INT4)])
            .await
            .map_err(|e| Error::db("reading the recorded execution times", e))?;
        for row in rows {
            let (rank, millis): (i32, i32) = (row.get(0), row.get(1));
            if let Some(step) = usize::try_from(rank - first).ok().and_then(|j| steps.get_mut(j)) {
                step.execution_time = u64::try_from(millis).unwrap_or(0);
            }
        }
    }
    // Flyway's order: afterMigrateApplied (only when something ran), then afterMigrate.
    if !steps.is_empty() {
        applier.callback(Event::AfterMigrateApplied).await?;
    }
    applier.callback(Event::AfterMigrate).await?;
    let after = steps.iter().filter_map(|s| s.version.clone()).next_back();
    let initial = planned.current.as_ref().map(ToString::to_string);
    Ok(MigrateReport {
        database: session.database.clone(),
        schema: session.default_schema.clone(),
        target_schema_version: after.or_else(|| initial.clone()),
        initial_schema_version: initial,
        migrations_executed: steps.len(),
        migrations: steps,
        initialized,
        warnings,
    })
}

/// At most this many migrations are pipelined together.
const CHAIN: usize = 64;

#[allow(clippy::too_many_arguments)]
async fn apply_all(
    applier: &Applier<'_>,
    planned: &MigratePlan,
    scripts: &[&Script],
    resolved: &[ResolvedMigration],
    applied: &[AppliedMigration],
    config: &Config,
    installed_by: &str,
    observer: &dyn Observer,
) -> Result<Vec<AppliedStep>, Error> {
    let first_rank = next_rank(applied);
    let units: Vec<Unit<'_>> = planned
        .steps
        .iter()
        .zip(scripts)
        .zip(first_rank..)
        .map(|((step, script), rank)| Unit {
            script,
            row: new_row(&resolved[step.resolved], rank, installed_by),
        })
        .collect();
    let report = |i: usize, millis: u64, transactional: bool| {
        let m = &resolved[planned.steps[i].resolved];
        AppliedStep {
            version: m.version.as_ref().map(ToString::to_string),
            description: m.description.clone(),
            script: m.script.clone(),
            kind: m.kind.history_type().into(),
            execution_time: millis,
            transactional,
            out_of_order: planned.steps[i].out_of_order,
        }
    };
    let label = |i: usize| {
        let m = &resolved[planned.steps[i].resolved];
        match &m.version {
            Some(v) => format!("version {v} - {}", m.description),
            None => format!("\"{}\" (repeatable)", m.description),
        }
    };
    let transactional = units.iter().all(|u| u.script.transactional);
    if config.group && !units.is_empty() {
        if !transactional && units.iter().any(|u| u.script.transactional) && !config.mixed {
            let first = units
                .iter()
                .find(|u| !u.script.transactional)
                .map_or_else(String::new, |u| u.row.script.clone());
            return Err(PlanError::MixedGroup(first).into());
        }
        if transactional {
            observer.progress(Progress::Started {
                index: 0,
                label: &format!("group of {} migrations", units.len()),
            });
            let took = applier.apply_in_transaction(&units).await?;
            let each = u64::try_from(took.as_millis()).unwrap_or(u64::MAX) / units.len() as u64;
            observer.progress(Progress::Finished {
                index: units.len() - 1,
                label: &label(units.len() - 1),
                duration: took,
            });
            return Ok((0..units.len()).map(|i| report(i, each, true)).collect());
        }
    }
    let mut out = Vec::with_capacity(units.len());
    let first_repeatable = planned
        .steps
        .iter()
        .position(|s| resolved[s.resolved].kind == MigrationKind::Repeatable);
    let in_transaction = |u: &Unit<'_>| u.script.transactional && !(config.group && config.mixed);
    let mut i = 0;
    while i < units.len() {
        if Some(i) == first_repeatable {
            if i > 0 {
                applier.callback(Event::AfterVersioned).await?;
            }
            applier.callback(Event::BeforeRepeatables).await?;
        }
        let text = label(i);
        observer.progress(Progress::Started { index: i, label: &text });
        if !in_transaction(&units[i]) {
            let took = applier.apply_outside_transaction(&units[i]).await?;
            observer.progress(Progress::Finished {
                index: i,
                label: &text,
                duration: took,
            });
            out.push(report(i, u64::try_from(took.as_millis()).unwrap_or(u64::MAX), false));
            i += 1;
            continue;
        }
        // Consecutive transactional migrations go out as one guarded pipeline (see apply_chain),
        // up to the versioned/repeatable boundary where callbacks run.
        let boundary = first_repeatable.filter(|b| *b > i).unwrap_or(units.len());
        let end = (i..boundary.min(i + CHAIN))
            .take_while(|j| in_transaction(&units[*j]))
            .last()
            .map_or(i + 1, |j| j + 1);
        let (took, failed) = match applier.apply_chain(&units[i..end]).await {
            Ok(took) => (took, None),
            Err((k, error)) => (Duration::ZERO, Some((k, error))),
        };
        let done = failed.as_ref().map_or(end - i, |(k, _)| *k);
        for j in i..i + done {
            let share = took / u32::try_from(done).unwrap_or(u32::MAX);
            observer.progress(Progress::Finished {
                index: j,
                label: &label(j),
                duration: share,
            });
            out.push(report(j, u64::try_from(share.as_millis()).unwrap_or(u64::MAX), true));
        }
        if let Some((_, error)) = failed {
            return Err(error);
        }
        i = end;
    }
    if first_repeatable.is_none() && !units.is_empty() {
        applier.callback(Event::AfterVersioned).await?;
    }
    Ok(out)
}
