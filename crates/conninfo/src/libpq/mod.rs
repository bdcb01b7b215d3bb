//! libpq connection strings, both forms (keyword/value and URI), into a [`ConnSpec`].
//!
//! Both forms become `(keyword, value)` parameters applied through one table ([`params`]);
//! parameters the string leaves unset then take their `PG*` environment variable, as libpq
//! does. Semantics follow libpq: no host means the default socket directory, `port` may list
//! one port for all hosts or one per host, and `sslmode=require` with an explicit root
//! certificate verifies the chain (libpq's `verify-ca` upgrade).

mod keyword;
mod params;
mod uri;

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::env::EnvSource;
use crate::error::ParseError;
use crate::host::{DEFAULT_PORT, Host, HostSpec};
use crate::modes::{ChannelBinding, SslMode, SslNegotiation, Syntax, TargetSessionAttrs};
use crate::spec::ConnSpec;
use crate::values::{enum_value, libpq_int, named_value, port, secs_or_none};
use params::Param;

/// libpq's compiled-in socket directory when no host is given (upstream default).
pub const DEFAULT_SOCKET_DIR: &str = "/tmp";

/// Parses a keyword/value string.
pub(crate) fn parse_keyword(text: &str, env: &dyn EnvSource) -> Result<ConnSpec, ParseError> {
    let mut draft = Draft::new(Syntax::LibpqKeyword);
    for (key, value, _) in keyword::pairs(text)? {
        draft.set(&key, &value, false)?;
    }
    draft.finish(env)
}

/// Parses a `postgres://` or `postgresql://` URI.
pub(crate) fn parse_uri(text: &str, env: &dyn EnvSource) -> Result<ConnSpec, ParseError> {
    let parts = uri::split(text)?;
    let mut draft = Draft::new(Syntax::LibpqUri);
    if let Some(password) = parts.password {
        draft.spec.password = Some(password);
        draft.explicit.insert("password");
    }
    for (key, value) in &parts.params {
        draft.set(key, value, true)?;
    }
    draft.finish(env)
}

struct Draft {
    spec: ConnSpec,
    hosts: Vec<String>,
    ports: Vec<String>,
    /// The keyword or variable the port list came from, for error messages.
    port_key: String,
    fallback_application_name: Option<String>,
    explicit: HashSet<&'static str>,
}

