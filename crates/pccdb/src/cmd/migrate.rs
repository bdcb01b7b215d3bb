//! `pccdb migrate | info | validate | repair | baseline | clean`: Flyway-compatible migrations.
//!
//! Configuration comes from Flyway's sources with Flyway's precedence: these flags >
//! `FLYWAY_*` environment variables > platform layers > `flyway.toml` / `flyway.conf`
//! (`--config-file`, `FLYWAY_CONFIG_FILES`, else `~/` and `./`). The url may be JDBC, a libpq
//! URI or keyword string, or an Npgsql connection string. Passwords never go on the command
//! line: use `FLYWAY_PASSWORD`, a config file, or `--password-file`.
//!
//! Exit codes: 0 success; 1 error; 2 validation failure (`validate` findings, or `migrate`
//! refused because validation failed).

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use clap::Args;
use migrate::{Config, ConfigLayer, ConfigSources};
use provision::resolve::MigrationTarget;
use secrecy::ExposeSecret as _;

use super::manifest_args::runtime;
use super::migrate_output as output;
use crate::cli::GlobalArgs;
use crate::outcome::Outcome;

/// Which command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Apply pending migrations.
    Migrate,
    /// Show every migration and its state.
    Info,
    /// Compare the history with the files.
    Validate,
    /// Fix the history.
    Repair,
    /// Adopt an existing database.
    Baseline,
    /// Drop everything in the schemas.
    Clean,
}

/// Flyway settings, as flags. Any other Flyway setting: `--set key=value`.
#[derive(Debug, Args, Default)]
pub struct FlywayArgs {
    /// Configuration files (flyway.toml or legacy flyway.conf), later ones winning; replaces the
    /// default files (~/flyway.toml, ~/flyway.conf, ./flyway.toml, ./flyway.conf).
    #[arg(long = "config-file", value_name = "PATH")]
    pub config_files: Vec<PathBuf>,
    /// The [environments.<name>] of flyway.toml to use (Flyway's `environment`, default `default`).
    #[arg(long)]
    pub environment: Option<String>,
    /// Database url: jdbc:postgresql://..., postgresql://..., `host=... dbname=...` or an Npgsql
    /// string. Must not contain a password (use FLYWAY_PASSWORD or --password-file).
    #[arg(long)]
    pub url: Option<String>,
    /// Database user.
    #[arg(long)]
    pub user: Option<String>,
    /// File holding the database password (one line).
    #[arg(long, value_name = "PATH")]
    pub password_file: Option<PathBuf>,
    /// Migration locations, comma-separated (`filesystem:migrations/client_api`).
    #[arg(long)]
    pub locations: Option<String>,
    /// Schemas to manage, comma-separated; the first holds the history table.
    #[arg(long)]
    pub schemas: Option<String>,
    /// Schema of the history table (default: the first of --schemas).
    #[arg(long)]
    pub default_schema: Option<String>,
    /// History table name (default flyway_schema_history).
    #[arg(long)]
    pub table: Option<String>,
    /// SQL run on every connection first (e.g. `SET ROLE client_api_owner`).
    #[arg(long)]
    pub init_sql: Option<String>,
    /// Migrate up to this version (`latest`, `current`, `next`, `1.2`, or `1.2?`).
    #[arg(long)]
    pub target: Option<String>,
    /// Allow migrations older than the current version.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub out_of_order: Option<bool>,
    /// Baseline a non-empty schema without history before migrating.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub baseline_on_migrate: Option<bool>,
    /// Version the baseline marks as applied (default 1).
    #[arg(long)]
    pub baseline_version: Option<String>,
    /// Description of the baseline row.
    #[arg(long)]
    pub baseline_description: Option<String>,
    /// Validate before migrating (default true).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub validate_on_migrate: Option<bool>,
    /// Allow transactional and non-transactional statements in one migration.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub mixed: Option<bool>,
    /// Apply all pending migrations in one transaction.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub group: Option<bool>,
    /// Validation findings to ignore, e.g. `*:future,repeatable:missing`.
    #[arg(long)]
    pub ignore_migration_patterns: Option<String>,
    /// Seconds to wait for another run's lock without progress (-1: forever; default 50).
    #[arg(long)]
    pub lock_retry_count: Option<i32>,
    /// A placeholder, `NAME=VALUE` (repeatable).
    #[arg(long = "placeholder", value_name = "NAME=VALUE")]
    pub placeholders: Vec<String>,
    /// Any Flyway setting, `key=value` (repeatable), e.g. `--set cleanDisabled=false`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub settings: Vec<String>,
    /// Resolution from the platform manifest (`--env`, `--service`, `--manifest`).
    #[command(flatten)]
    pub platform: super::migrate_platform::PlatformArgs,
}

