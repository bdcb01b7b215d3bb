//! The two inputs of every plan: rows of `flyway_schema_history` (`AppliedMigration`) and
//! migration files found on disk (`ResolvedMigration`), plus the states Flyway's `info` shows.

use std::path::PathBuf;

use serde::Serialize;

use crate::name::MigrationKind;
use crate::sql::script::ScriptOverrides;
use crate::version::MigrationVersion;

/// The `type` column of the history table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HistoryType {
    /// `SQL`: a versioned or repeatable SQL migration.
    Sql,
    /// `SQL_BASELINE`: a `B` baseline migration.
    SqlBaseline,
    /// `BASELINE`: the marker written by `baseline` / `baselineOnMigrate`.
    Baseline,
    /// `SCHEMA`: the marker for schemas Flyway created.
    Schema,
    /// `DELETE`: written by `repair` for a migration whose file is gone.
    Delete,
    /// `UNDO_SQL`: an undo migration (written by Flyway Teams only).
    UndoSql,
    /// Anything else (`JDBC`, `SPRING_JDBC`, `SCRIPT`, ... written by other Flyway setups).
    Other(String),
}

impl HistoryType {
    /// Reads the column value.
    pub fn parse(text: &str) -> Self {
        match text {
            "SQL" => Self::Sql,
            "SQL_BASELINE" => Self::SqlBaseline,
            "BASELINE" => Self::Baseline,
            "SCHEMA" => Self::Schema,
            "DELETE" => Self::Delete,
            "UNDO_SQL" => Self::UndoSql,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The column value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Sql => "SQL",
            Self::SqlBaseline => "SQL_BASELINE",
            Self::Baseline => "BASELINE",
            Self::Schema => "SCHEMA",
            Self::Delete => "DELETE",
            Self::UndoSql => "UNDO_SQL",
            Self::Other(text) => text,
        }
    }

    /// Rows that stand for no migration file (Flyway's `isSynthetic`).
    pub fn is_synthetic(&self) -> bool {
        matches!(self, Self::Baseline | Self::Schema | Self::Delete)
    }

    /// Either kind of baseline.
    pub fn is_baseline(&self) -> bool {
        matches!(self, Self::Baseline | Self::SqlBaseline)
    }

    /// The history type a resolved migration of `kind` is written as.
    pub fn of_kind(kind: MigrationKind) -> Self {
        Self::parse(kind.history_type())
    }
}

impl Serialize for HistoryType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One row of `flyway_schema_history`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    /// `installed_rank`.
    pub installed_rank: i32,
    /// `version` (`None` for repeatables and the SCHEMA marker).
    pub version: Option<MigrationVersion>,
    /// `description`.
    pub description: String,
    /// `type`.
    pub kind: HistoryType,
    /// `script`.
    pub script: String,
    /// `checksum`.
    pub checksum: Option<i32>,
    /// `installed_by`.
    pub installed_by: String,
    /// `installed_on` (server time, no zone, as Flyway stores it).
    pub installed_on: Option<time::PrimitiveDateTime>,
    /// `execution_time` in milliseconds.
    pub execution_time: i32,
    /// `success`.
    pub success: bool,
}

/// A migration file found in a location.
#[derive(Debug, Clone)]
pub struct ResolvedMigration {
    /// Versioned, baseline, undo or repeatable.
    pub kind: MigrationKind,
    /// The version (`None` for repeatables).
    pub version: Option<MigrationVersion>,
    /// The description from the file name.
    pub description: String,
    /// The path relative to its location, with `/` (the history's `script`).
    pub script: String,
    /// Where the file is on disk.
    pub path: PathBuf,
    /// The checksum to store (for repeatables: computed after placeholder replacement).
    pub checksum: i32,
    /// For repeatables, the checksum of the raw file, which Flyway also accepts as a match.
    pub equivalent_checksum: Option<i32>,
    /// The file's text (BOM removed).
    pub text: String,
    /// Settings from `<file>.conf`.
    pub overrides: ScriptOverrides,
}

