//! A resolved [`Config`] written back as a `flyway.toml` that the real Flyway (10 or later) reads,
//! so a team can run Flyway's own image with exactly the settings pccdb resolved (`pccdb migrate
//! --print-flyway-config`).
//!
//! Every setting that differs from Flyway's default is written, connection settings under
//! `[environments.<environment>]` (where Flyway's TOML model keeps them: url, user, password,
//! schemas, initSql, connectRetries), the rest under `[flyway]`. The password is never written:
//! the file says `password = "${env.FLYWAY_PASSWORD}"`, which Flyway and pccdb both resolve from
//! the environment. The url is given by the caller as a JDBC url (Flyway needs one; pccdb's
//! `conninfo` renders it). `postgresql.transactional.lock = false` is always written: it is the
//! session-level lock pccdb takes, and with Flyway's default (a lock held in an open transaction)
//! a `CREATE INDEX CONCURRENTLY` migration waits for that transaction forever.

use toml::{Table, Value};

use super::{Config, Location};
use crate::version::Target;

/// The password reference written instead of the password.
pub const PASSWORD_REFERENCE: &str = "${env.FLYWAY_PASSWORD}";

fn list(items: &[String]) -> Value {
    Value::Array(items.iter().cloned().map(Value::String).collect())
}

fn text(value: &str) -> Value {
    Value::String(value.to_owned())
}

