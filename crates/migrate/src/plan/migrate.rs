//! What `migrate` will do, decided before anything runs (Flyway's `DbMigrate.migrateGroup`):
//! validate (pending allowed), refuse while a failed migration is recorded, then the pending
//! migrations in order: versioned by version, then repeatables by description.

use super::patterns::{IgnorePatterns, PatternState, PatternType};
use super::validate::validate;
use super::{InfoOptions, MigrationInfos, PlanError, info};
use crate::model::{AppliedMigration, MigrationState, ResolvedMigration};
use crate::version::{MigrationVersion, Target};

/// Options of `migrate` that shape the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateOptions {
    /// Flyway's `target`.
    pub target: Target,
    /// Flyway's `outOfOrder`.
    pub out_of_order: bool,
    /// Flyway's `validateOnMigrate`.
    pub validate_on_migrate: bool,
    /// Flyway's `ignoreMigrationPatterns`.
    pub ignore_patterns: IgnorePatterns,
    /// The schema holding the history table (for messages).
    pub schema: String,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        Self {
            target: Target::Latest,
            out_of_order: false,
            validate_on_migrate: true,
            ignore_patterns: IgnorePatterns::default(),
            schema: "public".into(),
        }
    }
}

/// One migration to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Index into the resolved migrations.
    pub resolved: usize,
    /// Whether it is older than the current version (applied with `outOfOrder`).
    pub out_of_order: bool,
}

/// The plan of a `migrate` run.
#[derive(Debug, Clone)]
pub struct MigratePlan {
    /// The info before the run.
    pub infos: MigrationInfos,
    /// The migrations to apply, in order.
    pub steps: Vec<Step>,
    /// The version before the run.
    pub current: Option<MigrationVersion>,
    /// Things worth telling the operator.
    pub warnings: Vec<String>,
}

/// Plans a `migrate` run.
///
/// # Errors
/// [`PlanError::Validation`] (with `validateOnMigrate`), [`PlanError::Failed`] while a failed
/// migration is recorded, plus the errors of [`info::compute`].
pub fn plan(
    applied: &[AppliedMigration],
    resolved: &[ResolvedMigration],
    options: &MigrateOptions,
) -> Result<MigratePlan, PlanError> {
    let info_options = InfoOptions {
        target: options.target.clone(),
        out_of_order: options.out_of_order,
    };
    let infos = info::compute(applied, resolved, &info_options)?;
    if options.validate_on_migrate {
        let patterns = options
            .ignore_patterns
            .clone()
            .with(PatternType::Any, PatternState::Pending);
        let errors = validate(&infos, applied, resolved, &patterns);
        if !errors.is_empty() {
            return Err(PlanError::Validation(errors));
        }
    }
    let schema = &options.schema;
    let mut warnings = Vec::new();
    let failed: Vec<_> = infos.infos.iter().filter(|m| m.state.is_failed()).collect();
    let future_ignored = |m: &&super::MigrationInfo| {
        m.state == MigrationState::FutureFailed
            && options.ignore_patterns.ignores(m.is_versioned(), PatternState::Future)
    };
    if let Some(first) = failed.iter().find(|m| !future_ignored(m)) {
        return Err(PlanError::Failed(format!(
            "schema \"{schema}\" contains a failed migration: {}. It failed or was interrupted outside a transaction, \
             so it may be half applied: remove its half-completed changes (for example an INVALID index left by \
             CREATE INDEX CONCURRENTLY), then run `pccdb repair` and migrate again",
            first.label()
        )));
    }
    for m in failed {
        warnings.push(format!(
            "schema \"{schema}\" contains a failed future migration {}",
            m.label()
        ));
    }
    let current = infos.current().and_then(|m| m.version.clone());
    let future: Vec<_> = infos
        .infos
        .iter()
        .filter(|m| matches!(m.state, MigrationState::FutureSuccess) && m.is_versioned())
        .collect();
    if !future.is_empty() {
        let shown = current.as_ref().map_or_else(String::new, ToString::to_string);
        match &infos.context.last_resolved {
            None => warnings.push(format!(
                "schema \"{schema}\" has version {shown}, but no migration could be resolved in the configured locations"
            )),
            Some(latest) => warnings.push(format!(
                "schema \"{schema}\" has a version ({shown}) that is newer than the latest available migration ({latest})"
            )),
        }
    }
    let steps = infos
        .infos
        .iter()
        .filter(|m| m.state == MigrationState::Pending)
        .filter_map(|m| {
            let resolved = m.resolved?;
            let out_of_order = m
                .version
                .as_ref()
                .is_some_and(|v| current.as_ref().is_some_and(|c| v < c));
            Some(Step { resolved, out_of_order })
        })
        .collect();
    Ok(MigratePlan {
        infos,
        steps,
        current,
        warnings,
    })
}

/// The rank the next history row gets: one more than the highest (Flyway's `MAX + 1`).
pub fn next_rank(applied: &[AppliedMigration]) -> i32 {
    applied
        .iter()
        .map(|a| a.installed_rank)
        .max()
        .map_or(1, |max| max.max(0) + 1)
}
