//! Npgsql (`Key=Value;...`) connection strings: the .NET grammar ([`grammar`]), Npgsql's
//! keyword table ([`keywords`]) and the rules that turn the pairs into a [`ConnSpec`].
//!
//! Pairs apply in order, so duplicates and synonyms resolve "last one wins" and `Key=` resets a
//! key to its default. Cross-key checks (host present, pool bounds) run once at the end, as
//! Npgsql does when the data source is built.

mod finish;
mod grammar;
mod keywords;

pub(crate) use finish::spec_note;

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::env::EnvSource;
use crate::error::ParseError;
use crate::host::DEFAULT_PORT;
use crate::modes::{ChannelBinding, SslMode, SslNegotiation, Syntax, TargetSessionAttrs};
use crate::spec::ConnSpec;
use crate::values::{dotnet_bool, dotnet_int, dotnet_int_in, enum_value, named_value, port, secs_or_none};
use keywords::{IgnoredValue, Kw};

/// Npgsql's upper bound for `Timeout` and pool sizes.
const NPGSQL_LIMIT: i32 = 1024;

/// Parses an Npgsql connection string, taking `PG*` defaults from `env`
/// (`PGUSER`, `PGPASSWORD`, `PGPASSFILE`, `PGSSLCERT`, `PGSSLKEY`, `PGSSLROOTCERT`,
/// `PGCLIENTENCODING`, `PGTZ`, `PGOPTIONS`: the variables Npgsql itself reads).
pub(crate) fn parse(text: &str, env: &dyn EnvSource) -> Result<ConnSpec, ParseError> {
    let mut draft = Draft::default();
    for pair in grammar::pairs(text)? {
        let entry = keywords::lookup(&pair.key).ok_or_else(|| ParseError::UnknownKey {
            syntax: Syntax::Npgsql,
            key: pair.key.clone(),
        })?;
        draft.apply(entry, &pair.key, pair.value.as_deref())?;
    }
    draft.finish(env)
}

/// The spec being built plus the keys whose meaning depends on other keys.
struct Draft {
    spec: ConnSpec,
    host_list: Option<String>,
    default_port: u16,
    tcp_keepalive_time: Option<Duration>,
    ignored: Vec<String>,
}

impl Default for Draft {
    fn default() -> Self {
        let mut spec = ConnSpec::for_host("localhost", DEFAULT_PORT);
        spec.hosts.clear();
        spec.syntax = Syntax::Npgsql;
        Draft {
            spec,
            host_list: None,
            default_port: DEFAULT_PORT,
            tcp_keepalive_time: None,
            ignored: Vec::new(),
        }
    }
}

fn text(value: Option<&str>) -> Option<String> {
    value.filter(|v| !v.is_empty()).map(str::to_owned)
}

fn path(value: Option<&str>) -> Option<PathBuf> {
    text(value).map(PathBuf::from)
}

