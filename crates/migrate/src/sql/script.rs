//! A migration or callback file turned into an executable script: placeholders replaced, split
//! into statements, each checked, and the whole script's transaction mode decided as Flyway does
//! (`mixed`, `executeInTransaction`, per-script `.sql.conf`).
//!
//! Everything here happens before any statement runs, so a bad file fails the run up front with
//! its file name and line (`\c` in the seed plan's V1 is the motivating case).

use super::classify::{is_copy_to_stdout, is_transaction_control, non_transactional_reason};
use super::split::{SplitError, Statement, split};
use crate::placeholder::{PlaceholderError, Placeholders};

/// How scripts are turned into statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptOptions {
    /// Flyway's `mixed`: allow transactional and non-transactional statements in one script.
    pub mixed: bool,
    /// Flyway's `executeInTransaction` (default true).
    pub execute_in_transaction: bool,
    /// Flyway's `placeholderReplacement` (default true).
    pub placeholder_replacement: bool,
    /// `server_version_num` of the target server (only `ALTER TYPE ... ADD VALUE` depends on it).
    pub server_version_num: u32,
}

impl Default for ScriptOptions {
    fn default() -> Self {
        Self {
            mixed: false,
            execute_in_transaction: true,
            placeholder_replacement: true,
            server_version_num: 150_000,
        }
    }
}

/// Per-script settings from `<script>.conf` that override [`ScriptOptions`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptOverrides {
    /// `executeInTransaction`.
    pub execute_in_transaction: Option<bool>,
    /// `placeholderReplacement`.
    pub placeholder_replacement: Option<bool>,
}

/// A script ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The statements, in order.
    pub statements: Vec<Statement>,
    /// Whether the script runs inside one transaction.
    pub transactional: bool,
    /// The text after placeholder replacement (repeatable checksums are computed from it).
    pub text: String,
}

/// Why a file cannot become a script.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// A placeholder without a value.
    #[error(transparent)]
    Placeholder(#[from] PlaceholderError),
    /// `\c` / `\connect`: the seed plan's way of creating a database, which migrations cannot do.
    #[error(
        "{file}:{line}: psql meta-command {command} cannot run in a migration: a migration runs over one \
         connection to the database it migrates, and psql commands are not SQL (Flyway cannot run them either). \
         Databases are created by `pccdb apply` from deploy/pcc.toml: delete the CREATE DATABASE and {command} \
         lines and keep only the schema statements"
    )]
    Connect {
        /// The script.
        file: String,
        /// 1-based line.
        line: usize,
        /// The command as written.
        command: String,
    },
    /// Any other psql meta-command.
    #[error(
        "{file}:{line}: psql meta-command {command} is not SQL and cannot run in a migration \
         (Flyway cannot run it either); rewrite it as SQL"
    )]
    MetaCommand {
        /// The script.
        file: String,
        /// 1-based line.
        line: usize,
        /// The command as written.
        command: String,
    },
    /// Unterminated quotes or comments, text after a COPY terminator.
    #[error("{file}:{source}")]
    Syntax {
        /// The script.
        file: String,
        /// What the splitter found.
        source: SplitError,
    },
    /// Transactional and non-transactional statements together without `mixed`.
    #[error(
        "{file}:{line}: detected both transactional and non-transactional statements within the same migration \
         (even though mixed is false): {statement} ({reason}). Move it to a migration of its own, or set mixed=true \
         to run the whole migration outside a transaction"
    )]
    Mixed {
        /// The script.
        file: String,
        /// 1-based line of the non-transactional statement.
        line: usize,
        /// Its first line.
        statement: String,
        /// Why it cannot run in a transaction.
        reason: String,
    },
    /// BEGIN/COMMIT/ROLLBACK inside a script that runs in a transaction.
    #[error(
        "{file}:{line}: {statement} inside a migration would break its atomicity: each migration already runs \
         in its own transaction. Remove the transaction control statements, or set executeInTransaction=false in \
         {file}.conf to run the file exactly as written"
    )]
    TransactionControl {
        /// The script.
        file: String,
        /// 1-based line.
        line: usize,
        /// Its first line.
        statement: String,
    },
    /// COPY ... TO STDOUT.
    #[error(
        "{file}:{line}: COPY ... TO STDOUT produces output a migration has nowhere to send; copy to a table instead"
    )]
    CopyToStdout {
        /// The script.
        file: String,
        /// 1-based line.
        line: usize,
    },
}

