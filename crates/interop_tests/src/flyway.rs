//! Real Flyway, typed: a configuration in Flyway's own property names, the commands the tests
//! use, and what Flyway answered. Runs in the shared harness JVM ([`crate::jvm`]), except
//! [`toml_run`], which starts a JVM of its own the way a pipeline step runs Flyway on a file.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::jvm::{JavaError, java_command, jvm};

/// A Flyway configuration (`flyway.*` properties), password kept apart.
#[derive(Clone)]
pub struct FlywayConfig {
    properties: BTreeMap<String, String>,
    password: SecretString,
}

impl std::fmt::Debug for FlywayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlywayConfig")
            .field("properties", &self.properties)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl FlywayConfig {
    /// Connection settings: a JDBC url, the user and the password.
    pub fn new(url: &str, user: &str, password: SecretString) -> Self {
        let mut properties = BTreeMap::new();
        properties.insert("flyway.url".to_owned(), url.to_owned());
        properties.insert("flyway.user".to_owned(), user.to_owned());
        Self { properties, password }
    }

    /// Sets `flyway.<key>`.
    #[must_use]
    pub fn set(mut self, key: &str, value: &str) -> Self {
        self.properties.insert(format!("flyway.{key}"), value.to_owned());
        self
    }

    /// `locations = filesystem:<dir>`.
    #[must_use]
    pub fn location(self, dir: &Path) -> Self {
        self.set("locations", &format!("filesystem:{}", dir.display()))
    }

    /// A placeholder.
    #[must_use]
    pub fn placeholder(self, name: &str, value: &str) -> Self {
        self.set(&format!("placeholders.{name}"), value)
    }

    /// The settings (without the password), e.g. to hand the same ones to pccdb.
    pub fn properties(&self) -> &BTreeMap<String, String> {
        &self.properties
    }

    /// The settings as a legacy `flyway.conf` (Java properties; the password left out: it goes
    /// in `FLYWAY_PASSWORD`), the file format both Flyway and pccdb read.
    pub fn to_conf(&self) -> String {
        // Java properties escaping: backslash, line breaks, a leading blank; in keys also the
        // separators `=`, `:` and blanks.
        let escape = |text: &str, key: bool| {
            let mut out = String::new();
            for (i, c) in text.chars().enumerate() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    ' ' if i == 0 || key => out.push_str("\\ "),
                    '=' | ':' if key => {
                        out.push('\\');
                        out.push(c);
                    }
                    c => out.push(c),
                }
            }
            out
        };
        self.properties
            .iter()
            .map(|(k, v)| format!("{}={}\n", escape(k, true), escape(v, false)))
            .collect()
    }

    /// The password (for the `FLYWAY_PASSWORD` of a tool run with [`FlywayConfig::to_conf`]).
    pub fn password(&self) -> &SecretString {
        &self.password
    }

    fn to_json(&self) -> Value {
        let mut map: serde_json::Map<String, Value> =
            self.properties.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        map.insert("flyway.password".into(), json!(self.password.expose_secret()));
        Value::Object(map)
    }
}

/// What `migrate` returned.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrateResult {
    /// Flyway's `success`.
    pub success: bool,
    /// How many migrations ran.
    pub migrations_executed: u32,
    /// The version before.
    pub initial_schema_version: Option<String>,
    /// The version after.
    pub target_schema_version: Option<String>,
    /// Warnings Flyway reported.
    pub warnings: Vec<String>,
}

/// One line of `info`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InfoRow {
    /// `installed_rank` (`None` when not applied).
    pub rank: Option<i32>,
    /// The version.
    pub version: Option<String>,
    /// The description.
    pub description: String,
    /// Flyway's migration type name (`SQL`, `BASELINE`, `SQL_BASELINE`, `DELETE`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// The script.
    pub script: String,
    /// The checksum.
    pub checksum: Option<i32>,
    /// The state's display name (`Success`, `Pending`, `Failed`, ...).
    pub state: String,
    /// `installed_by`.
    pub installed_by: Option<String>,
}

