//! A configuration layer: Flyway settings from one source (a file, the environment, the command
//! line, or a platform manifest), keyed by Flyway's camelCase names (`defaultSchema`,
//! `postgresql.transactional.lock`, `placeholders.owner`). Unknown keys are rejected where they
//! are read, so a typo never goes unnoticed.

use std::collections::BTreeMap;
use std::fmt;

use super::ConfigError;

/// Whether a key takes one value or a comma-separated list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One value.
    Single,
    /// A list (comma-separated in .conf files, the environment and flags; an array in TOML).
    List,
}

/// Every Flyway setting pccdb understands: (name, shape).
pub const KEYS: &[(&str, Shape)] = &[
    ("url", Shape::Single),
    ("user", Shape::Single),
    ("password", Shape::Single),
    ("environment", Shape::Single),
    ("locations", Shape::List),
    ("schemas", Shape::List),
    ("defaultSchema", Shape::Single),
    ("table", Shape::Single),
    ("tablespace", Shape::Single),
    ("initSql", Shape::Single),
    ("installedBy", Shape::Single),
    ("baselineVersion", Shape::Single),
    ("baselineDescription", Shape::Single),
    ("baselineOnMigrate", Shape::Single),
    ("validateOnMigrate", Shape::Single),
    ("cleanDisabled", Shape::Single),
    ("outOfOrder", Shape::Single),
    ("target", Shape::Single),
    ("mixed", Shape::Single),
    ("group", Shape::Single),
    ("executeInTransaction", Shape::Single),
    ("createSchemas", Shape::Single),
    ("placeholderReplacement", Shape::Single),
    ("placeholderPrefix", Shape::Single),
    ("placeholderSuffix", Shape::Single),
    ("sqlMigrationPrefix", Shape::Single),
    ("repeatableSqlMigrationPrefix", Shape::Single),
    ("baselineMigrationPrefix", Shape::Single),
    ("undoSqlMigrationPrefix", Shape::Single),
    ("sqlMigrationSeparator", Shape::Single),
    ("sqlMigrationSuffixes", Shape::List),
    ("ignoreMigrationPatterns", Shape::List),
    ("validateMigrationNaming", Shape::Single),
    ("lockRetryCount", Shape::Single),
    ("postgresql.transactional.lock", Shape::Single),
    ("encoding", Shape::Single),
    ("connectRetries", Shape::Single),
    ("connectRetriesInterval", Shape::Single),
    ("failOnMissingLocations", Shape::Single),
];

/// Flyway settings that are valid in shared Flyway configuration but mean nothing to pccdb
/// (Java drivers and classes, licensing, output formatting): accepted with a warning.
pub const IGNORED_KEYS: &[&str] = &[
    "driver",
    "jarDirs",
    "licenseKey",
    "outputType",
    "outputFile",
    "color",
    "loggers",
    "callbacks",
    "resolvers",
    "skipDefaultResolvers",
    "skipDefaultCallbacks",
    "javaMigrationClassProvider",
    "resourceProvider",
    "reportEnabled",
    "reportFilename",
    "provisioner",
    "jdbcProperties",
    "connectRetriesTimeout",
];

fn is_ignored(key: &str) -> bool {
    IGNORED_KEYS
        .iter()
        .any(|k| key == *k || key.strip_prefix(k).is_some_and(|rest| rest.starts_with('.')))
}

/// Keys whose values never appear in Debug output or messages.
fn is_secret(key: &str) -> bool {
    matches!(key, "url" | "password") || key.starts_with("jdbcProperties.")
}

/// Looks a key up (case-sensitive, like Flyway); `placeholders.<name>` is open-ended.
pub fn shape_of(key: &str) -> Option<Shape> {
    if key.strip_prefix("placeholders.").is_some_and(|name| !name.is_empty()) {
        return Some(Shape::Single);
    }
    KEYS.iter().find(|(k, _)| *k == key).map(|(_, s)| *s)
}

/// A value with the source it came from (for error messages).
#[derive(Clone, PartialEq, Eq)]
pub struct Value {
    /// One value, or the items of a list.
    pub items: Vec<String>,
    /// Where it was set (`flyway.toml [environments.dev]`, `FLYWAY_URL`, `--target`).
    pub source: String,
    secret: bool,
}

impl Value {
    /// The single value (the first item; lists are joined with commas).
    pub fn text(&self) -> String {
        self.items.join(",")
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.secret {
            write!(f, "[REDACTED] from {}", self.source)
        } else {
            write!(f, "{:?} from {}", self.items, self.source)
        }
    }
}

/// Settings from one source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigLayer {
    values: BTreeMap<String, Value>,
    /// Known Flyway keys that pccdb ignores, seen in this layer.
    pub ignored: Vec<String>,
}

