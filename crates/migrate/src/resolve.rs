//! Finding migrations and callbacks in the configured locations (Flyway's `SqlMigrationResolver`):
//! a recursive walk in name order, Flyway's naming rules, checksums of the raw files, per-script
//! `.sql.conf` settings, and duplicate detection; then, once the session's facts are known,
//! placeholder replacement and parsing of every script (`prepare`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::callback::Event;
use crate::checksum::{ChecksumError, checksum_text, decode};
use crate::config::properties;
use crate::config::{EmbeddedFile, Location};
use crate::model::ResolvedMigration;
use crate::name::{MigrationKind, NamingConfig, ParsedName, parse_file_name, strip_suffix};
use crate::placeholder::Placeholders;
use crate::sql::script::{Script, ScriptError, ScriptOptions, ScriptOverrides, parse_script, replace_placeholders};

/// A callback file.
#[derive(Debug, Clone)]
pub struct ResolvedCallback {
    /// Its event.
    pub event: Event,
    /// The description after the event name.
    pub description: String,
    /// Path relative to its location.
    pub script: String,
    /// Where it is on disk.
    pub path: PathBuf,
    /// Its text (BOM removed).
    pub text: String,
    /// Settings from `<file>.conf`.
    pub overrides: ScriptOverrides,
}

/// Everything found in the locations.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// Migrations: versioned by version, then repeatables by description.
    pub migrations: Vec<ResolvedMigration>,
    /// Callbacks, by event then script.
    pub callbacks: Vec<ResolvedCallback>,
    /// Things worth telling the operator (skipped names, missing locations).
    pub warnings: Vec<String>,
}

/// Why resolving failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// A file or directory that cannot be read.
    #[error("cannot read {}: {message}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        message: String,
    },
    /// A file that is not UTF-8.
    #[error("{}: {source}", path.display())]
    Encoding {
        /// The file.
        path: PathBuf,
        /// Where the bytes go wrong.
        source: ChecksumError,
    },
    /// Two migrations with one version, or two repeatables with one description.
    #[error("{0}")]
    Duplicate(String),
    /// Badly named files while `validateMigrationNaming` is on.
    #[error("invalid migration names (validateMigrationNaming is on):\n{}", .0.join("\n"))]
    InvalidNames(Vec<String>),
    /// A location that does not exist while `failOnMissingLocations` is on.
    #[error("location {0} does not exist (failOnMissingLocations is on)")]
    MissingLocation(String),
    /// A bad `.sql.conf` file.
    #[error("{}: {message}", path.display())]
    ScriptConf {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn io(path: &Path, e: &std::io::Error) -> ResolveError {
    ResolveError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// Lists the files under `dir` in name order. Directory entries carry their type, so only
/// symbolic links cost an extra `stat` (this walk is most of `info`'s time over 1,000 files).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ResolveError> {
    let mut entries: Vec<(PathBuf, std::fs::FileType)> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, &e))?
        .map(|e| e.and_then(|e| Ok((e.path(), e.file_type()?))).map_err(|e| io(dir, &e)))
        .collect::<Result<_, _>>()?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, kind) in entries {
        let kind = if kind.is_symlink() {
            std::fs::metadata(&path).map_err(|e| io(&path, &e))?.file_type()
        } else {
            kind
        };
        if kind.is_dir() {
            walk(&path, out)?;
        } else if kind.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

fn read_overrides(path: &Path, files: &Files<'_>) -> Result<ScriptOverrides, ResolveError> {
    let conf = PathBuf::from(format!("{}.conf", path.display()));
    if !files.contains(&conf) {
        return Ok(ScriptOverrides::default());
    }
    let bytes = files.read(&conf)?;
    let text = String::from_utf8_lossy(&bytes);
    let bad = |message: String| ResolveError::ScriptConf {
        path: conf.clone(),
        message,
    };
    let mut overrides = ScriptOverrides::default();
    for (key, value, line) in properties::parse(&text).map_err(|e| bad(e.to_string()))? {
        let flag = || match value.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(bad(format!("line {line}: {key} must be true or false, got {value:?}"))),
        };
        match key.as_str() {
            "executeInTransaction" => overrides.execute_in_transaction = Some(flag()?),
            "placeholderReplacement" => overrides.placeholder_replacement = Some(flag()?),
            "encoding" if value.trim().eq_ignore_ascii_case("utf-8") || value.trim().eq_ignore_ascii_case("utf8") => {}
            "encoding" => {
                return Err(bad(format!(
                    "line {line}: only UTF-8 migrations are supported, got {value:?}"
                )));
            }
            "shouldExecute" if flag()? => {}
            "shouldExecute" => {
                return Err(bad(format!(
                    "line {line}: shouldExecute=false (Flyway Teams) is not supported; move the file out of the locations instead"
                )));
            }
            other => return Err(bad(format!("line {line}: unknown script setting {other}"))),
        }
    }
    Ok(overrides)
}