/// `config` as `flyway.toml` text, with `url` (a JDBC url without credentials) as its url.
pub fn to_flyway_toml(config: &Config, url: &str) -> String {
    let defaults = Config::defaults();
    let mut env = Table::new();
    env.insert("url".into(), text(url));
    if let Some(user) = &config.user {
        env.insert("user".into(), text(user));
    }
    env.insert("password".into(), text(PASSWORD_REFERENCE));
    if !config.schemas.is_empty() {
        env.insert("schemas".into(), list(&config.schemas));
    }
    if let Some(init) = &config.init_sql {
        env.insert("initSql".into(), text(init));
    }
    if config.connect_retries != defaults.connect_retries {
        env.insert("connectRetries".into(), Value::Integer(config.connect_retries.into()));
    }
    if config.connect_retries_interval != defaults.connect_retries_interval {
        env.insert(
            "connectRetriesInterval".into(),
            Value::Integer(config.connect_retries_interval.into()),
        );
    }

    let mut flyway = Table::new();
    flyway.insert("environment".into(), text(&config.environment));
    let locations: Vec<String> = config.locations.iter().map(|l: &Location| l.text.clone()).collect();
    flyway.insert("locations".into(), list(&locations));
    let mut put = |key: &str, value: Value, default: Value| {
        if value != default {
            flyway.insert(key.into(), value);
        }
    };
    let opt = |v: &Option<String>| v.as_deref().map_or(Value::String(String::new()), text);
    put(
        "defaultSchema",
        opt(&config.default_schema),
        opt(&defaults.default_schema),
    );
    put("table", text(&config.table), text(&defaults.table));
    put("tablespace", opt(&config.tablespace), opt(&defaults.tablespace));
    put("installedBy", opt(&config.installed_by), opt(&defaults.installed_by));
    put(
        "baselineVersion",
        text(config.baseline_version.as_str()),
        text(defaults.baseline_version.as_str()),
    );
    put(
        "baselineDescription",
        text(&config.baseline_description),
        text(&defaults.baseline_description),
    );
    let flags = [
        (
            "baselineOnMigrate",
            config.baseline_on_migrate,
            defaults.baseline_on_migrate,
        ),
        (
            "validateOnMigrate",
            config.validate_on_migrate,
            defaults.validate_on_migrate,
        ),
        ("cleanDisabled", config.clean_disabled, defaults.clean_disabled),
        ("outOfOrder", config.out_of_order, defaults.out_of_order),
        ("mixed", config.mixed, defaults.mixed),
        ("group", config.group, defaults.group),
        (
            "executeInTransaction",
            config.execute_in_transaction,
            defaults.execute_in_transaction,
        ),
        ("createSchemas", config.create_schemas, defaults.create_schemas),
        (
            "placeholderReplacement",
            config.placeholder_replacement,
            defaults.placeholder_replacement,
        ),
        (
            "validateMigrationNaming",
            config.validate_migration_naming,
            defaults.validate_migration_naming,
        ),
        (
            "failOnMissingLocations",
            config.fail_on_missing_locations,
            defaults.fail_on_missing_locations,
        ),
    ];
    for (key, value, default) in flags {
        put(key, Value::Boolean(value), Value::Boolean(default));
    }
    if config.target != Target::Latest {
        put("target", text(&config.target.to_string()), text(""));
    }
    put(
        "placeholderPrefix",
        text(&config.placeholder_prefix),
        text(&defaults.placeholder_prefix),
    );
    put(
        "placeholderSuffix",
        text(&config.placeholder_suffix),
        text(&defaults.placeholder_suffix),
    );
    let naming = [
        (
            "sqlMigrationPrefix",
            &config.naming.versioned_prefix,
            &defaults.naming.versioned_prefix,
        ),
        (
            "repeatableSqlMigrationPrefix",
            &config.naming.repeatable_prefix,
            &defaults.naming.repeatable_prefix,
        ),
        (
            "baselineMigrationPrefix",
            &config.naming.baseline_prefix,
            &defaults.naming.baseline_prefix,
        ),
        (
            "undoSqlMigrationPrefix",
            &config.naming.undo_prefix,
            &defaults.naming.undo_prefix,
        ),
        (
            "sqlMigrationSeparator",
            &config.naming.separator,
            &defaults.naming.separator,
        ),
    ];
    for (key, value, default) in naming {
        put(key, text(value), text(default));
    }
    put(
        "sqlMigrationSuffixes",
        list(&config.naming.suffixes),
        list(&defaults.naming.suffixes),
    );
    let patterns = |p: &crate::plan::patterns::IgnorePatterns| {
        list(&p.to_string().split(',').map(str::to_owned).collect::<Vec<_>>())
    };
    put(
        "ignoreMigrationPatterns",
        patterns(&config.ignore_migration_patterns),
        patterns(&defaults.ignore_migration_patterns),
    );
    put(
        "lockRetryCount",
        Value::Integer(config.lock_retry_count.into()),
        Value::Integer(defaults.lock_retry_count.into()),
    );
    if !config.placeholders.is_empty() {
        let placeholders: Table = config.placeholders.iter().map(|(k, v)| (k.clone(), text(v))).collect();
        flyway.insert("placeholders".into(), Value::Table(placeholders));
    }
    let mut transactional = Table::new();
    transactional.insert("lock".into(), Value::Boolean(false));
    let mut postgresql = Table::new();
    postgresql.insert("transactional".into(), Value::Table(transactional));
    flyway.insert("postgresql".into(), Value::Table(postgresql));

    let mut environments = Table::new();
    environments.insert(config.environment.clone(), Value::Table(env));
    let mut root = Table::new();
    root.insert("environments".into(), Value::Table(environments));
    root.insert("flyway".into(), Value::Table(flyway));
    toml::to_string(&root).unwrap_or_else(|e| unreachable!("a TOML table always serializes: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::sources::parse_toml;
    use crate::config::{ConfigLayer, ConfigSources};

    fn resolved(pairs: &[(&str, &str)]) -> Config {
        let mut cli = ConfigLayer::new();
        for (k, v) in pairs {
            cli.set(k, v, "test").unwrap();
        }
        Config::resolve(&ConfigSources {
            cli,
            ..ConfigSources::default()
        })
        .unwrap()
    }

    #[test]
    fn the_file_reads_back_as_the_same_configuration_without_the_password() {
        let config = resolved(&[
            ("url", "postgresql://h/db"),
            ("user", "flyway_user"),
            ("password", "s3cret"),
            ("schemas", "client_api"),
            ("defaultSchema", "client_api"),
            ("initSql", "SET ROLE client_api_owner"),
            ("locations", "filesystem:migrations/client_api"),
            ("placeholders.Owner", "client_api_owner"),
            ("baselineOnMigrate", "true"),
            ("target", "7?"),
        ]);
        let text = to_flyway_toml(&config, "jdbc:postgresql://h:5432/db?sslmode=verify-full");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("password = \"${env.FLYWAY_PASSWORD}\""), "{text}");
        let env = |name: &str| (name == "FLYWAY_PASSWORD").then(|| "from-env".to_owned());
        let file = parse_toml(&text, "flyway.toml", &env).unwrap();
        let back = Config::resolve(&ConfigSources {
            files: vec![file],
            ..ConfigSources::default()
        })
        .unwrap();
        use secrecy::ExposeSecret as _;
        assert_eq!(back.password.unwrap().expose_secret(), "from-env");
        assert_eq!(
            back.url.unwrap().expose_secret(),
            "jdbc:postgresql://h:5432/db?sslmode=verify-full"
        );
        assert_eq!(back.user.as_deref(), Some("flyway_user"));
        assert_eq!(back.schemas, ["client_api"]);
        assert_eq!(back.default_schema.as_deref(), Some("client_api"));
        assert_eq!(back.init_sql.as_deref(), Some("SET ROLE client_api_owner"));
        assert_eq!(back.locations, config.locations);
        assert_eq!(back.placeholders, config.placeholders);
        assert!(back.baseline_on_migrate);
        assert_eq!(back.target, config.target);
        assert!(!back.transactional_lock, "the session-level lock, as pccdb takes it");
    }

    #[test]
    fn defaults_are_left_out() {
        let text = to_flyway_toml(&Config::defaults(), "jdbc:postgresql://h:5432/db");
        assert!(
            !text.contains("table") && !text.contains("baseline") && !text.contains("user ="),
            "{text}"
        );
    }
}