fn split_pair(text: &str, what: &str) -> anyhow::Result<(String, String)> {
    let (k, v) = text
        .split_once('=')
        .ok_or_else(|| anyhow!("{what} {text:?} is not KEY=VALUE"))?;
    Ok((k.trim().to_owned(), v.to_owned()))
}

impl FlywayArgs {
    /// The command-line layer.
    fn layer(&self) -> anyhow::Result<ConfigLayer> {
        let mut layer = ConfigLayer::new();
        let mut set = |key: &str, value: &str, flag: &str| layer.set(key, value, flag).map_err(anyhow::Error::from);
        for setting in &self.settings {
            let (k, v) = split_pair(setting, "--set")?;
            let k = k.strip_prefix("flyway.").unwrap_or(&k).to_owned();
            set(&k, &v, &format!("--set {k}"))?;
        }
        let strings = [
            ("environment", &self.environment, "--environment"),
            ("user", &self.user, "--user"),
            ("locations", &self.locations, "--locations"),
            ("schemas", &self.schemas, "--schemas"),
            ("defaultSchema", &self.default_schema, "--default-schema"),
            ("table", &self.table, "--table"),
            ("initSql", &self.init_sql, "--init-sql"),
            ("target", &self.target, "--target"),
            ("baselineVersion", &self.baseline_version, "--baseline-version"),
            (
                "baselineDescription",
                &self.baseline_description,
                "--baseline-description",
            ),
            (
                "ignoreMigrationPatterns",
                &self.ignore_migration_patterns,
                "--ignore-migration-patterns",
            ),
        ];
        for (key, value, flag) in strings {
            if let Some(value) = value {
                set(key, value, flag)?;
            }
        }
        let flags = [
            ("outOfOrder", self.out_of_order, "--out-of-order"),
            ("baselineOnMigrate", self.baseline_on_migrate, "--baseline-on-migrate"),
            ("validateOnMigrate", self.validate_on_migrate, "--validate-on-migrate"),
            ("mixed", self.mixed, "--mixed"),
            ("group", self.group, "--group"),
        ];
        for (key, value, flag) in flags {
            if let Some(value) = value {
                set(key, &value.to_string(), flag)?;
            }
        }
        if let Some(n) = self.lock_retry_count {
            set("lockRetryCount", &n.to_string(), "--lock-retry-count")?;
        }
        for p in &self.placeholders {
            let (k, v) = split_pair(p, "--placeholder")?;
            set(&format!("placeholders.{k}"), &v, "--placeholder")?;
        }
        if let Some(url) = &self.url {
            // Only what the flag itself says: PGPASSWORD in the environment is not on the command line.
            let spec = conninfo::ConnSpec::parse_with_env(url, &conninfo::NoEnv).context("--url")?;
            if spec.password.is_some() {
                bail!(
                    "--url contains a password, which would be visible to every user of this machine; pass it in FLYWAY_PASSWORD, a config file, or --password-file"
                );
            }
            set("url", url, "--url")?;
        }
        if let Some(path) = &self.password_file {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading --password-file {}", path.display()))?;
            set("password", text.trim_end_matches(['\n', '\r']), "--password-file")?;
        }
        Ok(layer)
    }
}

/// Resolves the configuration from every source.
///
/// # Errors
/// Unreadable or invalid configuration, naming the key and its source.
pub fn resolve_config(args: &FlywayArgs, platform: Option<&MigrationTarget>) -> anyhow::Result<Config> {
    let lookup = |name: &str| std::env::var(name).ok();
    let files = if !args.config_files.is_empty() {
        args.config_files.clone()
    } else if let Ok(list) = std::env::var("FLYWAY_CONFIG_FILES") {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect()
    } else {
        let cwd = std::env::current_dir().context("reading the working directory")?;
        let home = std::env::var_os("HOME").map(PathBuf::from);
        migrate::config::default_files(home.as_deref(), &cwd)
    };
    let files = ConfigSources::read_files(&files, &lookup)?;
    let vars = std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    let (env, warnings) = migrate::config::sources::env_layer(vars)?;
    let sources = ConfigSources {
        files,
        platform: platform
            .map(super::migrate_platform::layer)
            .transpose()?
            .into_iter()
            .collect(),
        env,
        cli: args.layer()?,
        warnings,
    };
    Ok(Config::resolve(&sources)?)
}