fn text(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

fn nonneg_secs(key: &str, value: &str) -> Result<Option<Duration>, ParseError> {
    let n = libpq_int(key, value)?;
    Ok(secs_or_none(u32::try_from(n.max(0)).unwrap_or(0)))
}

fn count(key: &str, value: &str, min: i64) -> Result<u32, ParseError> {
    let n = libpq_int(key, value)?;
    u32::try_from(n)
        .ok()
        .filter(|n| i64::from(*n) >= min)
        .ok_or_else(|| ParseError::invalid(key, value, format!("must be at least {min}")))
}

fn boolean(key: &str, value: &str) -> Result<bool, ParseError> {
    enum_value(
        key,
        value,
        &[
            ("true", true),
            ("false", false),
            ("on", true),
            ("off", false),
            ("1", true),
            ("0", false),
        ],
        true,
    )
}

impl Draft {
    fn new(syntax: Syntax) -> Self {
        let mut spec = ConnSpec::for_host("localhost", DEFAULT_PORT);
        spec.hosts.clear();
        spec.syntax = syntax;
        // libpq defaults that differ from Npgsql's: no connect or command timeout, TCP keepalive on.
        spec.connect_timeout = None;
        spec.command_timeout = None;
        spec.keepalives.tcp = true;
        Draft {
            spec,
            hosts: Vec::new(),
            ports: Vec::new(),
            port_key: "port".to_owned(),
            fallback_application_name: None,
            explicit: HashSet::new(),
        }
    }

    /// Applies one parameter; `key` names it in errors (a keyword or an environment variable).
    fn set(&mut self, key: &str, value: &str, uri: bool) -> Result<(), ParseError> {
        let entry = params::lookup(key, uri).ok_or_else(|| ParseError::UnknownKey {
            syntax: if uri { Syntax::LibpqUri } else { Syntax::LibpqKeyword },
            key: key.to_owned(),
        })?;
        self.explicit.insert(entry.name);
        self.apply(entry.param, entry.name, key, value)
    }

    fn apply(&mut self, param: Param, name: &str, key: &str, value: &str) -> Result<(), ParseError> {
        let spec = &mut self.spec;
        match param {
            Param::Host => self.hosts = split_list(value),
            Param::Port => {
                self.ports = split_list(value);
                self.port_key = key.to_owned();
            }
            // PQconnectdb does not expand a connection string inside dbname (only
            // PQconnectdbParams with expand_dbname does), so neither do we: it is a name.
            Param::Dbname => spec.database = text(value),
            Param::User => spec.username = text(value),
            Param::Password => spec.password = text(value).map(SecretString::from),
            Param::Passfile => spec.passfile = text(value).map(PathBuf::from),
            Param::Options => spec.options = text(value),
            Param::ApplicationName => spec.application_name = text(value),
            Param::FallbackApplicationName => self.fallback_application_name = text(value),
            Param::ConnectTimeout => spec.connect_timeout = nonneg_secs(key, value)?,
            Param::ClientEncoding => spec.client_encoding = text(value),
            Param::Keepalives => spec.keepalives.tcp = libpq_int(key, value)? != 0,
            Param::KeepalivesIdle => spec.keepalives.idle = nonneg_secs(key, value)?,
            Param::KeepalivesInterval => spec.keepalives.interval = nonneg_secs(key, value)?,
            Param::KeepalivesCount => {
                let n = libpq_int(key, value)?;
                spec.keepalives.retries = (n > 0).then(|| u32::try_from(n).unwrap_or(u32::MAX));
            }
            Param::SslMode => spec.ssl_mode = named_value(key, value, &SslMode::ALL, SslMode::libpq_name, false)?,
            // libpq's JDBC courtesy in URIs: exactly `ssl=true` is `sslmode=require`; any other
            // `ssl` is an unknown parameter there.
            Param::Ssl => {
                if value != "true" {
                    return Err(ParseError::invalid(
                        key,
                        value,
                        "libpq accepts only ssl=true (it means sslmode=require)",
                    ));
                }
                spec.ssl_mode = SslMode::Require;
            }
            Param::SslNegotiation => {
                spec.ssl_negotiation =
                    named_value(key, value, &SslNegotiation::ALL, SslNegotiation::libpq_name, false)?;
            }
            Param::SslCert => spec.client_cert = text(value).map(PathBuf::from),
            Param::SslKey => spec.client_key = text(value).map(PathBuf::from),
            Param::SslRootCert => {
                if value == "system" {
                    return Err(ParseError::unsupported(
                        key,
                        "`system` roots are not loaded; give the CA file",
                    ));
                }
                spec.root_cert = text(value).map(PathBuf::from);
            }
            Param::ChannelBinding => {
                spec.channel_binding = named_value(key, value, &ChannelBinding::ALL, ChannelBinding::libpq_name, false)?
            }
            Param::TargetSessionAttrs => {
                // libpq compares exactly (lower case).
                spec.target_session_attrs = TargetSessionAttrs::ALL
                    .into_iter()
                    .find(|attrs| attrs.name() == value)
                    .ok_or_else(|| {
                        ParseError::invalid(
                            key,
                            value,
                            "expected any, read-write, read-only, primary, standby, prefer-standby or prefer-primary",
                        )
                    })?;
            }
            Param::LoadBalanceHosts => {
                spec.load_balance_hosts = enum_value(key, value, &[("disable", false), ("random", true)], false)?;
            }
            Param::GssEncMode => {
                let require = enum_value(
                    key,
                    value,
                    &[("disable", false), ("prefer", false), ("require", true)],
                    false,
                )?;
                if require {
                    return Err(ParseError::unsupported(key, "GSSAPI encryption is not supported"));
                }
            }
            Param::Pooling => spec.pool.pooling = boolean(key, value)?,
            Param::MinPoolSize => spec.pool.min_size = count(key, value, 0)?,
            Param::MaxPoolSize => spec.pool.max_size = count(key, value, 1)?,
            Param::ConnectionIdleLifetime => {
                spec.pool.idle_lifetime = Duration::from_secs(count(key, value, 0)?.into())
            }
            Param::ConnectionPruningInterval => {
                spec.pool.pruning_interval = Duration::from_secs(count(key, value, 1)?.into())
            }
            Param::ConnectionLifetime => spec.pool.max_lifetime = secs_or_none(count(key, value, 0)?),
            Param::CommandTimeout => spec.command_timeout = secs_or_none(count(key, value, 0)?),
            Param::HostRecheckSeconds => spec.host_recheck = Duration::from_secs(count(key, value, 0)?.into()),
            Param::SearchPath => spec.search_path = text(value),
            Param::Timezone => spec.timezone = text(value),
            Param::IncludeErrorDetail => spec.include_error_detail = boolean(key, value)?,
            Param::ReadPool => spec.read_pool = boolean(key, value)?,
            Param::Keepalive => spec.keepalives.app_interval = secs_or_none(count(key, value, 0)?),
            Param::Ignored(reason) => {
                spec.notes.push(format!("`{name}` ignored: {reason}"));
            }
            Param::Unsupported(reason) => {
                if !value.is_empty() {
                    return Err(ParseError::unsupported(key, reason));
                }
            }
        }
        Ok(())
    }

    fn finish(mut self, env: &dyn EnvSource) -> Result<ConnSpec, ParseError> {
        for entry in params::with_env() {
            let Some(var) = entry.env else { continue };
            if self.explicit.contains(entry.name) {
                continue;
            }
            if let Some(value) = env.var(var) {
                let shown = if entry.param == Param::Password {
                    "password"
                } else {
                    entry.name
                };
                self.apply(entry.param, entry.name, var, &value)?;
                self.spec.notes.push(crate::npgsql::spec_note(shown, var));
            }
        }
        self.spec.hosts = resolve_hosts(&self.hosts, &self.ports, &self.port_key)?;
        let spec = &mut self.spec;
        if spec.application_name.is_none() {
            spec.application_name = self.fallback_application_name.take();
        }
        if spec.ssl_mode == SslMode::Require && spec.root_cert.is_some() {
            spec.ssl_mode = SslMode::VerifyCa;
            spec.notes.push(
                "sslmode=require with a root certificate verifies the chain, as libpq does (now verify-ca)".into(),
            );
        }
        if spec.ssl_negotiation == SslNegotiation::Direct && !spec.ssl_mode.requires_tls() {
            return Err(ParseError::Inconsistent(format!(
                "sslnegotiation=direct needs sslmode require, verify-ca or verify-full (libpq refuses the weak sslmode {})",
                spec.ssl_mode.libpq_name()
            )));
        }
        if spec.pool.min_size > spec.pool.max_size {
            return Err(ParseError::Inconsistent(format!(
                "max_pool_size {} is under min_pool_size {}",
                spec.pool.max_size, spec.pool.min_size
            )));
        }
        Ok(self.spec)
    }
}

fn split_list(value: &str) -> Vec<String> {
    if value.is_empty() {
        Vec::new()
    } else {
        value.split(',').map(str::to_owned).collect()
    }
}

/// Pairs libpq's host and port lists: one port for all hosts or one per host; an empty host
/// is the default socket directory, an empty port the default port.
fn resolve_hosts(hosts: &[String], ports: &[String], port_key: &str) -> Result<Vec<HostSpec>, ParseError> {
    let hosts: Vec<&str> = if hosts.is_empty() {
        vec![""]
    } else {
        hosts.iter().map(String::as_str).collect()
    };
    if ports.len() > 1 && ports.len() != hosts.len() {
        return Err(ParseError::Inconsistent(format!(
            "could not match {} port numbers to {} hosts",
            ports.len(),
            hosts.len()
        )));
    }
    hosts
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port_text = ports.get(i).or_else(|| ports.first()).map_or("", String::as_str);
            let port = if port_text.is_empty() {
                DEFAULT_PORT
            } else {
                port(port_key, port_text, libpq_int(port_key, port_text)?)?
            };
            let host = if host.is_empty() {
                Host::Unix(PathBuf::from(DEFAULT_SOCKET_DIR))
            } else {
                Host::parse(host)
            };
            Ok(HostSpec { host, port })
        })
        .collect()
}

/// Whether `name` is a libpq keyword (or one of our extensions), exactly as written.
pub(crate) fn is_keyword(name: &str) -> bool {
    params::lookup(name, false).is_some()
}