impl Draft {
    fn apply(&mut self, entry: &keywords::Entry, key: &str, value: Option<&str>) -> Result<(), ParseError> {
        let defaults = ConnSpec::for_host("localhost", DEFAULT_PORT);
        let spec = &mut self.spec;
        // `None` (written `Key=`) resets to the default; every arm handles it.
        match entry.kw {
            Kw::Host => self.host_list = text(value),
            Kw::Port => {
                self.default_port = match value {
                    None => DEFAULT_PORT,
                    Some(v) => port(key, v, i64::from(dotnet_int(key, v)?))?,
                }
            }
            Kw::Database => spec.database = text(value),
            Kw::Username => spec.username = text(value),
            Kw::Password => spec.password = text(value).map(SecretString::from),
            Kw::Passfile => spec.passfile = path(value),
            Kw::ApplicationName => spec.application_name = text(value),
            Kw::SearchPath => spec.search_path = text(value),
            Kw::ClientEncoding => spec.client_encoding = text(value),
            Kw::Encoding => {
                if let Some(v) = value.filter(|v| !is_utf8_name(v)) {
                    return Err(ParseError::unsupported(
                        key,
                        format!("the client always encodes text as UTF8, not `{v}`"),
                    ));
                }
            }
            Kw::Timezone => spec.timezone = text(value),
            Kw::SslMode => {
                spec.ssl_mode = match value {
                    None => SslMode::default(),
                    Some(v) => named_value(key, v, &SslMode::ALL, SslMode::npgsql_name, true)?,
                }
            }
            Kw::TrustServerCertificate => {
                if let Some(v) = value {
                    dotnet_bool(key, v)?;
                    self.ignored
                        .push(format!("`{key}` is obsolete and has no effect (as in Npgsql 8)"));
                }
            }
            Kw::SslCertificate => spec.client_cert = path(value),
            Kw::SslKey => spec.client_key = path(value),
            Kw::SslPassword => {
                if value.is_some_and(|v| !v.is_empty()) {
                    return Err(ParseError::unsupported(
                        key,
                        "encrypted client keys are not supported; give an unencrypted PEM key",
                    ));
                }
            }
            Kw::RootCertificate => spec.root_cert = path(value),
            Kw::CheckCertificateRevocation => {
                if let Some(v) = value
                    && dotnet_bool(key, v)?
                {
                    return Err(ParseError::unsupported(key, "certificate revocation is not checked"));
                }
            }
            Kw::SslNegotiation => {
                spec.ssl_negotiation = match value {
                    None => SslNegotiation::default(),
                    Some(v) => named_value(key, v, &SslNegotiation::ALL, SslNegotiation::npgsql_name, true)?,
                }
            }
            Kw::ChannelBinding => {
                spec.channel_binding = match value {
                    None => ChannelBinding::default(),
                    Some(v) => named_value(key, v, &ChannelBinding::ALL, ChannelBinding::npgsql_name, true)?,
                }
            }
            Kw::GssEncryptionMode => {
                if let Some(v) = value {
                    let mode = enum_value(key, v, &[("Disable", 0), ("Prefer", 1), ("Require", 2)], true)?;
                    if mode == 2 {
                        return Err(ParseError::unsupported(key, "GSSAPI encryption is not supported"));
                    }
                }
            }
            Kw::IncludeErrorDetail => {
                spec.include_error_detail = value.map(|v| dotnet_bool(key, v)).transpose()?.unwrap_or(false);
            }
            Kw::Pooling => spec.pool.pooling = value.map(|v| dotnet_bool(key, v)).transpose()?.unwrap_or(true),
            Kw::MinPoolSize => {
                spec.pool.min_size = match value {
                    None => defaults.pool.min_size,
                    Some(v) => dotnet_int_in(key, v, 0, NPGSQL_LIMIT)?,
                }
            }
            Kw::MaxPoolSize => {
                spec.pool.max_size = match value {
                    None => defaults.pool.max_size,
                    Some(v) => dotnet_int_in(key, v, 0, NPGSQL_LIMIT)?,
                }
            }
            Kw::ConnectionIdleLifetime => {
                spec.pool.idle_lifetime = match value {
                    None => defaults.pool.idle_lifetime,
                    Some(v) => secs(dotnet_int_in(key, v, 0, i32::MAX)?),
                }
            }
            Kw::ConnectionPruningInterval => {
                spec.pool.pruning_interval = match value {
                    None => defaults.pool.pruning_interval,
                    Some(v) => secs(dotnet_int_in(key, v, 1, i32::MAX)?),
                }
            }
            Kw::ConnectionLifetime => {
                spec.pool.max_lifetime = match value {
                    None => defaults.pool.max_lifetime,
                    Some(v) => secs_or_none(dotnet_int_in(key, v, 0, i32::MAX)?),
                }
            }
            Kw::Timeout => {
                spec.connect_timeout = match value {
                    None => defaults.connect_timeout,
                    Some(v) => secs_or_none(dotnet_int_in(key, v, 0, NPGSQL_LIMIT)?),
                }
            }
            Kw::CommandTimeout => {
                spec.command_timeout = match value {
                    None => defaults.command_timeout,
                    Some(v) => secs_or_none(dotnet_int_in(key, v, 0, i32::MAX)?),
                }
            }
            Kw::TargetSessionAttributes => {
                spec.target_session_attrs = match value {
                    None => TargetSessionAttrs::default(),
                    Some(v) => TargetSessionAttrs::from_name(v.trim()).ok_or_else(|| {
                        ParseError::invalid(
                            key,
                            v,
                            "expected any, primary, standby, prefer-primary, prefer-standby, read-write or read-only",
                        )
                    })?,
                }
            }
            Kw::LoadBalanceHosts => {
                spec.load_balance_hosts = value.map(|v| dotnet_bool(key, v)).transpose()?.unwrap_or(false);
            }
            Kw::ReadPool => {
                spec.read_pool = value.map(|v| dotnet_bool(key, v)).transpose()?.unwrap_or(false);
            }
            Kw::HostRecheckSeconds => {
                spec.host_recheck = match value {
                    None => defaults.host_recheck,
                    Some(v) => secs(dotnet_int_in(key, v, 0, i32::MAX)?),
                }
            }
            Kw::Keepalive => {
                spec.keepalives.app_interval = match value {
                    None => None,
                    Some(v) => secs_or_none(dotnet_int_in(key, v, 0, i32::MAX)?),
                }
            }
            Kw::TcpKeepalive => {
                spec.keepalives.tcp = value.map(|v| dotnet_bool(key, v)).transpose()?.unwrap_or(false);
            }
            Kw::TcpKeepaliveTime => {
                self.tcp_keepalive_time = match value {
                    None => None,
                    Some(v) => secs_or_none(dotnet_int_in(key, v, 0, i32::MAX)?),
                }
            }
            Kw::TcpKeepaliveInterval => {
                spec.keepalives.interval = match value {
                    None => None,
                    Some(v) => secs_or_none(dotnet_int_in(key, v, 0, i32::MAX)?),
                }
            }
            Kw::Options => spec.options = text(value),
            Kw::Ignored(kind, reason) => {
                if let Some(v) = value {
                    match kind {
                        IgnoredValue::Bool => {
                            let _: bool = dotnet_bool(key, v)?;
                        }
                        IgnoredValue::Int => {
                            let _: i32 = dotnet_int(key, v)?;
                        }
                        IgnoredValue::Text => {}
                    }
                    self.ignored.push(format!("`{}` ignored: {reason}", entry.canonical));
                }
            }
        }
        Ok(())
    }
}

fn secs(seconds: u32) -> Duration {
    Duration::from_secs(u64::from(seconds))
}

fn is_utf8_name(value: &str) -> bool {
    let v = value.trim();
    v.eq_ignore_ascii_case("UTF8") || v.eq_ignore_ascii_case("UTF-8")
}
