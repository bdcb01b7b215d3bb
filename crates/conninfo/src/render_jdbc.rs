//! Rendering a [`ConnSpec`] as a pgjdbc URL (`jdbc:postgresql://host:port,.../db?...`), for tools
//! on the JVM such as the real Flyway (`pccdb migrate --print-flyway-config`).
//!
//! Never with credentials: pgjdbc reads `user`/`password` from the URL too, but a URL is copied
//! into logs and files; the user and password travel as Flyway's own settings. What pgjdbc has no
//! property for (pool sizing, command timeout, keepalive timings, the client encoding, which
//! pgjdbc fixes to UTF8, the passfile, which pgjdbc takes from `PGPASSFILE`) is left out; what
//! would change the meaning of the URL if left out is an error naming the setting.

use std::fmt::Write as _;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::host::Host;
use crate::modes::{ChannelBinding, SslMode, SslNegotiation, TargetSessionAttrs};
use crate::spec::ConnSpec;
use crate::values::whole_secs;

/// A spec that a pgjdbc URL cannot express.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot be written as a JDBC URL: {setting}: {reason}")]
pub struct RenderError {
    /// The setting at fault.
    pub setting: &'static str,
    /// Why.
    pub reason: &'static str,
}

/// What `java.net.URLDecoder` gives back unchanged (so `+`, which it turns into a space, is
/// encoded).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// The database name ends at the URL's only other `/` (pgjdbc refuses a second one).
const DATABASE: &AsciiSet = &COMPONENT.add(b'/');

fn encode(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

/// pgjdbc's `targetServerType` with the same meaning. pgjdbc's `primary` is a server that is not
/// in hot standby and whose `transaction_read_only` is off, which is libpq's `read-write`; its
/// `secondary` is libpq's `read-only`.
fn server_type(attrs: TargetSessionAttrs) -> Result<Option<&'static str>, RenderError> {
    let unsupported = |reason| RenderError {
        setting: "target_session_attrs",
        reason,
    };
    Ok(match attrs {
        TargetSessionAttrs::Any => None,
        TargetSessionAttrs::ReadWrite => Some("primary"),
        TargetSessionAttrs::ReadOnly => Some("secondary"),
        TargetSessionAttrs::PreferPrimary => Some("preferPrimary"),
        TargetSessionAttrs::PreferStandby => Some("preferSecondary"),
        TargetSessionAttrs::Primary => {
            return Err(unsupported(
                "pgjdbc's `primary` also refuses a primary whose transactions are read-only; use read-write",
            ));
        }
        TargetSessionAttrs::Standby => {
            return Err(unsupported(
                "pgjdbc's `secondary` also accepts a read-only primary; use read-only",
            ));
        }
    })
}