/// The files of one location: a directory walked on disk, or files compiled into the program.
enum Files<'a> {
    Disk(HashSet<PathBuf>),
    Embedded(&'a Path, &'a [EmbeddedFile]),
}

impl Files<'_> {
    /// Every file of `location` in name order (paths as they will be shown and recorded), or `None` when
    /// a directory location does not exist.
    fn list(location: &Location) -> Result<Option<(Files<'_>, Vec<PathBuf>)>, ResolveError> {
        if let Some(embedded) = location.embedded {
            let mut paths: Vec<PathBuf> = embedded.iter().map(|f| location.path.join(f.path)).collect();
            paths.sort();
            return Ok(Some((Files::Embedded(&location.path, embedded), paths)));
        }
        if !location.path.is_dir() {
            return Ok(None);
        }
        let mut paths = Vec::new();
        walk(&location.path, &mut paths)?;
        Ok(Some((Files::Disk(paths.iter().cloned().collect()), paths)))
    }

    fn contains(&self, path: &Path) -> bool {
        match self {
            Files::Disk(listed) => listed.contains(path),
            Files::Embedded(root, files) => files.iter().any(|f| root.join(f.path) == path),
        }
    }

    fn read(&self, path: &Path) -> Result<std::borrow::Cow<'static, [u8]>, ResolveError> {
        match self {
            Files::Disk(_) => std::fs::read(path).map(Into::into).map_err(|e| io(path, &e)),
            Files::Embedded(root, files) => files
                .iter()
                .find(|f| root.join(f.path) == path)
                .map(|f| f.contents.into())
                .ok_or_else(|| ResolveError::Io {
                    path: path.to_owned(),
                    message: "not among the embedded files".to_owned(),
                }),
        }
    }
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Finds every migration and callback in `locations`.
///
/// # Errors
/// [`ResolveError`] for unreadable files, non-UTF-8 files, duplicates, bad `.sql.conf` files,
/// and (when configured) bad names or missing locations.
pub fn resolve(
    locations: &[Location],
    naming: &NamingConfig,
    validate_naming: bool,
    fail_on_missing: bool,
) -> Result<Resolved, ResolveError> {
    let mut resolved = Resolved::default();
    let mut seen = HashSet::new();
    let mut invalid = Vec::new();
    for location in locations {
        let Some((listed, files)) = Files::list(location)? else {
            if fail_on_missing {
                return Err(ResolveError::MissingLocation(location.text.clone()));
            }
            resolved.warnings.push(format!(
                "location {} does not exist; no migrations there",
                location.text
            ));
            continue;
        };
        // Paths are deduplicated by their canonical form; canonicalizing the root once suffices.
        let root = match location.embedded {
            Some(_) => PathBuf::from(&location.text),
            None => std::fs::canonicalize(&location.path).unwrap_or_else(|_| location.path.clone()),
        };
        for path in files {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if strip_suffix(name, naming).is_none() {
                continue;
            }
            // The same file reached through two locations counts once.
            if !seen.insert(root.join(path.strip_prefix(&location.path).unwrap_or(&path))) {
                continue;
            }
            let parsed = parse_file_name(name, naming);
            let Some(parsed) = parsed else {
                invalid.push(format!(
                    "unrecognised migration name format: {} (skipped)",
                    path.display()
                ));
                continue;
            };
            if let ParsedName::Invalid(message) = parsed {
                invalid.push(format!("{message} (skipped)"));
                continue;
            }
            let bytes = listed.read(&path)?;
            let text = decode(&bytes)
                .map_err(|source| ResolveError::Encoding {
                    path: path.clone(),
                    source,
                })?
                .to_owned();
            let overrides = read_overrides(&path, &listed)?;
            let script = relative(&location.path, &path);
            match parsed {
                ParsedName::Migration {
                    kind,
                    version,
                    description,
                } => resolved.migrations.push(ResolvedMigration {
                    kind,
                    version,
                    description,
                    script,
                    checksum: checksum_text(&text),
                    equivalent_checksum: None,
                    path,
                    text,
                    overrides,
                }),
                ParsedName::Callback { event, description } => {
                    resolved.callbacks.push(ResolvedCallback {
                        event,
                        description,
                        script,
                        path,
                        text,
                        overrides,
                    });
                }
                ParsedName::Invalid(_) => unreachable!("handled above"),
            }
        }
    }
    if validate_naming && !invalid.is_empty() {
        return Err(ResolveError::InvalidNames(invalid));
    }
    resolved.warnings.extend(invalid);
    for callback in resolved.callbacks.iter().filter(|c| !c.event.is_supported()) {
        resolved.warnings.push(format!(
            "callback {} ({}) is not supported by pccdb and will not run",
            callback.script, callback.event
        ));
    }
    resolved.migrations.sort_by(|a, b| match (&a.version, &b.version) {
        (Some(x), Some(y)) => x.cmp(y).then(a.kind.cmp(&b.kind)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.description.cmp(&b.description),
    });
    resolved
        .callbacks
        .sort_by(|a, b| (a.event, &a.description, &a.script).cmp(&(b.event, &b.description, &b.script)));
    check_duplicates(&resolved.migrations)?;
    Ok(resolved)
}

fn check_duplicates(migrations: &[ResolvedMigration]) -> Result<(), ResolveError> {
    for pair in migrations.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let offenders = format!(
            "Offenders:\n-> {} ({})\n-> {} ({})",
            a.path.display(),
            a.kind.history_type(),
            b.path.display(),
            b.kind.history_type()
        );
        if a.version.is_some() && a.version == b.version && a.kind == b.kind {
            let v = a.version.as_ref().map(ToString::to_string).unwrap_or_default();
            return Err(ResolveError::Duplicate(format!(
                "found more than one migration with version {v} (versions compare numerically: 1, 1.0 and 001 are equal); \
                 give one of them a new version\n{offenders}"
            )));
        }
        if a.kind == MigrationKind::Repeatable && b.kind == MigrationKind::Repeatable && a.description == b.description
        {
            return Err(ResolveError::Duplicate(format!(
                "found more than one repeatable migration with description {:?}; rename one of them\n{offenders}",
                a.description
            )));
        }
    }
    Ok(())
}