impl ScriptError {
    /// The 1-based line the error points at, if any.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Placeholder(e) => Some(e.line),
            Self::Connect { line, .. }
            | Self::MetaCommand { line, .. }
            | Self::Mixed { line, .. }
            | Self::TransactionControl { line, .. }
            | Self::CopyToStdout { line, .. } => Some(*line),
            Self::Syntax { source, .. } => Some(match source {
                SplitError::MetaCommand { line, .. }
                | SplitError::Unterminated { line, .. }
                | SplitError::TextAfterCopy { line } => *line,
            }),
        }
    }
}

fn first_line(stmt: &Statement) -> String {
    let line = stmt.text.lines().next().unwrap_or("").trim();
    if line.chars().count() > 80 {
        format!("{}...", line.chars().take(77).collect::<String>())
    } else {
        line.to_owned()
    }
}

/// Replaces placeholders (unless turned off) and returns the text the checksum of a repeatable
/// migration is computed from.
///
/// # Errors
/// [`ScriptError::Placeholder`] for a placeholder without a value.
pub fn replace_placeholders(
    text: &str,
    file: &str,
    placeholders: &Placeholders,
    options: &ScriptOptions,
    overrides: &ScriptOverrides,
) -> Result<String, ScriptError> {
    if overrides
        .placeholder_replacement
        .unwrap_or(options.placeholder_replacement)
    {
        Ok(placeholders.replace(text, file)?)
    } else {
        Ok(text.to_owned())
    }
}

