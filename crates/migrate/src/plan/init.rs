//! How `migrate` starts on a database without history (Flyway's `Flyway.migrate` preamble):
//! create the table; on non-empty schemas refuse, or baseline with `baselineOnMigrate`.

use super::PlanError;

/// What the history table looks like before a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryPresence {
    /// No table.
    Missing,
    /// A table without rows.
    Empty,
    /// A table with rows.
    HasRows,
}

/// What to do before planning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initialization {
    /// Nothing: the history is there.
    Ready,
    /// Create the history table (and schemas that do not exist).
    Create,
    /// Create the history table with a BASELINE row (`baselineOnMigrate` on non-empty schemas).
    CreateWithBaseline,
    /// Add a BASELINE row to the existing, empty table.
    AddBaseline,
}

/// Decides how to initialize.
///
/// # Errors
/// [`PlanError::NonEmptySchema`] when the schemas hold objects, there is no history table, and
/// `baselineOnMigrate` is off.
pub fn decide(
    presence: HistoryPresence,
    non_empty_schemas: &[String],
    baseline_on_migrate: bool,
) -> Result<Initialization, PlanError> {
    let empty = non_empty_schemas.is_empty();
    match presence {
        HistoryPresence::Missing if empty => Ok(Initialization::Create),
        HistoryPresence::Missing if baseline_on_migrate => Ok(Initialization::CreateWithBaseline),
        HistoryPresence::Missing => {
            let quoted: Vec<String> = non_empty_schemas.iter().map(|s| format!("\"{s}\"")).collect();
            Err(PlanError::NonEmptySchema(quoted.join(", ")))
        }
        HistoryPresence::Empty if baseline_on_migrate && !empty => Ok(Initialization::AddBaseline),
        HistoryPresence::Empty | HistoryPresence::HasRows => Ok(Initialization::Ready),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_database_gets_a_history_table() {
        assert_eq!(decide(HistoryPresence::Missing, &[], false), Ok(Initialization::Create));
        assert_eq!(decide(HistoryPresence::Missing, &[], true), Ok(Initialization::Create));
    }

    #[test]
    fn a_non_empty_schema_without_history_is_refused_naming_the_schema() {
        let err = decide(HistoryPresence::Missing, &["public".into()], false).unwrap_err();
        assert!(err.to_string().contains("\"public\"") && err.to_string().contains("pccdb baseline"));
    }

    #[test]
    fn baseline_on_migrate_adopts_a_non_empty_schema() {
        assert_eq!(
            decide(HistoryPresence::Missing, &["app".into()], true),
            Ok(Initialization::CreateWithBaseline)
        );
        assert_eq!(
            decide(HistoryPresence::Empty, &["app".into()], true),
            Ok(Initialization::AddBaseline)
        );
    }

    #[test]
    fn an_existing_history_needs_nothing() {
        assert_eq!(
            decide(HistoryPresence::HasRows, &["app".into()], false),
            Ok(Initialization::Ready)
        );
        assert_eq!(
            decide(HistoryPresence::Empty, &["app".into()], false),
            Ok(Initialization::Ready)
        );
    }
}