/// What scripts are parsed with: placeholder values and parsing options of the session.
#[derive(Debug, Clone)]
pub struct ScriptContext {
    /// Placeholders, with the `flyway:*` built-ins.
    pub placeholders: Placeholders,
    /// Parsing options.
    pub options: ScriptOptions,
}

impl ScriptContext {
    fn placeholders_for(&self, path: &Path) -> Placeholders {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.placeholders.clone().with_builtin("filename", &name)
    }

    /// Turns a migration into a runnable script (placeholders, splitting, checks).
    ///
    /// # Errors
    /// [`ScriptError`] naming the file and line.
    pub fn script(&self, m: &ResolvedMigration) -> Result<Script, ScriptError> {
        let text = replace_placeholders(
            &m.text,
            &m.script,
            &self.placeholders_for(&m.path),
            &self.options,
            &m.overrides,
        )?;
        parse_script(text, &m.script, &self.options, &m.overrides)
    }

    /// Turns a callback into a runnable script.
    ///
    /// # Errors
    /// [`ScriptError`] naming the file and line.
    pub fn callback_script(&self, c: &ResolvedCallback) -> Result<Script, ScriptError> {
        let text = replace_placeholders(
            &c.text,
            &c.script,
            &self.placeholders_for(&c.path),
            &self.options,
            &c.overrides,
        )?;
        parse_script(text, &c.script, &self.options, &c.overrides)
    }
}

