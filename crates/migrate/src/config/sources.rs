//! Reading layers from their sources: `flyway.toml` (`[flyway]` and `[environments.<name>]`),
//! legacy `flyway.conf` (`flyway.<key>=value`), and `FLYWAY_*` environment variables.
//! `${env.NAME}` in a file value is replaced by that environment variable, as in Flyway.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::ConfigError;
use super::layer::{ConfigLayer, KEYS, env_name};
use super::properties;

/// One configuration file: its `[flyway]` settings and its environments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileLayer {
    /// The file.
    pub path: PathBuf,
    /// `[flyway]` (or every `flyway.*` key of a .conf file).
    pub flyway: ConfigLayer,
    /// `[environments.<name>]`.
    pub environments: BTreeMap<String, ConfigLayer>,
}

/// Looks an environment variable up (a function so tests need not touch the process).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

fn expand_env_refs(text: &str, env: EnvLookup<'_>, source: &str) -> Result<String, ConfigError> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${env.") {
        let after = &rest[start + 6..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        let value = env(name).ok_or_else(|| ConfigError::MissingEnv {
            name: name.to_owned(),
            origin: source.to_owned(),
        })?;
        out.push_str(&rest[..start]);
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Reads a `flyway.toml` or `flyway.conf` file (by extension: `.toml` is TOML, anything else is .conf).
///
/// # Errors
/// [`ConfigError`] for unreadable files, syntax errors and unknown keys.
pub fn read_file(path: &Path, env: EnvLookup<'_>) -> Result<FileLayer, ConfigError> {
    let text = read(path)?;
    let mut layer = if path.extension().is_some_and(|e| e == "toml") {
        parse_toml(&text, &path.display().to_string(), env)?
    } else {
        parse_conf(&text, &path.display().to_string(), env)?
    };
    layer.path = path.to_owned();
    Ok(layer)
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            // `placeholders` and `postgresql` are tables of settings; arrays stay values.
            toml::Value::Table(inner) => flatten(&key, inner, out),
            other => out.push((key, other.clone())),
        }
    }
}

fn toml_items(value: &toml::Value, key: &str, source: &str) -> Result<Vec<String>, ConfigError> {
    let scalar = |v: &toml::Value| match v {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        _ => Err(ConfigError::Invalid {
            key: key.to_owned(),
            origin: source.to_owned(),
            message: "expected a string, number or boolean".into(),
        }),
    };
    match value {
        toml::Value::Array(items) => items.iter().map(scalar).collect(),
        other => Ok(vec![scalar(other)?]),
    }
}

fn toml_layer(table: &toml::Table, source: &str, env: EnvLookup<'_>) -> Result<ConfigLayer, ConfigError> {
    let mut entries = Vec::new();
    flatten("", table, &mut entries);
    let mut layer = ConfigLayer::new();
    for (key, value) in entries {
        let items = toml_items(&value, &key, source)?
            .into_iter()
            .map(|item| expand_env_refs(&item, env, source))
            .collect::<Result<Vec<_>, _>>()?;
        if super::layer::shape_of(&key).is_some() {
            layer.set_items(&key, items, source)?;
        } else {
            layer.set(&key, &items.join(","), source)?;
        }
    }
    Ok(layer)
}

/// Parses `flyway.toml` text.
///
/// # Errors
/// [`ConfigError`] for TOML syntax errors, unknown top-level tables and unknown keys.
pub fn parse_toml(text: &str, name: &str, env: EnvLookup<'_>) -> Result<FileLayer, ConfigError> {
    let root: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Syntax {
        path: name.to_owned(),
        message: e.to_string(),
    })?;
    let mut file = FileLayer::default();
    for (section, value) in &root {
        let toml::Value::Table(table) = value else {
            return Err(ConfigError::UnknownKey {
                key: section.clone(),
                origin: name.to_owned(),
            });
        };
        match section.as_str() {
            "flyway" => file.flyway = toml_layer(table, &format!("{name} [flyway]"), env)?,
            "environments" => {
                for (env_name, env_table) in table {
                    let toml::Value::Table(env_table) = env_table else {
                        return Err(ConfigError::UnknownKey {
                            key: format!("environments.{env_name}"),
                            origin: name.to_owned(),
                        });
                    };
                    let source = format!("{name} [environments.{env_name}]");
                    file.environments
                        .insert(env_name.clone(), toml_layer(env_table, &source, env)?);
                }
            }
            other => {
                return Err(ConfigError::UnknownKey {
                    key: other.to_owned(),
                    origin: name.to_owned(),
                });
            }
        }
    }
    Ok(file)
}

/// Parses legacy `flyway.conf` text (`flyway.<key>=value`).
///
/// # Errors
/// [`ConfigError`] for syntax errors and unknown keys.
pub fn parse_conf(text: &str, name: &str, env: EnvLookup<'_>) -> Result<FileLayer, ConfigError> {
    let entries = properties::parse(text).map_err(|e| ConfigError::Syntax {
        path: name.to_owned(),
        message: e.to_string(),
    })?;
    let mut file = FileLayer::default();
    for (key, value, line) in entries {
        let source = format!("{name}:{line}");
        let Some(key) = key.strip_prefix("flyway.") else {
            return Err(ConfigError::UnknownKey { key, origin: source });
        };
        let value = expand_env_refs(&value, env, &source)?;
        file.flyway.set(key, &value, &source)?;
    }
    Ok(file)
}

