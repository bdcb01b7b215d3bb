//! The migration files of one location in Flyway's order (versioned by version, then repeatables by
//! description), each decoded, placeholder-checked and split by the `migrate` crate exactly as Flyway would.
//!
//! Pure: reads files, touches no database. A file Flyway could not run (a psql meta-command, an unknown
//! `${placeholder}`, a transaction-control statement, a mixed transactional/non-transactional script) is an
//! error here, with its file name and line.

use std::path::{Path, PathBuf};

use migrate::checksum::{checksum_text, decode};
use migrate::name::{MigrationKind, NamingConfig, ParsedName, parse_file_name};
use migrate::placeholder::Placeholders;
use migrate::sql::script::{Script, ScriptError, ScriptOptions, ScriptOverrides, parse_script, replace_placeholders};
use migrate::version::MigrationVersion;

/// One migration file, ready to run.
#[derive(Debug, Clone)]
pub struct MigrationFile {
    /// The file name (`V3__clients.sql`).
    pub file_name: String,
    /// Versioned or repeatable (the only kinds this schema uses).
    pub kind: MigrationKind,
    /// The version of a versioned migration.
    pub version: Option<MigrationVersion>,
    /// The description, `_` turned into spaces.
    pub description: String,
    /// The checksum Flyway records for it.
    pub checksum: i32,
    /// Its statements and transaction mode.
    pub script: Script,
}

/// Why the migrations of a location cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum MigrationsError {
    /// A file or the directory could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file that is not UTF-8.
    #[error("{file}: {source}")]
    Encoding {
        /// The file name.
        file: String,
        /// Where the bad bytes are.
        source: migrate::checksum::ChecksumError,
    },
    /// A `.sql` file whose name Flyway would ignore or reject.
    #[error("{file}: {reason}")]
    Name {
        /// The file name.
        file: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two files with the same version.
    #[error("found more than one migration with version {version}: {first} and {second}")]
    DuplicateVersion {
        /// The version.
        version: String,
        /// One file.
        first: String,
        /// The other file.
        second: String,
    },
    /// A script Flyway could not run.
    #[error(transparent)]
    Script(#[from] ScriptError),
}

/// The placeholders Flyway defines on its own; the schema uses none, so any other `${...}` is an error.
fn flyway_placeholders() -> Placeholders {
    Placeholders::default()
        .with_builtin("defaultSchema", "client_api")
        .with_builtin("table", "flyway_schema_history")
}

/// Loads every `.sql` migration directly in `dir`, in the order Flyway applies them.
///
/// # Errors
/// [`MigrationsError`] for the first file that cannot be read, named or parsed, or a duplicate version.
pub fn load(dir: &Path) -> Result<Vec<MigrationFile>, MigrationsError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| MigrationsError::Io { path, source }
    };
    let naming = NamingConfig::default();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if !path.is_file() || !file_name.to_ascii_lowercase().ends_with(".sql") {
            continue;
        }
        let (kind, version, description) = match parse_file_name(&file_name, &naming) {
            Some(ParsedName::Migration {
                kind,
                version,
                description,
            }) if matches!(kind, MigrationKind::Versioned | MigrationKind::Repeatable) => (kind, version, description),
            Some(ParsedName::Invalid(reason)) => {
                return Err(MigrationsError::Name {
                    file: file_name,
                    reason,
                });
            }
            _ => {
                return Err(MigrationsError::Name {
                    file: file_name,
                    reason: "expected V<version>__<description>.sql or R__<description>.sql".to_owned(),
                });
            }
        };
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let text = decode(&bytes).map_err(|source| MigrationsError::Encoding {
            file: file_name.clone(),
            source,
        })?;
        let options = ScriptOptions::default();
        let overrides = ScriptOverrides::default();
        let replaced = replace_placeholders(text, &file_name, &flyway_placeholders(), &options, &overrides)?;
        let checksum = checksum_text(&replaced);
        let script = parse_script(replaced, &file_name, &options, &overrides)?;
        files.push(MigrationFile {
            file_name,
            kind,
            version,
            description,
            checksum,
            script,
        });
    }
    // Versioned first, by version; then repeatables, by description (Flyway's order).
    files.sort_by(|a, b| match (&a.version, &b.version) {
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.description.cmp(&b.description),
    });
    for pair in files.windows(2) {
        if let (Some(x), Some(y)) = (&pair[0].version, &pair[1].version)
            && x == y
        {
            return Err(MigrationsError::DuplicateVersion {
                version: x.to_string(),
                first: pair[0].file_name.clone(),
                second: pair[1].file_name.clone(),
            });
        }
    }
    Ok(files)
}