impl ConnSpec {
    /// The spec as a pgjdbc URL without user and password (see the module docs).
    ///
    /// # Errors
    /// [`RenderError`] for Unix socket hosts and target session attributes pgjdbc cannot express.
    pub fn to_jdbc_url(&self) -> Result<String, RenderError> {
        let mut url = String::from("jdbc:postgresql://");
        let mut hosts = Vec::new();
        for spec in &self.hosts {
            let host = match &spec.host {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
                Host::Tcp(name) => name.clone(),
                Host::Unix(_) => {
                    return Err(RenderError {
                        setting: "host",
                        reason: "pgjdbc connects over TCP only, not to a Unix socket directory",
                    });
                }
            };
            hosts.push(format!("{host}:{}", spec.port));
        }
        url.push_str(&hosts.join(","));
        url.push('/');
        if let Some(db) = &self.database {
            url.push_str(&utf8_percent_encode(db, DATABASE).to_string());
        }
        let mut query: Vec<(&str, String)> = Vec::new();
        if self.ssl_mode != SslMode::Prefer {
            query.push(("sslmode", self.ssl_mode.libpq_name().to_owned()));
        }
        let path = |p: &std::path::Path| p.display().to_string();
        if let Some(root) = &self.root_cert {
            query.push(("sslrootcert", path(root)));
        }
        if let Some(cert) = &self.client_cert {
            query.push(("sslcert", path(cert)));
        }
        if let Some(key) = &self.client_key {
            query.push(("sslkey", path(key)));
        }
        if self.ssl_negotiation != SslNegotiation::Postgres {
            query.push(("sslNegotiation", self.ssl_negotiation.libpq_name().to_owned()));
        }
        if self.channel_binding != ChannelBinding::Prefer {
            query.push(("channelBinding", self.channel_binding.libpq_name().to_owned()));
        }
        if let Some(kind) = server_type(self.target_session_attrs)? {
            query.push(("targetServerType", kind.to_owned()));
        }
        if self.load_balance_hosts {
            query.push(("loadBalanceHosts", "true".to_owned()));
        }
        if self.host_recheck != Duration::from_secs(10) {
            query.push(("hostRecheckSeconds", whole_secs(self.host_recheck).to_string()));
        }
        // pgjdbc's default is 10 s; 0 is its "no limit".
        if self.connect_timeout != Some(Duration::from_secs(10)) {
            query.push(("connectTimeout", self.connect_timeout.map_or(0, whole_secs).to_string()));
        }
        if self.keepalives.tcp {
            query.push(("tcpKeepAlive", "true".to_owned()));
        }
        if let Some(name) = &self.application_name {
            query.push(("ApplicationName", name.clone()));
        }
        if let Some(path) = &self.search_path {
            query.push(("currentSchema", path.clone()));
        }
        let mut options: Vec<String> = self.options.iter().cloned().collect();
        if let Some(zone) = &self.timezone {
            options.push(format!(
                "-c TimeZone={}",
                zone.replace('\\', "\\\\").replace(' ', "\\ ")
            ));
        }
        if !options.is_empty() {
            query.push(("options", options.join(" ")));
        }
        for (i, (key, value)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            let _ = write!(url, "{key}={}", encode(value));
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::NoEnv;

    #[test]
    fn a_platform_spec_becomes_a_verify_full_url_without_credentials() {
        let spec = ConnSpec::parse_npgsql_with_env(
            "Host=10.28.48.10;Port=5432;Database=client_api_db_devtest;Username=flyway_user;Password=s3cret;\
             SSL Mode=VerifyFull;Root Certificate=/etc/pcc/alloydb-ca.pem",
            &NoEnv,
        )
        .unwrap()
        .with_target_session_attrs(TargetSessionAttrs::ReadWrite);
        let url = spec.to_jdbc_url().unwrap();
        assert_eq!(
            url,
            "jdbc:postgresql://10.28.48.10:5432/client_api_db_devtest?sslmode=verify-full&\
             sslrootcert=/etc/pcc/alloydb-ca.pem&targetServerType=primary&connectTimeout=15"
        );
        assert!(!url.contains("s3cret") && !url.contains("flyway_user"));
    }

    #[test]
    fn the_url_parses_back_to_the_same_connection() {
        let spec = ConnSpec::parse_libpq_with_env(
            "postgresql://u@h1:5433,[2001:db8::1]:5434/my%20db%2Bx?sslmode=require&target_session_attrs=read-only\
             &application_name=a%26b&search_path=app&load_balance_hosts=random&connect_timeout=0",
            &NoEnv,
        )
        .unwrap();
        let back = ConnSpec::parse_jdbc_with_env(&spec.to_jdbc_url().unwrap(), &NoEnv).unwrap();
        assert_eq!(back.hosts, spec.hosts);
        assert_eq!(back.database.as_deref(), Some("my db+x"));
        assert_eq!(back.ssl_mode, SslMode::Require);
        assert_eq!(back.target_session_attrs, TargetSessionAttrs::ReadOnly);
        assert_eq!(back.application_name.as_deref(), Some("a&b"));
        assert_eq!(back.search_path.as_deref(), Some("app"));
        assert!(back.load_balance_hosts);
        assert_eq!(back.connect_timeout, None);
    }

    #[test]
    fn what_pgjdbc_cannot_express_is_refused_by_name() {
        let socket = ConnSpec::parse_libpq_with_env("host=/var/run/postgresql", &NoEnv).unwrap();
        assert_eq!(socket.to_jdbc_url().unwrap_err().setting, "host");
        let standby = ConnSpec::for_host("h", 5432).with_target_session_attrs(TargetSessionAttrs::Standby);
        assert_eq!(standby.to_jdbc_url().unwrap_err().setting, "target_session_attrs");
    }
}