impl ResolvedMigration {
    /// Flyway's `checksumMatches`: the checksum, or for repeatables the raw-file checksum too.
    pub fn checksum_matches(&self, applied: Option<i32>) -> bool {
        applied == Some(self.checksum) || (self.equivalent_checksum.is_some() && applied == self.equivalent_checksum)
    }

    /// The history `type` this migration is written as.
    pub fn history_type(&self) -> HistoryType {
        HistoryType::of_kind(self.kind)
    }
}

/// The state `info` shows for a migration (Flyway's `MigrationState`, same display names, which
/// are also what JSON output carries, as Flyway's does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MigrationState {
    /// Resolved, not applied, will be applied by `migrate`.
    Pending,
    /// Resolved, beyond the configured target.
    AboveTarget,
    /// Resolved, older than the baseline: never applied.
    BelowBaseline,
    /// Resolved, at exactly the baseline version: never applied.
    BaselineIgnored,
    /// The baseline marker, or an applied baseline migration.
    Baseline,
    /// Resolved, older than the latest applied version while `outOfOrder` is off.
    Ignored,
    /// Applied successfully, its file is gone (older than the newest file).
    MissingSuccess,
    /// Applied with failure, its file is gone.
    MissingFailed,
    /// Applied and resolved, all well.
    Success,
    /// An undo migration available for an applied version.
    Available,
    /// Applied with failure (a non-transactional migration that failed or was interrupted).
    Failed,
    /// Applied after a higher version (with `outOfOrder`).
    OutOfOrder,
    /// Applied successfully, newer than every file (applied by a newer release).
    FutureSuccess,
    /// Applied with failure, newer than every file.
    FutureFailed,
    /// A repeatable whose file changed since its latest run.
    Outdated,
    /// An earlier run of a repeatable that ran again since.
    Superseded,
    /// Marked deleted by `repair` after its file went away.
    Deleted,
}

impl MigrationState {
    /// Flyway's display name (`Out of Order`, `Failed (Missing)`, ...).
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::AboveTarget => "Above Target",
            Self::BelowBaseline => "Below Baseline",
            Self::BaselineIgnored => "Ignored (Baseline)",
            Self::Baseline => "Baseline",
            Self::Ignored => "Ignored",
            Self::MissingSuccess => "Missing",
            Self::MissingFailed => "Failed (Missing)",
            Self::Success => "Success",
            Self::Available => "Available",
            Self::Failed => "Failed",
            Self::OutOfOrder => "Out of Order",
            Self::FutureSuccess => "Future",
            Self::FutureFailed => "Failed (Future)",
            Self::Outdated => "Outdated",
            Self::Superseded => "Superseded",
            Self::Deleted => "Deleted",
        }
    }

    /// Whether this state records a failure.
    pub fn is_failed(self) -> bool {
        matches!(self, Self::Failed | Self::MissingFailed | Self::FutureFailed)
    }

    /// Whether this state belongs to a history row.
    pub fn is_applied(self) -> bool {
        !matches!(
            self,
            Self::Pending
                | Self::AboveTarget
                | Self::BelowBaseline
                | Self::BaselineIgnored
                | Self::Ignored
                | Self::Available
        )
    }
}

impl Serialize for MigrationState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.display_name())
    }
}

impl std::fmt::Display for MigrationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.display_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_types_round_trip() {
        for text in [
            "SQL",
            "SQL_BASELINE",
            "BASELINE",
            "SCHEMA",
            "DELETE",
            "UNDO_SQL",
            "JDBC",
        ] {
            assert_eq!(HistoryType::parse(text).as_str(), text);
        }
        assert!(HistoryType::Delete.is_synthetic() && !HistoryType::SqlBaseline.is_synthetic());
        assert!(HistoryType::SqlBaseline.is_baseline() && HistoryType::Baseline.is_baseline());
    }

    #[test]
    fn state_display_names_are_flyways() {
        assert_eq!(MigrationState::BaselineIgnored.display_name(), "Ignored (Baseline)");
        assert_eq!(MigrationState::MissingFailed.to_string(), "Failed (Missing)");
        assert_eq!(MigrationState::FutureSuccess.to_string(), "Future");
        assert_eq!(MigrationState::OutOfOrder.to_string(), "Out of Order");
    }
}