/// The connection spec of a configuration: its url, with its user and password applied.
///
/// # Errors
/// A missing or unparsable url.
pub fn connection_spec(config: &Config) -> anyhow::Result<conninfo::ConnSpec> {
    let url = config.url.as_ref().ok_or_else(|| {
        anyhow!("no database url: set url in flyway.toml [environments.<name>] (or flyway.url in flyway.conf), FLYWAY_URL, or --url")
    })?;
    let mut spec = conninfo::ConnSpec::parse(url.expose_secret()).context("parsing the database url")?;
    if let Some(user) = &config.user {
        spec = spec.with_user(user);
    }
    if let Some(password) = &config.password {
        spec = spec.with_password(password.clone());
    }
    // Migrations run as long as they need, and only on a server that accepts writes.
    spec = spec.with_command_timeout(None);
    if spec.target_session_attrs == conninfo::TargetSessionAttrs::Any {
        spec = spec.with_target_session_attrs(conninfo::TargetSessionAttrs::ReadWrite);
    }
    if spec.application_name.is_none() {
        spec = spec.with_application_name("pccdb");
    }
    Ok(spec)
}

async fn connect(config: &Config) -> anyhow::Result<tokio_postgres::Client> {
    let spec = connection_spec(config)?;
    let mut pause = Duration::from_secs(1);
    let mut attempt = 0;
    loop {
        match conninfo::connect(&spec).await {
            Ok((client, _)) => return Ok(client),
            Err(e) if attempt < config.connect_retries && !e.is_auth_failure() => {
                attempt += 1;
                tracing::warn!(attempt, error = %e, "connection failed; retrying (connectRetries)");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(u64::from(config.connect_retries_interval.max(1))));
            }
            Err(e) => {
                return Err(anyhow::Error::from(e)).with_context(|| {
                    format!("connecting to {spec} (check url, user and password; `pccdb conninfo` explains a url)")
                });
            }
        }
    }
}

/// Runs one of the migration commands.
///
/// # Errors
/// Configuration, connection and engine errors (exit code 1); validation failures are
/// reported and mapped to exit code 2.
pub fn run(action: Action, args: &FlywayArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let platform = args.platform.resolve()?;
    let config = resolve_config(args, platform.as_ref())?;
    for warning in &config.warnings {
        eprintln!("warning: {warning}");
    }
    let json = global.output == crate::cli::OutputFormat::Json;
    let runtime = runtime()?;
    runtime.block_on(async {
        let client = connect(&config).await?;
        match action {
            Action::Migrate => {
                let progress = output::Progress::new(!json && std::io::stderr().is_terminal());
                match migrate::migrate(&client, &config, &progress).await {
                    Ok(report) => {
                        progress.finish();
                        if let Some(target) = &platform {
                            platform::secure_history(&client, target).await?;
                        }
                        output::migrate(&report, json)?;
                        Ok(Outcome::Success)
                    }
                    Err(e) => {
                        progress.finish();
                        output::failure("migrate", &e, json)
                    }
                }
            }
            Action::Info => output::info(&migrate::info(&client, &config).await?, json).map(|()| Outcome::Success),
            Action::Validate => {
                let report = migrate::validate(&client, &config).await?;
                output::validate(&report, json)?;
                Ok(if report.valid {
                    Outcome::Success
                } else {
                    Outcome::Findings
                })
            }
            Action::Repair => {
                output::repair(&migrate::repair(&client, &config, &()).await?, json).map(|()| Outcome::Success)
            }
            Action::Baseline => {
                output::baseline(&migrate::baseline(&client, &config, &()).await?, json).map(|()| Outcome::Success)
            }
            Action::Clean => {
                output::clean(&migrate::clean(&client, &config, &()).await?, json).map(|()| Outcome::Success)
            }
        }
    })
}
