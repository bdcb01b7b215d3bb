//! Merging layers in Flyway's precedence and turning the winning values into a typed [`Config`].

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::layer::ConfigLayer;
use super::sources::{FileLayer, read_file};
use super::{Config, ConfigError};
use crate::name::NamingConfig;
use crate::plan::patterns::IgnorePatterns;
use crate::version::{MigrationVersion, Target};

/// Every source of configuration, lowest precedence first.
#[derive(Debug, Clone, Default)]
pub struct ConfigSources {
    /// Configuration files, in the order read (later files win).
    pub files: Vec<FileLayer>,
    /// Layers above the files and below the environment (the platform manifest).
    pub platform: Vec<ConfigLayer>,
    /// `FLYWAY_*` variables.
    pub env: ConfigLayer,
    /// Command-line flags.
    pub cli: ConfigLayer,
    /// Warnings collected while reading sources.
    pub warnings: Vec<String>,
}

impl ConfigSources {
    /// Reads `files` (see [`default_files`] for Flyway's default list).
    ///
    /// # Errors
    /// [`ConfigError`] for the first unreadable or invalid file.
    pub fn read_files(files: &[PathBuf], env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<FileLayer>, ConfigError> {
        files.iter().map(|f| read_file(f, env)).collect()
    }
}

/// Flyway's default configuration files that exist: `~/flyway.toml`, `~/flyway.conf`,
/// `./flyway.toml`, `./flyway.conf` (later ones win).
pub fn default_files(home: Option<&Path>, cwd: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<&Path> = home.into_iter().collect();
    if home != Some(cwd) {
        dirs.push(cwd);
    }
    dirs.iter()
        .flat_map(|d| [d.join("flyway.toml"), d.join("flyway.conf")])
        .filter(|p| p.is_file())
        .collect()
}

/// A migration location: a directory (`filesystem:<path>`), or files compiled into the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The directory (for embedded files, the prefix their paths are shown under).
    pub path: PathBuf,
    /// As configured.
    pub text: String,
    /// Files built into the program instead of a directory (Flyway's `classpath:` plays this role for a
    /// jar): a service binary carries its own migrations, so it runs from any directory.
    pub embedded: Option<&'static [EmbeddedFile]>,
}

/// One migration (or `.conf`, or callback) file compiled into a program, e.g. by a build script with
/// `include_bytes!`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedFile {
    /// Its path relative to the location root, `/`-separated (`V1__init.sql`, `sub/V2__more.sql`): what
    /// the history table records as `script`, exactly as for the same file on disk.
    pub path: &'static str,
    /// Its bytes.
    pub contents: &'static [u8],
}

impl Location {
    /// Parses `filesystem:<path>` or a bare path.
    ///
    /// # Errors
    /// [`ConfigError::UnsupportedLocation`] for `classpath:`, `s3:`, `gcs:` and other schemes.
    pub fn parse(text: &str, source: &str) -> Result<Self, ConfigError> {
        let path = match text.split_once(':') {
            Some(("filesystem", path)) => path,
            // A Windows drive letter is no scheme.
            Some((scheme, _)) if scheme.len() > 1 => {
                return Err(ConfigError::UnsupportedLocation {
                    location: text.to_owned(),
                    origin: source.to_owned(),
                });
            }
            _ => text,
        };
        Ok(Self {
            path: PathBuf::from(path),
            text: text.to_owned(),
            embedded: None,
        })
    }

    /// Files compiled into the program, shown as `embedded:<name>` (e.g. `embedded:client_api`).
    pub fn embedded(name: &str, files: &'static [EmbeddedFile]) -> Self {
        Self {
            path: PathBuf::from(name),
            text: format!("embedded:{name}"),
            embedded: Some(files),
        }
    }
}

struct Merged {
    layer: ConfigLayer,
}

impl Merged {
    fn text(&self, key: &str) -> Option<(String, String)> {
        self.layer.get(key).map(|v| (v.text(), v.source.clone()))
    }

    fn string(&self, key: &str, default: &str) -> String {
        self.text(key).map_or_else(|| default.to_owned(), |(t, _)| t)
    }

    fn opt(&self, key: &str) -> Option<String> {
        self.text(key).map(|(t, _)| t).filter(|t| !t.is_empty())
    }