/// Computes the checksums of repeatable migrations after placeholder replacement (keeping the
/// raw one as the equivalent checksum), as Flyway does. Scripts are parsed later, and only
/// those that will run ([`ScriptContext::script`]).
pub fn prepare(resolved: &mut Resolved, context: &ScriptContext) {
    for m in resolved
        .migrations
        .iter_mut()
        .filter(|m| m.kind == MigrationKind::Repeatable)
    {
        let replaced = replace_placeholders(
            &m.text,
            &m.script,
            &context.placeholders_for(&m.path),
            &context.options,
            &m.overrides,
        );
        if let Ok(text) = replaced {
            m.equivalent_checksum = Some(checksum_text(&m.text));
            m.checksum = checksum_text(&text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn location(dir: &Path) -> Location {
        Location {
            path: dir.to_owned(),
            text: format!("filesystem:{}", dir.display()),
            embedded: None,
        }
    }

    fn run(dir: &Path) -> Result<Resolved, ResolveError> {
        resolve(&[location(dir)], &NamingConfig::default(), false, false)
    }

    #[test]
    fn migrations_are_found_recursively_and_ordered() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "b/V2__two.sql", "SELECT 2;");
        write(dir.path(), "a/V10__ten.sql", "SELECT 10;");
        write(dir.path(), "V1__one.sql", "SELECT 1;");
        write(dir.path(), "R__views.sql", "SELECT 'r';");
        write(dir.path(), "notes.txt", "not sql");
        let r = run(dir.path()).unwrap();
        let scripts: Vec<_> = r.migrations.iter().map(|m| m.script.as_str()).collect();
        assert_eq!(
            scripts,
            ["V1__one.sql", "b/V2__two.sql", "a/V10__ten.sql", "R__views.sql"]
        );
        assert_eq!(r.migrations[0].checksum, checksum_text("SELECT 1;"));
    }

    #[test]
    fn badly_named_files_are_skipped_with_a_warning_or_refused_when_validating_names() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "V1__ok.sql", "");
        write(dir.path(), "v2__lowercase.sql", "");
        write(dir.path(), "V3x__bad.sql", "");
        let r = run(dir.path()).unwrap();
        assert_eq!(r.migrations.len(), 1);
        assert_eq!(r.warnings.len(), 2);
        let err = resolve(&[location(dir.path())], &NamingConfig::default(), true, false).unwrap_err();
        assert!(matches!(err, ResolveError::InvalidNames(names) if names.len() == 2));
    }

    #[test]
    fn equal_versions_are_duplicates_naming_both_files() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "V1__a.sql", "");
        write(dir.path(), "sub/V1.0__b.sql", "");
        let err = run(dir.path()).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("more than one migration with version 1"), "{message}");
        assert!(
            message.contains("V1__a.sql") && message.contains("V1.0__b.sql"),
            "{message}"
        );
    }

    #[test]
    fn a_baseline_and_a_versioned_migration_may_share_a_version() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "V1__a.sql", "");
        write(dir.path(), "B1__a.sql", "");
        write(dir.path(), "U1__a.sql", "");
        assert_eq!(run(dir.path()).unwrap().migrations.len(), 3);
    }

    #[test]
    fn repeatables_with_one_description_are_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "R__views.sql", "");
        write(dir.path(), "x/R__views.sql", "");
        assert!(
            run(dir.path())
                .unwrap_err()
                .to_string()
                .contains("repeatable migration with description \"views\"")
        );
    }

    #[test]
    fn non_utf8_files_are_refused_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("V1__latin1.sql"), b"SELECT '\xe9';").unwrap();
        let err = run(dir.path()).unwrap_err();
        assert!(err.to_string().contains("V1__latin1.sql") && err.to_string().contains("UTF-8"));
    }

    #[test]
    fn script_conf_files_set_the_transaction_mode() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "V1__a.sql", "VACUUM;");
        write(dir.path(), "V1__a.sql.conf", "executeInTransaction=false\n");
        let r = run(dir.path()).unwrap();
        assert_eq!(r.migrations[0].overrides.execute_in_transaction, Some(false));
        write(dir.path(), "V1__a.sql.conf", "executeInTransactions=false\n");
        assert!(
            run(dir.path())
                .unwrap_err()
                .to_string()
                .contains("unknown script setting executeInTransactions")
        );
    }

    #[test]
    fn callbacks_are_separated_and_unsupported_ones_reported() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "afterMigrate__grants.sql", "SELECT 1;");
        write(dir.path(), "beforeUndo.sql", "SELECT 1;");
        let r = run(dir.path()).unwrap();
        assert!(r.migrations.is_empty());
        assert_eq!(r.callbacks.len(), 2);
        assert!(r.warnings.iter().any(|w| w.contains("beforeUndo")));
    }

    #[test]
    fn missing_locations_warn_or_fail() {
        let missing = Location {
            path: "/nonexistent/migrations".into(),
            text: "filesystem:/nonexistent/migrations".into(),
            embedded: None,
        };
        assert_eq!(
            resolve(std::slice::from_ref(&missing), &NamingConfig::default(), false, false)
                .unwrap()
                .warnings
                .len(),
            1
        );
        assert!(resolve(&[missing], &NamingConfig::default(), false, true).is_err());
    }

    #[test]
    fn repeatable_checksums_follow_placeholder_values_and_keep_the_raw_one() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "R__grants.sql", "GRANT SELECT ON t TO ${reader};");
        write(
            dir.path(),
            "V1__t.sql",
            "CREATE TABLE t (owner text DEFAULT '${reader}');",
        );
        let mut r = run(dir.path()).unwrap();
        let raw_v1 = r.migrations[0].checksum;
        let mut placeholders = Placeholders::default();
        placeholders.insert("reader", "app_reader");
        let context = ScriptContext {
            placeholders,
            options: ScriptOptions::default(),
        };
        prepare(&mut r, &context);
        assert_eq!(
            r.migrations[0].checksum, raw_v1,
            "versioned checksums are of the raw file"
        );
        let rep = &r.migrations[1];
        assert_eq!(rep.checksum, checksum_text("GRANT SELECT ON t TO app_reader;"));
        assert_eq!(
            rep.equivalent_checksum,
            Some(checksum_text("GRANT SELECT ON t TO ${reader};"))
        );
        assert!(context.script(rep).is_ok());
    }

    #[test]
    fn script_errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "V1__db.sql", "CREATE DATABASE x;\n\\c x\n");
        let r = run(dir.path()).unwrap();
        let context = ScriptContext {
            placeholders: Placeholders::default(),
            options: ScriptOptions::default(),
        };
        assert!(matches!(
            context.script(&r.migrations[0]),
            Err(ScriptError::Connect { line: 2, .. })
        ));
    }

    #[test]
    fn the_filename_placeholder_is_the_files_own_name() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "sub/V1__x.sql", "SELECT '${flyway:filename}';");
        let r = run(dir.path()).unwrap();
        let context = ScriptContext {
            placeholders: Placeholders::default(),
            options: ScriptOptions::default(),
        };
        let script = context.script(&r.migrations[0]).unwrap();
        assert_eq!(script.statements[0].text, "SELECT 'V1__x.sql'");
    }

    #[test]
    fn embedded_files_resolve_exactly_as_the_same_files_on_disk() {
        const FILES: &[EmbeddedFile] = &[
            EmbeddedFile {
                path: "V1__first.sql",
                contents: b"\xEF\xBB\xBFCREATE TABLE a (x int);\r\n",
            },
            EmbeddedFile {
                path: "sub/V2__second.sql",
                contents: b"CREATE INDEX CONCURRENTLY i ON a (x);",
            },
            EmbeddedFile {
                path: "sub/V2__second.sql.conf",
                contents: b"executeInTransaction=false\n",
            },
            EmbeddedFile {
                path: "R__view.sql",
                contents: b"CREATE OR REPLACE VIEW v AS SELECT 1;",
            },
            EmbeddedFile {
                path: "beforeMigrate.sql",
                contents: b"SELECT 1;",
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        for file in FILES {
            write(dir.path(), file.path, std::str::from_utf8(file.contents).unwrap());
        }
        let on_disk = run(dir.path()).unwrap();
        let embedded = resolve(
            &[Location::embedded("client_api", FILES)],
            &NamingConfig::default(),
            true,
            true,
        )
        .unwrap();
        let facts = |r: &Resolved| {
            r.migrations
                .iter()
                .map(|m| {
                    (
                        m.script.clone(),
                        m.checksum,
                        m.description.clone(),
                        m.overrides.clone(),
                        m.text.clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(facts(&embedded), facts(&on_disk));
        assert_eq!(embedded.migrations.len(), 3);
        assert_eq!(embedded.callbacks.len(), 1);
        assert_eq!(embedded.migrations[1].overrides.execute_in_transaction, Some(false));
    }
}