/// Parses a script whose placeholders are already replaced.
///
/// # Errors
/// [`ScriptError`] naming the file and line of the first problem.
pub fn parse_script(
    text: String,
    file: &str,
    options: &ScriptOptions,
    overrides: &ScriptOverrides,
) -> Result<Script, ScriptError> {
    let statements = split(&text).map_err(|source| match source {
        SplitError::MetaCommand { line, command } => {
            let name = command.trim_start_matches('\\');
            if name == "c" || name == "connect" {
                ScriptError::Connect {
                    file: file.to_owned(),
                    line,
                    command,
                }
            } else {
                ScriptError::MetaCommand {
                    file: file.to_owned(),
                    line,
                    command,
                }
            }
        }
        source => ScriptError::Syntax {
            file: file.to_owned(),
            source,
        },
    })?;
    if let Some(stmt) = statements.iter().find(|s| is_copy_to_stdout(s)) {
        return Err(ScriptError::CopyToStdout {
            file: file.to_owned(),
            line: stmt.line,
        });
    }
    let non_tx = statements
        .iter()
        .find_map(|s| non_transactional_reason(s, options.server_version_num).map(|r| (s, r)));
    let has_tx = statements
        .iter()
        .any(|s| non_transactional_reason(s, options.server_version_num).is_none());
    let transactional = match (overrides.execute_in_transaction, non_tx) {
        (Some(explicit), _) => explicit,
        (None, _) if !options.execute_in_transaction => false,
        (None, Some((stmt, reason))) if has_tx && !options.mixed => {
            return Err(ScriptError::Mixed {
                file: file.to_owned(),
                line: stmt.line,
                statement: first_line(stmt),
                reason: reason.to_owned(),
            });
        }
        (None, Some(_)) => false,
        (None, None) => true,
    };
    if transactional && let Some(stmt) = statements.iter().find(|s| is_transaction_control(s)) {
        return Err(ScriptError::TransactionControl {
            file: file.to_owned(),
            line: stmt.line,
            statement: first_line(stmt),
        });
    }
    Ok(Script {
        statements,
        transactional,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Script, ScriptError> {
        parse_script(
            text.to_owned(),
            "V1__x.sql",
            &ScriptOptions::default(),
            &ScriptOverrides::default(),
        )
    }

    #[test]
    fn ordinary_scripts_run_in_a_transaction() {
        let script = parse("CREATE TABLE t (a int);\nINSERT INTO t VALUES (1);").unwrap();
        assert!(script.transactional);
        assert_eq!(script.statements.len(), 2);
    }

    #[test]
    fn a_lone_create_index_concurrently_runs_outside_a_transaction() {
        assert!(!parse("CREATE INDEX CONCURRENTLY i ON t (a);").unwrap().transactional);
    }

    #[test]
    fn vacuum_mixed_in_fails_unless_mixed() {
        let sql = "CREATE TABLE t (qty INT, price INT);\nINSERT INTO t VALUES(3, 50);\nVACUUM t;";
        let err = parse(sql).unwrap_err();
        assert!(
            matches!(&err, ScriptError::Mixed { line: 3, statement, .. } if statement == "VACUUM t"),
            "{err:?}"
        );
        assert!(err.to_string().contains("even though mixed is false"));
        let mixed = ScriptOptions {
            mixed: true,
            ..ScriptOptions::default()
        };
        let script = parse_script(sql.into(), "f", &mixed, &ScriptOverrides::default()).unwrap();
        assert!(!script.transactional);
    }

    #[test]
    fn cic_after_create_table_needs_mixed() {
        let sql = "CREATE TABLE cities (name text, population int, altitude int);\nCREATE INDEX CONCURRENTLY cities_idx ON cities(name, population, altitude);";
        assert!(matches!(parse(sql), Err(ScriptError::Mixed { line: 2, .. })));
    }

    #[test]
    fn a_script_conf_can_force_the_transaction_mode() {
        let off = ScriptOverrides {
            execute_in_transaction: Some(false),
            ..ScriptOverrides::default()
        };
        let script = parse_script(
            "BEGIN;\nSELECT 1;\nCOMMIT;".into(),
            "f",
            &ScriptOptions::default(),
            &off,
        )
        .unwrap();
        assert!(!script.transactional);
    }

    #[test]
    fn backslash_c_is_refused_pointing_at_pccdb_apply() {
        let err = parse(
            "CREATE DATABASE client_api_db_devtest;\n\n\\c client_api_db_devtest\n\nCREATE TABLE users (id int);",
        )
        .unwrap_err();
        assert!(matches!(&err, ScriptError::Connect { line: 3, command, .. } if command == "\\c"));
        let message = err.to_string();
        assert!(message.starts_with("V1__x.sql:3: psql meta-command \\c"), "{message}");
        assert!(message.contains("`pccdb apply`"), "{message}");
        assert!(matches!(parse("\\connect other"), Err(ScriptError::Connect { .. })));
    }

    #[test]
    fn other_meta_commands_are_refused_with_file_and_line() {
        let err = parse("SELECT 1;\n\\i other.sql").unwrap_err();
        assert_eq!(err.line(), Some(2));
        assert!(err.to_string().starts_with("V1__x.sql:2: psql meta-command \\i"));
    }

    #[test]
    fn transaction_control_in_a_transactional_script_is_refused() {
        let err = parse("BEGIN;\nCREATE TABLE t ();\nCOMMIT;").unwrap_err();
        assert!(matches!(err, ScriptError::TransactionControl { line: 1, .. }));
        assert!(parse("SAVEPOINT a;\nROLLBACK TO SAVEPOINT a;").is_ok());
    }

    #[test]
    fn copy_to_stdout_is_refused() {
        assert!(matches!(
            parse("\nCOPY t TO STDOUT;"),
            Err(ScriptError::CopyToStdout { line: 2, .. })
        ));
    }

    #[test]
    fn unterminated_strings_name_the_file() {
        assert_eq!(
            parse("SELECT 'x").unwrap_err().to_string(),
            "V1__x.sql:line 1: unterminated quoted string"
        );
    }

    #[test]
    fn placeholders_can_be_turned_off_per_script() {
        let p = Placeholders::default();
        let options = ScriptOptions::default();
        assert!(replace_placeholders("${x}", "f", &p, &options, &ScriptOverrides::default()).is_err());
        let off = ScriptOverrides {
            placeholder_replacement: Some(false),
            ..ScriptOverrides::default()
        };
        assert_eq!(replace_placeholders("${x}", "f", &p, &options, &off).unwrap(), "${x}");
    }
}