    fn items(&self, key: &str) -> Option<(Vec<String>, String)> {
        self.layer.get(key).map(|v| (v.items.clone(), v.source.clone()))
    }

    fn parse<T>(&self, key: &str, default: T, what: &str, f: impl Fn(&str) -> Option<T>) -> Result<T, ConfigError> {
        match self.text(key) {
            None => Ok(default),
            Some((text, source)) => f(text.trim()).ok_or_else(|| ConfigError::Invalid {
                key: key.to_owned(),
                origin: source,
                message: format!("expected {what}, got {text:?}"),
            }),
        }
    }

    fn bool(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        self.parse(key, default, "true or false", |t| {
            match t.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            }
        })
    }

    fn invalid(&self, key: &str, message: String) -> ConfigError {
        let source = self.text(key).map_or_else(String::new, |(_, s)| s);
        ConfigError::Invalid {
            key: key.to_owned(),
            origin: source,
            message,
        }
    }
}

fn chosen_environment(sources: &ConfigSources) -> (String, bool) {
    let explicit = [&sources.cli, &sources.env]
        .into_iter()
        .chain(sources.platform.iter().rev())
        .chain(sources.files.iter().rev().map(|f| &f.flyway))
        .find_map(|l| l.get("environment").map(super::layer::Value::text));
    match explicit {
        Some(name) => (name, true),
        None => ("default".to_owned(), false),
    }
}