/// Builds the layer of `FLYWAY_*` variables. Unknown `FLYWAY_*` names are returned as warnings
/// (the environment is shared with other tools, so they are not errors).
///
/// # Errors
/// Never for now; kept fallible for symmetry with the file readers.
pub fn env_layer(vars: impl IntoIterator<Item = (String, String)>) -> Result<(ConfigLayer, Vec<String>), ConfigError> {
    let names: BTreeMap<String, &str> = KEYS.iter().map(|(k, _)| (env_name(k), *k)).collect();
    let mut layer = ConfigLayer::new();
    let mut warnings = Vec::new();
    for (name, value) in vars {
        if !name.starts_with("FLYWAY_") {
            continue;
        }
        if let Some(placeholder) = name.strip_prefix("FLYWAY_PLACEHOLDERS_") {
            layer.set(&format!("placeholders.{}", placeholder.to_lowercase()), &value, &name)?;
        } else if let Some(key) = names.get(&name) {
            layer.set(key, &value, &name)?;
        } else if name != "FLYWAY_CONFIG_FILES" {
            warnings.push(format!(
                "environment variable {name} is not a Flyway setting pccdb knows; ignored"
            ));
        }
    }
    Ok((layer, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn toml_reads_the_flyway_table_environments_and_nested_settings() {
        let text = r#"
            [environments.default]
            url = "jdbc:postgresql://db:5432/client_api_db_devtest"
            user = "flyway_user"
            schemas = ["client_api", "audit"]

            [flyway]
            locations = ["filesystem:migrations/client_api"]
            baselineOnMigrate = true
            lockRetryCount = 10

            [flyway.placeholders]
            Owner = "client_api_owner"

            [flyway.postgresql.transactional]
            lock = false
        "#;
        let file = parse_toml(text, "flyway.toml", &no_env).unwrap();
        let env = &file.environments["default"];
        assert_eq!(env.get("schemas").unwrap().items, ["client_api", "audit"]);
        assert_eq!(file.flyway.get("baselineOnMigrate").unwrap().text(), "true");
        assert_eq!(file.flyway.get("lockRetryCount").unwrap().text(), "10");
        assert_eq!(
            file.flyway.get("placeholders.owner").unwrap().text(),
            "client_api_owner"
        );
        assert_eq!(
            file.flyway.get("postgresql.transactional.lock").unwrap().text(),
            "false"
        );
    }

    #[test]
    fn toml_unknown_keys_and_sections_are_errors() {
        assert!(matches!(
            parse_toml("[flyway]\nbaselineOnMigrat = true", "f.toml", &no_env),
            Err(ConfigError::UnknownKey { .. })
        ));
        assert!(matches!(
            parse_toml("[flywy]\nx = 1", "f.toml", &no_env),
            Err(ConfigError::UnknownKey { .. })
        ));
        assert!(matches!(
            parse_toml("[flyway\n", "f.toml", &no_env),
            Err(ConfigError::Syntax { .. })
        ));
    }

    #[test]
    fn env_references_in_files_are_expanded_and_must_exist() {
        let env = |name: &str| (name == "DB_PASSWORD").then(|| "s3cret".to_owned());
        let file = parse_toml(
            "[environments.default]\npassword = \"${env.DB_PASSWORD}\"",
            "f.toml",
            &env,
        )
        .unwrap();
        assert_eq!(file.environments["default"].get("password").unwrap().text(), "s3cret");
        let err = parse_conf("flyway.password=${env.NOPE}", "f.conf", &env).unwrap_err();
        assert!(err.to_string().contains("NOPE"));
    }

    #[test]
    fn conf_files_use_flyway_prefixed_keys() {
        let text = "flyway.url=jdbc:postgresql://localhost/db\nflyway.locations=filesystem:sql,filesystem:more\nflyway.placeholders.owner=app\n";
        let file = parse_conf(text, "flyway.conf", &no_env).unwrap();
        assert_eq!(
            file.flyway.get("locations").unwrap().items,
            ["filesystem:sql", "filesystem:more"]
        );
        assert_eq!(file.flyway.get("placeholders.owner").unwrap().text(), "app");
        let err = parse_conf("url=x", "flyway.conf", &no_env).unwrap_err();
        assert_eq!(err.to_string(), "unknown configuration property url (in flyway.conf:1)");
    }

    #[test]
    fn environment_variables_map_to_keys_and_placeholders() {
        let vars = [
            ("FLYWAY_URL", "postgresql://h/db"),
            ("FLYWAY_DEFAULT_SCHEMA", "app"),
            ("FLYWAY_PLACEHOLDERS_OWNER", "x"),
            ("FLYWAY_POSTGRESQL_TRANSACTIONAL_LOCK", "false"),
            ("FLYWAY_MADE_UP", "1"),
            ("PATH", "/bin"),
        ];
        let (layer, warnings) = env_layer(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))).unwrap();
        assert_eq!(layer.get("defaultSchema").unwrap().source, "FLYWAY_DEFAULT_SCHEMA");
        assert_eq!(layer.get("placeholders.owner").unwrap().text(), "x");
        assert_eq!(layer.get("postgresql.transactional.lock").unwrap().text(), "false");
        assert!(layer.get("url").is_some());
        assert_eq!(warnings.len(), 1);
    }
}
