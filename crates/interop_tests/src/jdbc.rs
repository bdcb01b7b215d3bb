//! pgjdbc as the referee for JDBC URLs: what `Driver.parseURL` and the driver's own accessors
//! make of a URL (see `interop/jvm/.../JdbcUrls.java`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::jvm::jvm;

/// One host as the driver will try it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PgjdbcHost {
    /// The host as the driver keeps it (IPv6 literals keep their brackets).
    pub host: String,
    /// The port.
    pub port: u16,
}

/// pgjdbc's reading of a URL.
#[derive(Debug, Clone, Deserialize)]
pub struct PgjdbcUrl {
    /// Whether `parseURL` returned properties (`false`: it returned null, the URL is refused).
    pub accepted: bool,
    /// Every property `parseURL` produced (`PGHOST`, `PGPORT`, `PGDBNAME`, then the query's).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Property names that are not pgjdbc properties (pgjdbc keeps and ignores them).
    #[serde(default)]
    pub unknown: Vec<String>,
    /// The driver's host list, or `{"error": ...}`.
    #[serde(default)]
    pub hosts: Value,
    /// Each setting as the connection code reads it: a value, or `{"error": ...}` when the driver
    /// would refuse it when connecting.
    #[serde(default)]
    pub interpreted: BTreeMap<String, Value>,
}

impl PgjdbcUrl {
    /// The host list, when the driver can build one.
    pub fn host_list(&self) -> Option<Vec<PgjdbcHost>> {
        serde_json::from_value(self.hosts.clone()).ok()
    }

    /// A setting as the driver reads it; `Err` with the driver's message when it would refuse it.
    pub fn setting(&self, name: &str) -> Result<&Value, String> {
        match self.interpreted.get(name) {
            Some(Value::Object(error)) => Err(error
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("refused")
                .to_owned()),
            Some(value) => Ok(value),
            None => Ok(&Value::Null),
        }
    }

    /// Every setting the driver would refuse when connecting, with its message.
    pub fn refused_settings(&self) -> Vec<(String, String)> {
        self.interpreted
            .keys()
            .filter_map(|k| self.setting(k).err().map(|e| (k.clone(), e)))
            .collect()
    }
}

/// Asks pgjdbc about `url`.
///
/// # Panics
/// When the harness fails (not when the URL is refused: that is an answer).
pub async fn parse(url: &str) -> PgjdbcUrl {
    let value = jvm()
        .call(json!({"op": "jdbc", "url": url}))
        .await
        .unwrap_or_else(|e| panic!("pgjdbc harness failed on {url}: {e}"));
    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("unexpected pgjdbc answer {value}: {e}"))
}

/// The server pgjdbc connected to for a URL (its port), and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Chosen {
    /// `inet_server_port()`.
    pub port: u16,
    /// `pg_is_in_recovery()`.
    pub in_recovery: bool,
    /// `transaction_read_only`.
    pub read_only: bool,
}

/// Connects with pgjdbc itself (`DriverManager.getConnection`) and reports the server it chose.
///
/// # Errors
/// The driver's exception (no suitable host, authentication, ...).
pub async fn connect(url: &str, user: &str, password: &secrecy::SecretString) -> Result<Chosen, crate::jvm::JavaError> {
    use secrecy::ExposeSecret as _;
    let value = jvm()
        .call(json!({"op": "jdbc_connect", "url": url, "user": user, "password": password.expose_secret()}))
        .await?;
    Ok(serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("unexpected pgjdbc answer {value}: {e}")))
}