/// Merges the layers and applies defaults.
pub(super) fn resolve(sources: &ConfigSources) -> Result<Config, ConfigError> {
    let (environment, explicit) = chosen_environment(sources);
    if explicit && !sources.files.iter().any(|f| f.environments.contains_key(&environment)) && !sources.files.is_empty()
    {
        return Err(ConfigError::UnknownEnvironment(environment));
    }
    let mut layer = ConfigLayer::new();
    for file in &sources.files {
        layer.overlay(&file.flyway);
        if let Some(env) = file.environments.get(&environment) {
            layer.overlay(env);
        }
    }
    for platform in &sources.platform {
        layer.overlay(platform);
    }
    layer.overlay(&sources.env);
    layer.overlay(&sources.cli);
    let m = Merged { layer };

    let locations = match m.items("locations") {
        Some((items, source)) => items
            .iter()
            .map(|t| Location::parse(t, &source))
            .collect::<Result<Vec<_>, _>>()?,
        None => vec![Location::parse("filesystem:sql", "default")?],
    };
    let baseline_version = m.parse(
        "baselineVersion",
        MigrationVersion::parse("1").expect("valid"),
        "a version",
        |t| MigrationVersion::parse(t).ok(),
    )?;
    let target = m.parse("target", Target::Latest, "latest, current, next or a version", |t| {
        Target::parse(t).ok()
    })?;
    let ignore_migration_patterns = match m.items("ignoreMigrationPatterns") {
        Some((items, _)) => {
            IgnorePatterns::parse(&items.join(",")).map_err(|e| m.invalid("ignoreMigrationPatterns", e.to_string()))?
        }
        None => IgnorePatterns::default(),
    };
    let encoding = m.string("encoding", "UTF-8");
    if !matches!(encoding.to_ascii_uppercase().replace('-', "").as_str(), "UTF8") {
        return Err(m.invalid(
            "encoding",
            format!("only UTF-8 migrations are supported, got {encoding:?}"),
        ));
    }
    let naming = NamingConfig {
        versioned_prefix: m.string("sqlMigrationPrefix", "V"),
        repeatable_prefix: m.string("repeatableSqlMigrationPrefix", "R"),
        baseline_prefix: m.string("baselineMigrationPrefix", "B"),
        undo_prefix: m.string("undoSqlMigrationPrefix", "U"),
        separator: m.string("sqlMigrationSeparator", "__"),
        suffixes: m
            .items("sqlMigrationSuffixes")
            .map_or_else(|| vec![".sql".to_owned()], |(items, _)| items),
    };
    if naming.separator.is_empty() {
        return Err(m.invalid("sqlMigrationSeparator", "the separator cannot be empty".into()));
    }
    let placeholders = m
        .layer
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("placeholders.").map(|name| (name.to_owned(), v.text())))
        .collect();
    let mut warnings = sources.warnings.clone();
    warnings.extend(m.layer.ignored.iter().cloned());
    Ok(Config {
        url: m.opt("url").map(SecretString::from),
        user: m.opt("user"),
        password: m.text("password").map(|(t, _)| SecretString::from(t)),
        environment,
        locations,
        schemas: m.items("schemas").map(|(items, _)| items).unwrap_or_default(),
        default_schema: m.opt("defaultSchema"),
        table: m.string("table", "flyway_schema_history"),
        tablespace: m.opt("tablespace"),
        init_sql: m.opt("initSql"),
        installed_by: m.opt("installedBy"),
        baseline_version,
        baseline_description: m.string("baselineDescription", "<< Flyway Baseline >>"),
        baseline_on_migrate: m.bool("baselineOnMigrate", false)?,
        validate_on_migrate: m.bool("validateOnMigrate", true)?,
        clean_disabled: m.bool("cleanDisabled", true)?,
        out_of_order: m.bool("outOfOrder", false)?,
        target,
        mixed: m.bool("mixed", false)?,
        group: m.bool("group", false)?,
        execute_in_transaction: m.bool("executeInTransaction", true)?,
        create_schemas: m.bool("createSchemas", true)?,
        placeholder_replacement: m.bool("placeholderReplacement", true)?,
        placeholder_prefix: m.string("placeholderPrefix", "${"),
        placeholder_suffix: m.string("placeholderSuffix", "}"),
        placeholders,
        naming,
        ignore_migration_patterns,
        validate_migration_naming: m.bool("validateMigrationNaming", false)?,
        lock_retry_count: m.parse("lockRetryCount", 50, "an integer (-1 waits forever)", |t| {
            t.parse::<i32>().ok().filter(|n| *n >= -1)
        })?,
        transactional_lock: m.bool("postgresql.transactional.lock", true)?,
        connect_retries: m.parse("connectRetries", 0, "a non-negative integer", |t| t.parse().ok())?,
        connect_retries_interval: m.parse("connectRetriesInterval", 120, "a non-negative integer", |t| {
            t.parse().ok()
        })?,
        fail_on_missing_locations: m.bool("failOnMissingLocations", false)?,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::sources::{env_layer, parse_conf, parse_toml};
    use secrecy::ExposeSecret;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn cli(pairs: &[(&str, &str)]) -> ConfigLayer {
        let mut layer = ConfigLayer::new();
        for (k, v) in pairs {
            layer.set(k, v, &format!("--{k}")).unwrap();
        }
        layer
    }

    #[test]
    fn defaults_are_flyways() {
        let c = Config::defaults();
        assert_eq!(c.table, "flyway_schema_history");
        assert_eq!(c.baseline_version.as_str(), "1");
        assert_eq!(c.baseline_description, "<< Flyway Baseline >>");
        assert!(c.clean_disabled && c.validate_on_migrate && c.create_schemas && c.execute_in_transaction);
        assert!(!c.baseline_on_migrate && !c.out_of_order && !c.mixed && !c.group);
        assert_eq!(c.target, Target::Latest);
        assert_eq!(c.lock_retry_count, 50);
        assert_eq!(c.locations, [Location::parse("filesystem:sql", "").unwrap()]);
        assert_eq!(c.ignore_migration_patterns, IgnorePatterns::default());
    }

    #[test]
    fn command_line_beats_environment_beats_platform_beats_files() {
        let file = parse_conf(
            "flyway.table=from_file\nflyway.target=1\nflyway.schemas=f\nflyway.mixed=true",
            "f.conf",
            &no_env,
        )
        .unwrap();
        let mut platform = ConfigLayer::new();
        platform.set("schemas", "p", "manifest").unwrap();
        platform.set("target", "2", "manifest").unwrap();
        let (env, _) = env_layer([
            ("FLYWAY_TARGET".to_owned(), "3".to_owned()),
            ("FLYWAY_TABLE".to_owned(), "from_env".to_owned()),
        ])
        .unwrap();
        let sources = ConfigSources {
            files: vec![file],
            platform: vec![platform],
            env,
            cli: cli(&[("table", "from_cli")]),
            warnings: vec![],
        };
        let c = Config::resolve(&sources).unwrap();
        assert_eq!(c.table, "from_cli");
        assert_eq!(c.target, Target::parse("3").unwrap());
        assert_eq!(c.schemas, ["p"]);
        assert!(c.mixed);
    }

    #[test]
    fn the_chosen_toml_environment_supplies_connection_settings() {
        let text = "[environments.default]\nurl = \"postgresql://a/db\"\n[environments.prod]\nurl = \"postgresql://p/db\"\nuser = \"flyway_user\"\n[flyway]\nenvironment = \"prod\"\n";
        let file = parse_toml(text, "flyway.toml", &no_env).unwrap();
        let sources = ConfigSources {
            files: vec![file.clone()],
            ..ConfigSources::default()
        };
        let c = Config::resolve(&sources).unwrap();
        assert_eq!(c.environment, "prod");
        assert_eq!(c.url.unwrap().expose_secret(), "postgresql://p/db");
        let by_flag = ConfigSources {
            files: vec![file.clone()],
            cli: cli(&[("environment", "default")]),
            ..ConfigSources::default()
        };
        assert_eq!(
            Config::resolve(&by_flag).unwrap().url.unwrap().expose_secret(),
            "postgresql://a/db"
        );
        let unknown = ConfigSources {
            files: vec![file],
            cli: cli(&[("environment", "qa")]),
            ..ConfigSources::default()
        };
        assert_eq!(
            Config::resolve(&unknown).unwrap_err(),
            ConfigError::UnknownEnvironment("qa".into())
        );
    }

    #[test]
    fn later_files_win_over_earlier_ones() {
        let home = parse_conf("flyway.table=home\nflyway.mixed=true", "~/flyway.conf", &no_env).unwrap();
        let here = parse_toml("[flyway]\ntable = \"here\"", "./flyway.toml", &no_env).unwrap();
        let c = Config::resolve(&ConfigSources {
            files: vec![home, here],
            ..ConfigSources::default()
        })
        .unwrap();
        assert_eq!(c.table, "here");
        assert!(c.mixed);
    }

    #[test]
    fn bad_values_name_the_key_and_the_source() {
        let (env, _) = env_layer([("FLYWAY_OUT_OF_ORDER".to_owned(), "maybe".to_owned())]).unwrap();
        let err = Config::resolve(&ConfigSources {
            env,
            ..ConfigSources::default()
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value for outOfOrder (from FLYWAY_OUT_OF_ORDER): expected true or false, got \"maybe\""
        );
        let err = Config::resolve(&ConfigSources {
            cli: cli(&[("target", "v2")]),
            ..ConfigSources::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("--target"));
        let err = Config::resolve(&ConfigSources {
            cli: cli(&[("ignoreMigrationPatterns", "*:later")]),
            ..ConfigSources::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("ignoreMigrationPatterns"));
    }

    #[test]
    fn locations_accept_filesystem_and_bare_paths_but_not_classpath() {
        let c = Config::resolve(&ConfigSources {
            cli: cli(&[("locations", "filesystem:a,b/c")]),
            ..ConfigSources::default()
        })
        .unwrap();
        assert_eq!(
            c.locations.iter().map(|l| l.path.clone()).collect::<Vec<_>>(),
            [PathBuf::from("a"), PathBuf::from("b/c")]
        );
        let err = Config::resolve(&ConfigSources {
            cli: cli(&[("locations", "classpath:db/migration")]),
            ..ConfigSources::default()
        })
        .unwrap_err();
        assert!(matches!(err, ConfigError::UnsupportedLocation { .. }));
    }

    #[test]
    fn only_utf8_encoding_is_accepted() {
        assert!(
            Config::resolve(&ConfigSources {
                cli: cli(&[("encoding", "utf-8")]),
                ..ConfigSources::default()
            })
            .is_ok()
        );
        assert!(
            Config::resolve(&ConfigSources {
                cli: cli(&[("encoding", "ISO-8859-1")]),
                ..ConfigSources::default()
            })
            .is_err()
        );
    }

    #[test]
    fn default_files_are_home_then_working_directory() {
        let home = tempfile::tempdir().unwrap();
        let cwd = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("flyway.conf"), "").unwrap();
        std::fs::write(cwd.path().join("flyway.toml"), "").unwrap();
        std::fs::write(cwd.path().join("flyway.conf"), "").unwrap();
        let files = default_files(Some(home.path()), cwd.path());
        assert_eq!(
            files,
            [
                home.path().join("flyway.conf"),
                cwd.path().join("flyway.toml"),
                cwd.path().join("flyway.conf")
            ]
        );
    }
}
