//! What `repair` changes (Flyway's `DbRepair`): remove failed rows, mark applied migrations whose
//! file is gone as deleted (a `DELETE` row), and realign checksums, descriptions and types of
//! applied migrations with their files.

use super::patterns::{IgnorePatterns, PatternState};
use super::{InfoOptions, PlanError, info};
use crate::model::{AppliedMigration, MigrationState, ResolvedMigration};
use crate::name::abbreviate_description;

/// A row to realign with its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Realign {
    /// Index into the history rows.
    pub applied: usize,
    /// Index into the resolved migrations.
    pub resolved: usize,
}

/// The changes of a `repair` run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairPlan {
    /// Rows with `success = false`, removed.
    pub remove_failed: Vec<usize>,
    /// Rows whose migration is missing, marked deleted with a `DELETE` row.
    pub mark_deleted: Vec<usize>,
    /// Rows whose checksum, description or type is updated from the file.
    pub realign: Vec<Realign>,
}

impl RepairPlan {
    /// Whether repair has nothing to do.
    pub fn is_empty(&self) -> bool {
        self.remove_failed.is_empty() && self.mark_deleted.is_empty() && self.realign.is_empty()
    }
}

/// Plans a `repair` run.
///
/// # Errors
/// The errors of [`info::compute`].
pub fn plan(
    applied: &[AppliedMigration],
    resolved: &[ResolvedMigration],
    options: &InfoOptions,
    patterns: &IgnorePatterns,
) -> Result<RepairPlan, PlanError> {
    let remove_failed: Vec<usize> = (0..applied.len()).filter(|i| !applied[*i].success).collect();
    // Like Flyway, the rest is decided on the history as it is after the failed rows are gone.
    let kept: Vec<usize> = (0..applied.len()).filter(|i| applied[*i].success).collect();
    let remaining: Vec<AppliedMigration> = kept.iter().map(|i| applied[*i].clone()).collect();
    let infos = info::compute(&remaining, resolved, options)?;
    let mut plan = RepairPlan {
        remove_failed,
        ..RepairPlan::default()
    };
    for m in &infos.infos {
        let Some(local) = m.applied else { continue };
        let a = &remaining[local];
        if a.kind.is_synthetic() {
            continue;
        }
        let missing = match m.state {
            MigrationState::MissingSuccess | MigrationState::MissingFailed => Some(PatternState::Missing),
            MigrationState::FutureSuccess | MigrationState::FutureFailed => Some(PatternState::Future),
            _ => None,
        };
        if let Some(kind) = missing {
            if !patterns.ignores(m.is_versioned(), kind) {
                plan.mark_deleted.push(kept[local]);
            }
            continue;
        }
        let Some(r) = m.resolved.map(|i| (i, &resolved[i])) else {
            continue;
        };
        if m.state == MigrationState::Ignored {
            continue;
        }
        let drift = if a.version.is_some() {
            a.checksum != Some(r.1.checksum)
                || abbreviate_description(&r.1.description) != a.description
                || r.1.history_type() != a.kind
        } else {
            // Repeatables are only realigned when the row holds the equivalent (raw) checksum;
            // a real change makes them Outdated, and migrate runs them again.
            a.checksum != Some(r.1.checksum) && r.1.checksum_matches(a.checksum)
        };
        if drift {
            plan.realign.push(Realign {
                applied: kept[local],
                resolved: r.0,
            });
        }
    }
    Ok(plan)
}
