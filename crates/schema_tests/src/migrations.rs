//! The migration files of one location as the engine sees them: found, named, ordered, checksummed and
//! split by the `migrate` crate's own resolver and script parser (the code `pccdb migrate` runs), so a file
//! that could not run fails here first, with its file name and line. Pure: touches no database.

use std::path::Path;

use migrate::config::Location;
use migrate::name::{MigrationKind, NamingConfig};
use migrate::placeholder::Placeholders;
use migrate::resolve::{ResolveError, ScriptContext, prepare, resolve};
use migrate::sql::script::{Script, ScriptError, ScriptOptions};
use migrate::version::MigrationVersion;

/// One migration file, ready to run.
#[derive(Debug, Clone)]
pub struct MigrationFile {
    /// The file name (`V3__clients.sql`).
    pub file_name: String,
    /// Versioned or repeatable.
    pub kind: MigrationKind,
    /// The version of a versioned migration.
    pub version: Option<MigrationVersion>,
    /// The description, `_` turned into spaces.
    pub description: String,
    /// The checksum the history records for it.
    pub checksum: i32,
    /// Its statements and transaction mode.
    pub script: Script,
}

/// Why the migrations of a location cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum MigrationsError {
    /// Unreadable, badly named, non-UTF-8 or duplicate files (names are validated, as with
    /// `validateMigrationNaming`).
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// A script the engine could not run.
    #[error(transparent)]
    Script(#[from] ScriptError),
}

/// The placeholders the engine defines on its own for the service schema; the schema uses none, so any
/// other `${...}` is an error.
fn context() -> ScriptContext {
    ScriptContext {
        placeholders: Placeholders::default()
            .with_builtin("defaultSchema", "client_api")
            .with_builtin("table", "flyway_schema_history"),
        options: ScriptOptions::default(),
    }
}

/// Loads every migration under `dir`, in the order the engine applies them.
///
/// # Errors
/// [`MigrationsError`] for the first file that cannot be read, named or parsed, or a duplicate version.
pub fn load(dir: &Path) -> Result<Vec<MigrationFile>, MigrationsError> {
    let location = Location {
        path: dir.to_owned(),
        text: format!("filesystem:{}", dir.display()),
        embedded: None,
    };
    let mut resolved = resolve(&[location], &NamingConfig::default(), true, true)?;
    let context = context();
    prepare(&mut resolved, &context);
    resolved
        .migrations
        .iter()
        .map(|m| {
            Ok(MigrationFile {
                file_name: m.script.clone(),
                kind: m.kind,
                version: m.version.clone(),
                description: m.description.clone(),
                checksum: m.checksum,
                script: context.script(m)?,
            })
        })
        .collect()
}
