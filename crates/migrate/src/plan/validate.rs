//! Validation (Flyway's `MigrationInfoImpl.validate`): failed runs, applied migrations whose
//! file is gone, files not applied, outdated repeatables, and type/checksum/description drift.
//! Each finding says what to do next.

use serde::Serialize;

use super::patterns::{IgnorePatterns, PatternState};
use super::{InfoContext, MigrationInfos};
use crate::model::{AppliedMigration, MigrationState as S, ResolvedMigration};
use crate::name::{MigrationKind, abbreviate_description};

/// Flyway's validation error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// A versioned migration failed.
    FailedVersionedMigration,
    /// A repeatable migration failed.
    FailedRepeatableMigration,
    /// An applied versioned migration has no file.
    AppliedVersionedMigrationNotResolved,
    /// An applied repeatable migration has no file.
    AppliedRepeatableMigrationNotResolved,
    /// A versioned file is not applied.
    ResolvedVersionedMigrationNotApplied,
    /// A repeatable file is not applied.
    ResolvedRepeatableMigrationNotApplied,
    /// A repeatable changed and must run again.
    OutdatedRepeatableMigration,
    /// The file's type differs from the row's.
    TypeMismatch,
    /// The file changed after it was applied.
    ChecksumMismatch,
    /// The file's description differs from the row's.
    DescriptionMismatch,
    /// The file cannot be run (placeholder, psql command, syntax, mixed statements).
    InvalidScript,
}

/// One validation finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationError {
    /// The code.
    pub code: ErrorCode,
    /// The version, if any.
    pub version: Option<String>,
    /// The description.
    pub description: String,
    /// The script (the file's when there is one, else the history's).
    pub script: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// Renders findings one per line, for error messages.
pub fn render(errors: &[ValidationError]) -> String {
    errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("\n")
}

fn pattern_state(state: S) -> Option<PatternState> {
    match state {
        S::MissingSuccess | S::MissingFailed => Some(PatternState::Missing),
        S::FutureSuccess | S::FutureFailed => Some(PatternState::Future),
        S::Pending | S::Outdated => Some(PatternState::Pending),
        S::Ignored => Some(PatternState::Ignored),
        _ => None,
    }
}

/// Validates every migration; an empty list means valid.
pub fn validate(
    infos: &MigrationInfos,
    applied: &[AppliedMigration],
    resolved: &[ResolvedMigration],
    patterns: &IgnorePatterns,
) -> Vec<ValidationError> {
    infos
        .infos
        .iter()
        .filter_map(|m| {
            let a = m.applied.map(|i| &applied[i]);
            let r = m.resolved.map(|i| &resolved[i]);
            let (code, message) = check(m.state, m.is_versioned(), a, r, &infos.context, patterns, &m.label())?;
            Some(ValidationError {
                code,
                version: m.version.as_ref().map(ToString::to_string),
                description: m.description.clone(),
                script: r.map_or_else(|| m.script.clone(), |r| r.script.clone()),
                message,
            })
        })
        .collect()
}

fn check(
    state: S,
    versioned: bool,
    a: Option<&AppliedMigration>,
    r: Option<&ResolvedMigration>,
    ctx: &InfoContext,
    patterns: &IgnorePatterns,
    label: &str,
) -> Option<(ErrorCode, String)> {
    use ErrorCode as E;
    if matches!(state, S::AboveTarget | S::Deleted) {
        return None;
    }
    let ignored = pattern_state(state).is_some_and(|p| patterns.ignores(versioned, p));
    if state.is_failed() && !(state == S::FutureFailed && ignored) {
        let code = if versioned {
            E::FailedVersionedMigration
        } else {
            E::FailedRepeatableMigration
        };
        return Some((
            code,
            format!(
                "Detected failed migration {label}: it failed or was interrupted. Remove any half-completed changes \
             (for example an INVALID index left by CREATE INDEX CONCURRENTLY), then run `pccdb repair`"
            ),
        ));
    }
    if let (Some(a), None) = (a, r)
        && !a.kind.is_synthetic()
        && state != S::Superseded
        && !ignored
    {
        let code = if versioned {
            E::AppliedVersionedMigrationNotResolved
        } else {
            E::AppliedRepeatableMigrationNotResolved
        };
        return Some((
            code,
            format!(
                "Detected applied migration not resolved locally: {label}. If you removed this migration \
             intentionally, run `pccdb repair` to mark it as deleted; otherwise restore the file"
            ),
        ));
    }
    if state == S::Ignored && !ignored && r.is_some_and(|r| r.kind != MigrationKind::Baseline) {
        let code = if versioned {
            E::ResolvedVersionedMigrationNotApplied
        } else {
            E::ResolvedRepeatableMigrationNotApplied
        };
        return Some((
            code,
            format!(
                "Detected resolved migration not applied to database: {label} is older than the latest applied version. \
             To ignore it, set ignoreMigrationPatterns='*:ignored'; to apply it, set outOfOrder=true"
            ),
        ));
    }
    if state == S::Pending && !ignored {
        let code = if versioned {
            E::ResolvedVersionedMigrationNotApplied
        } else {
            E::ResolvedRepeatableMigrationNotApplied
        };
        return Some((
            code,
            format!(
                "Detected resolved migration not applied to database: {label}. Run `pccdb migrate`, or set \
             ignoreMigrationPatterns='*:pending'"
            ),
        ));
    }
    if state == S::Outdated && !ignored {
        return Some((
            E::OutdatedRepeatableMigration,
            format!(
                "Detected outdated resolved repeatable migration that should be re-applied to database: {label}. Run `pccdb migrate`"
            ),
        ));
    }
    let (a, r) = (a?, r?);
    if a.kind.is_synthetic()
        || a.version
            .as_ref()
            .is_some_and(|v| ctx.applied_baseline.as_ref().is_some_and(|b| v <= b))
    {
        return None;
    }
    let mismatch = |what: &str, applied: String, resolved: String| {
        format!(
            "Migration {what} mismatch for migration {label}\n-> Applied to database : {applied}\n-> Resolved locally    : {resolved}\n\
             Either revert the changes to the migration, or run `pccdb repair` to update the schema history"
        )
    };
    if r.history_type() != a.kind {
        return Some((
            E::TypeMismatch,
            mismatch("type", a.kind.as_str().into(), r.history_type().as_str().into()),
        ));
    }
    let pending_ignored = patterns.ignores(versioned, PatternState::Pending);
    if (r.version.is_some() || (pending_ignored && !matches!(state, S::Outdated | S::Superseded)))
        && !r.checksum_matches(a.checksum)
    {
        let shown = a.checksum.map_or_else(|| "NULL".to_owned(), |c| c.to_string());
        return Some((E::ChecksumMismatch, mismatch("checksum", shown, r.checksum.to_string())));
    }
    if abbreviate_description(&r.description) != a.description {
        return Some((
            E::DescriptionMismatch,
            mismatch("description", a.description.clone(), r.description.clone()),
        ));
    }
    None
}
