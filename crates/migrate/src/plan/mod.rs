//! Planning, as pure functions of (history rows, resolved files, options): the info of every
//! migration (`info`), validation (`validate`), what `migrate` will do (`migrate`), how a missing
//! history table is initialized (`init`), and what `repair` changes (`repair`).

pub mod info;
pub mod init;
pub mod migrate;
pub mod patterns;
pub mod repair;
pub mod validate;

#[cfg(test)]
mod tests;

use std::collections::HashSet;

use serde::Serialize;

use crate::model::{AppliedMigration, HistoryType, MigrationState, ResolvedMigration};
use crate::version::{MigrationVersion, Target};

pub use info::InfoContext;

/// Options that change states.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InfoOptions {
    /// Flyway's `target`.
    pub target: Target,
    /// Flyway's `outOfOrder`.
    pub out_of_order: bool,
}

/// The effective target: `Latest` allows every version, `UpTo(None)` none at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Limit {
    /// No limit.
    #[default]
    Latest,
    /// Versions up to and including this one (`None`: nothing, as `current` on an empty history).
    UpTo(Option<MigrationVersion>),
}

impl Limit {
    /// Whether `version` is within the target.
    pub fn allows(&self, version: &MigrationVersion) -> bool {
        match self {
            Self::Latest => true,
            Self::UpTo(limit) => limit.as_ref().is_some_and(|l| version <= l),
        }
    }
}

/// One line of `info`: a history row, a file, or both.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrationInfo {
    /// `Versioned`, `Repeatable`, `Baseline`, `Undo`, or empty for markers.
    pub category: &'static str,
    /// The version (`None` for repeatables and markers without one).
    pub version: Option<MigrationVersion>,
    /// The description (the history's, when there is a row).
    pub description: String,
    /// The history type (`SQL`, `BASELINE`, ...).
    #[serde(rename = "type")]
    pub kind: HistoryType,
    /// The script (the history's, when there is a row).
    pub script: String,
    /// The checksum (the history's, when there is a row).
    pub checksum: Option<i32>,
    /// `installed_rank` of the row.
    pub installed_rank: Option<i32>,
    /// `installed_on` of the row, as `YYYY-MM-DD HH:MM:SS`.
    pub installed_on: Option<String>,
    /// `installed_by` of the row.
    pub installed_by: Option<String>,
    /// `execution_time` of the row, in milliseconds.
    pub execution_time: Option<i32>,
    /// The state.
    pub state: MigrationState,
    /// Whether an undo migration exists for this version (Flyway's "Undoable" column).
    pub undoable: Option<bool>,
    /// Index into the resolved migrations.
    #[serde(skip)]
    pub resolved: Option<usize>,
    /// Index into the history rows.
    #[serde(skip)]
    pub applied: Option<usize>,
}

fn category(kind: &HistoryType, version: Option<&MigrationVersion>) -> &'static str {
    match (kind, version) {
        (k, _) if k.is_synthetic() => "",
        (_, None) => "Repeatable",
        (HistoryType::UndoSql, _) => "Undo",
        (HistoryType::SqlBaseline, _) => "Baseline",
        _ => "Versioned",
    }
}

fn undoable(
    state: MigrationState,
    kind: &HistoryType,
    version: Option<&MigrationVersion>,
    undo: &HashSet<&MigrationVersion>,
) -> Option<bool> {
    let version = version?;
    if *kind == HistoryType::Delete || *kind == HistoryType::UndoSql || state == MigrationState::Deleted {
        return None;
    }
    Some(!state.is_failed() && undo.contains(version))
}

impl MigrationInfo {
    fn from_applied(
        a: &AppliedMigration,
        resolved: Option<usize>,
        index: usize,
        state: MigrationState,
        undo: &HashSet<&MigrationVersion>,
    ) -> Self {
        let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        Self {
            category: category(&a.kind, a.version.as_ref()),
            version: a.version.clone(),
            description: a.description.clone(),
            kind: a.kind.clone(),
            script: a.script.clone(),
            checksum: a.checksum,
            installed_rank: Some(a.installed_rank),
            installed_on: a.installed_on.and_then(|t| t.format(&format).ok()),
            installed_by: Some(a.installed_by.clone()),
            execution_time: Some(a.execution_time),
            undoable: undoable(state, &a.kind, a.version.as_ref(), undo),
            state,
            resolved,
            applied: Some(index),
        }
    }

    fn from_resolved(
        r: &ResolvedMigration,
        index: usize,
        state: MigrationState,
        undo: &HashSet<&MigrationVersion>,
    ) -> Self {
        let kind = r.history_type();
        Self {
            category: category(&kind, r.version.as_ref()),
            version: r.version.clone(),
            description: r.description.clone(),
            undoable: undoable(state, &kind, r.version.as_ref(), undo),
            kind,
            script: r.script.clone(),
            checksum: Some(r.checksum),
            installed_rank: None,
            installed_on: None,
            installed_by: None,
            execution_time: None,
            state,
            resolved: Some(index),
            applied: None,
        }
    }

    /// Whether this is a versioned migration (or a row with a version).
    pub fn is_versioned(&self) -> bool {
        self.version.is_some()
    }

    /// `version 1.2 (V1_2__x.sql)` or `repeatable "views" (R__views.sql)`, for messages.
    pub fn label(&self) -> String {
        match &self.version {
            Some(v) => format!("version {v} ({})", self.script),
            None => format!("repeatable \"{}\" ({})", self.description, self.script),
        }
    }
}

/// The info of every migration and the facts they were computed from.
#[derive(Debug, Clone)]
pub struct MigrationInfos {
    /// One entry per migration, in Flyway's order.
    pub infos: Vec<MigrationInfo>,
    /// The facts.
    pub context: InfoContext,
}

impl MigrationInfos {
    /// The highest applied version that is not deleted (Flyway's `current()`).
    pub fn current(&self) -> Option<&MigrationInfo> {
        self.infos
            .iter()
            .filter(|m| {
                m.state.is_applied()
                    && m.state != MigrationState::Deleted
                    && m.kind != HistoryType::Delete
                    && m.version.is_some()
            })
            .max_by(|a, b| a.version.cmp(&b.version))
    }

    /// Entries in the given state.
    pub fn in_state(&self, state: MigrationState) -> impl Iterator<Item = &MigrationInfo> {
        self.infos.iter().filter(move |m| m.state == state)
    }
}

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The history contradicts itself.
    #[error("corrupted schema history: {0}")]
    CorruptHistory(String),
    /// `target` names a version nobody knows.
    #[error(
        "no migration with target version {0} could be found; check the target, or end it with `?` to allow a missing one"
    )]
    TargetNotFound(MigrationVersion),
    /// Validation found problems (the list is in the error's `errors`).
    #[error("validate failed: migrations have failed validation\n{}", validate::render(.0))]
    Validation(Vec<validate::ValidationError>),
    /// A failed migration blocks the run.
    #[error("{0}")]
    Failed(String),
    /// The schemas hold objects but there is no history table.
    #[error(
        "found non-empty schema(s) {0} but no schema history table; run `pccdb baseline` (or set \
         baselineOnMigrate=true) to adopt the existing objects, or migrate into an empty schema"
    )]
    NonEmptySchema(String),
    /// `group` with both kinds of migration and `mixed` off.
    #[error(
        "detected both transactional and non-transactional migrations within the same migration group (even \
         though mixed is false); first offending migration: {0}. Set mixed=true or turn group off"
    )]
    MixedGroup(String),
}