impl ConfigLayer {
    /// An empty layer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` from `text` (a list is split at commas), recording `source`.
    ///
    /// # Errors
    /// [`ConfigError::UnknownKey`] for a key Flyway does not have.
    pub fn set(&mut self, key: &str, text: &str, source: &str) -> Result<(), ConfigError> {
        match shape_of(key) {
            Some(Shape::List) => {
                let items = text
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                self.set_items(key, items, source)
            }
            Some(Shape::Single) => self.set_items(key, vec![text.to_owned()], source),
            None if is_ignored(key) => {
                self.ignored.push(format!(
                    "{key} (from {source}) is a Flyway setting pccdb does not use; ignored"
                ));
                Ok(())
            }
            None => Err(ConfigError::UnknownKey {
                key: key.to_owned(),
                origin: source.to_owned(),
            }),
        }
    }

    /// Sets a list (or single) `key` from already separated items.
    ///
    /// # Errors
    /// [`ConfigError::UnknownKey`] for a key Flyway does not have.
    pub fn set_items(&mut self, key: &str, items: Vec<String>, source: &str) -> Result<(), ConfigError> {
        if shape_of(key).is_none() {
            return Err(ConfigError::UnknownKey {
                key: key.to_owned(),
                origin: source.to_owned(),
            });
        }
        let key = match key.strip_prefix("placeholders.") {
            Some(name) => format!("placeholders.{}", name.to_lowercase()),
            None => key.to_owned(),
        };
        let value = Value {
            items,
            source: source.to_owned(),
            secret: is_secret(&key),
        };
        self.values.insert(key, value);
        Ok(())
    }

    /// The value of `key`, if set here.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    /// Every key set here.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.values.iter()
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Lays `other` over `self`: its keys win.
    pub fn overlay(&mut self, other: &ConfigLayer) {
        for (k, v) in &other.values {
            self.values.insert(k.clone(), v.clone());
        }
        self.ignored.extend(other.ignored.iter().cloned());
    }
}

/// Flyway's environment-variable name for a key: `defaultSchema` -> `FLYWAY_DEFAULT_SCHEMA`,
/// `postgresql.transactional.lock` -> `FLYWAY_POSTGRESQL_TRANSACTIONAL_LOCK`.
pub fn env_name(key: &str) -> String {
    let mut out = String::from("FLYWAY_");
    for c in key.chars() {
        match c {
            '.' => out.push('_'),
            c if c.is_ascii_uppercase() => {
                out.push('_');
                out.push(c);
            }
            c => out.push(c.to_ascii_uppercase()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_names_follow_flyways_convention() {
        assert_eq!(env_name("url"), "FLYWAY_URL");
        assert_eq!(env_name("defaultSchema"), "FLYWAY_DEFAULT_SCHEMA");
        assert_eq!(env_name("baselineOnMigrate"), "FLYWAY_BASELINE_ON_MIGRATE");
        assert_eq!(
            env_name("postgresql.transactional.lock"),
            "FLYWAY_POSTGRESQL_TRANSACTIONAL_LOCK"
        );
        assert_eq!(env_name("lockRetryCount"), "FLYWAY_LOCK_RETRY_COUNT");
    }

    #[test]
    fn lists_split_at_commas_and_singles_do_not() {
        let mut layer = ConfigLayer::new();
        layer.set("schemas", " app, audit ,", "test").unwrap();
        layer.set("initSql", "SET ROLE a, b", "test").unwrap();
        assert_eq!(layer.get("schemas").unwrap().items, ["app", "audit"]);
        assert_eq!(layer.get("initSql").unwrap().items, ["SET ROLE a, b"]);
    }

    #[test]
    fn unknown_keys_are_errors_naming_key_and_source() {
        let err = ConfigLayer::new()
            .set("baselineOnMigrat", "true", "flyway.conf")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown configuration property baselineOnMigrat (in flyway.conf)"
        );
    }

    #[test]
    fn flyway_settings_pccdb_does_not_use_are_accepted_with_a_warning() {
        let mut layer = ConfigLayer::new();
        layer.set("licenseKey", "FL01...", "flyway.conf").unwrap();
        assert!(layer.is_empty());
        assert_eq!(layer.ignored.len(), 1);
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let mut layer = ConfigLayer::new();
        layer.set("password", "hunter2", "FLYWAY_PASSWORD").unwrap();
        layer.set("url", "postgresql://u:hunter2@h/db", "FLYWAY_URL").unwrap();
        assert!(!format!("{layer:?}").contains("hunter2"));
    }

    #[test]
    fn placeholder_names_are_case_insensitive_and_later_layers_win() {
        let mut base = ConfigLayer::new();
        base.set("placeholders.Owner", "a", "file").unwrap();
        let mut top = ConfigLayer::new();
        top.set("placeholders.owner", "b", "env").unwrap();
        base.overlay(&top);
        assert_eq!(base.get("placeholders.owner").unwrap().text(), "b");
    }
}