/// What `info` returned.
#[derive(Debug, Clone, Deserialize)]
pub struct InfoResult {
    /// The current version.
    pub current: Option<String>,
    /// Every migration, in Flyway's order.
    pub migrations: Vec<InfoRow>,
}

/// A validation finding.
#[derive(Debug, Clone, Deserialize)]
pub struct Invalid {
    /// The version.
    pub version: Option<String>,
    /// The description.
    pub description: Option<String>,
    /// Flyway's error code and message.
    pub error: Value,
}

/// What `validate` returned.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidateResult {
    /// Flyway's `validationSuccessful`.
    pub valid: bool,
    /// The findings.
    pub invalid_migrations: Vec<Invalid>,
}

async fn call(action: &str, config: &FlywayConfig) -> Result<Value, JavaError> {
    jvm()
        .call(json!({"op": "flyway", "action": action, "config": config.to_json()}))
        .await
}

fn typed<T: serde::de::DeserializeOwned>(what: &str, value: Value) -> T {
    let shown = value.to_string();
    serde_json::from_value(value).unwrap_or_else(|e| panic!("unexpected {what} result {shown}: {e}"))
}

/// `flyway migrate`.
///
/// # Errors
/// Flyway's exception (a failed migration, a validation failure, ...).
pub async fn migrate(config: &FlywayConfig) -> Result<MigrateResult, JavaError> {
    call("migrate", config).await.map(|v| typed("migrate", v))
}

/// `flyway info`.
///
/// # Errors
/// Flyway's exception.
pub async fn info(config: &FlywayConfig) -> Result<InfoResult, JavaError> {
    call("info", config).await.map(|v| typed("info", v))
}

/// `flyway validate` (Flyway's `validateWithResult`).
///
/// # Errors
/// Flyway's exception.
pub async fn validate(config: &FlywayConfig) -> Result<ValidateResult, JavaError> {
    call("validate", config).await.map(|v| typed("validate", v))
}

/// `flyway repair`: Flyway's `RepairResult` as JSON.
///
/// # Errors
/// Flyway's exception.
pub async fn repair(config: &FlywayConfig) -> Result<Value, JavaError> {
    call("repair", config).await
}

/// `flyway baseline`: Flyway's `BaselineResult` as JSON.
///
/// # Errors
/// Flyway's exception.
pub async fn baseline(config: &FlywayConfig) -> Result<Value, JavaError> {
    call("baseline", config).await
}

/// The versions of the referees (Flyway, pgjdbc, Java) actually loaded.
pub async fn versions() -> Value {
    jvm()
        .call(json!({"op": "version"}))
        .await
        .unwrap_or_else(|e| panic!("asking the harness for versions: {e}"))
}

/// Real Flyway on `flyway.toml` files in a JVM of its own, in `cwd` (relative locations are
/// relative to it), with `env` added to its environment (e.g. `FLYWAY_PASSWORD`): how a pipeline
/// step runs the Flyway the team chose. Returns Flyway's result, or its exception.
///
/// # Errors
/// Flyway's exception (the JVM exited 1).
///
/// # Panics
/// When the JVM cannot be run or prints no result.
pub fn toml_run(action: &str, files: &[&Path], cwd: &Path, env: &[(&str, &str)]) -> Result<Value, JavaError> {
    let mut command = java_command("pcc.interop.TomlRun");
    command
        .arg(action)
        .args(files)
        .current_dir(cwd)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Only what the test gives: no FLYWAY_* from the machine.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("FLYWAY_") && !env.iter().any(|(k, _)| key == *k) {
            command.env_remove(key);
        }
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("running Flyway on {files:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let reply: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "Flyway printed no result ({e}); stdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    if reply["ok"] == json!(true) {
        Ok(reply["result"].clone())
    } else {
        Err(JavaError::from_json(&reply["error"]))
    }
}
