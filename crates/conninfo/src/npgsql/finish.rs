//! The end of an Npgsql parse: resolving the host list against `Port`, Npgsql's cross-key
//! checks (pool bounds, keepalive pairs), environment defaults and the notes `pccdb conninfo`
//! shows.

use std::path::PathBuf;

use secrecy::SecretString;

use super::Draft;
use crate::env::EnvSource;
use crate::error::ParseError;
use crate::host::{Host, HostSpec, split_host_port};
use crate::modes::TargetSessionAttrs;
use crate::spec::ConnSpec;
use crate::values::{dotnet_int, port};

impl Draft {
    pub(super) fn finish(mut self, env: &dyn EnvSource) -> Result<ConnSpec, ParseError> {
        let list = self.host_list.take().ok_or(ParseError::MissingHost)?;
        let mut hosts = Vec::new();
        for entry in list.split(',') {
            let entry = entry.trim();
            if entry.is_empty() {
                return Err(ParseError::invalid("Host", &list, "empty entry in the host list"));
            }
            let (host, port_text) = split_host_port(entry);
            let port = match port_text {
                None | Some("") => self.default_port,
                Some(p) => port("Host", entry, i64::from(dotnet_int("Host", p)?))?,
            };
            hosts.push(HostSpec {
                host: Host::parse(host),
                port,
            });
        }
        let spec = &mut self.spec;
        spec.hosts = hosts;
        if let Some(time) = self.tcp_keepalive_time {
            spec.keepalives.idle = Some(time);
            spec.keepalives.tcp = true;
        } else if spec.keepalives.interval.is_some() {
            return Err(ParseError::Inconsistent(
                "`Tcp Keepalive Interval` needs `Tcp Keepalive Time` as well".into(),
            ));
        }
        check_pool(spec)?;
        apply_env(spec, env);
        spec.notes.append(&mut self.ignored);
        if spec.hosts.len() == 1 && spec.target_session_attrs != TargetSessionAttrs::Any {
            spec.notes.push(format!(
                "single host with Target Session Attributes={}: Npgsql refuses this; here the server's role is checked after connecting and the connection fails if it does not match (as libpq does)",
                spec.target_session_attrs
            ));
        }
        Ok(self.spec)
    }
}

/// Npgsql's cross-key pool checks.
fn check_pool(spec: &ConnSpec) -> Result<(), ParseError> {
    let pool = &spec.pool;
    if pool.pooling && pool.max_size == 0 {
        return Err(ParseError::invalid(
            "Maximum Pool Size",
            "0",
            "must be at least 1 when pooling",
        ));
    }
    if pool.min_size > pool.max_size {
        return Err(ParseError::Inconsistent(format!(
            "`Maximum Pool Size` {} is under `Minimum Pool Size` {}",
            pool.max_size, pool.min_size
        )));
    }
    if pool.idle_lifetime < pool.pruning_interval {
        return Err(ParseError::Inconsistent(format!(
            "`Connection Idle Lifetime` {}s is under `Connection Pruning Interval` {}s",
            pool.idle_lifetime.as_secs(),
            pool.pruning_interval.as_secs()
        )));
    }
    Ok(())
}

/// Fills unset fields from the variables Npgsql reads, noting each one used.
fn apply_env(spec: &mut ConnSpec, env: &dyn EnvSource) {
    let mut notes = Vec::new();
    let mut take = |var: &str, field: &str| {
        let value = env.var(var);
        if value.is_some() {
            notes.push(spec_note(field, var));
        }
        value
    };
    if spec.username.is_none() {
        spec.username = take("PGUSER", "username");
    }
    if spec.password.is_none() {
        spec.password = take("PGPASSWORD", "password").map(SecretString::from);
    }
    if spec.passfile.is_none() {
        spec.passfile = take("PGPASSFILE", "passfile").map(PathBuf::from);
    }
    if spec.client_cert.is_none() {
        spec.client_cert = take("PGSSLCERT", "client certificate").map(PathBuf::from);
    }
    if spec.client_key.is_none() {
        spec.client_key = take("PGSSLKEY", "client key").map(PathBuf::from);
    }
    if spec.root_cert.is_none() {
        spec.root_cert = take("PGSSLROOTCERT", "root certificate").map(PathBuf::from);
    }
    if spec.client_encoding.is_none() {
        spec.client_encoding = take("PGCLIENTENCODING", "client encoding");
    }
    if spec.timezone.is_none() {
        spec.timezone = take("PGTZ", "timezone");
    }
    if spec.options.is_none() {
        spec.options = take("PGOPTIONS", "options");
    }
    spec.notes.extend(notes);
}

pub(crate) fn spec_note(field: &str, var: &str) -> String {
    format!("{field} taken from environment variable {var}")
}
