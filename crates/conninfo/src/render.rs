//! Rendering a [`ConnSpec`] back to text: an Npgsql string and a libpq URI, each in a redacted
//! form (password shown as `********`, for logs and `Display`) and a secret form (the real
//! password, returned only as a [`SecretString`]).
//!
//! Only settings that differ from the target syntax's defaults are written, so output stays
//! short and parses back to an equal spec. Lossy cases (no keyword in the target syntax):
//! `keepalives_count` and a keepalive interval without an idle time in Npgsql; a root
//! certificate under `sslmode=require` in libpq (libpq would verify with it; it is unused anyway).

use std::fmt::Write as _;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};

use crate::host::{Host, HostSpec};
use crate::modes::{ChannelBinding, SslMode, SslNegotiation, TargetSessionAttrs};
use crate::spec::{ConnSpec, PoolSettings};
use crate::values::whole_secs;

/// What is shown in place of a password.
pub const REDACTED: &str = "********";

/// Characters left as they are in URI components (RFC 3986 unreserved).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

#[derive(Clone, Copy, PartialEq, Eq)]
enum Password {
    Redacted,
    Revealed,
}

impl ConnSpec {
    /// The spec as an Npgsql connection string, password replaced by `********`.
    pub fn to_npgsql_redacted(&self) -> String {
        self.npgsql(Password::Redacted)
    }

    /// The spec as an Npgsql connection string including the password.
    pub fn to_npgsql_secret(&self) -> SecretString {
        SecretString::from(self.npgsql(Password::Revealed))
    }

    /// The spec as a libpq URI, password replaced by `********`.
    pub fn to_libpq_uri_redacted(&self) -> String {
        self.uri(Password::Redacted)
    }

    /// The spec as a libpq URI including the password (our extension parameters included).
    pub fn to_libpq_uri_secret(&self) -> SecretString {
        SecretString::from(self.uri(Password::Revealed))
    }

    /// The spec as a URI that libpq itself (psql, pg_dump, any libpq client) accepts as printed,
    /// password replaced by `********`: see [`ConnSpec::to_libpq_uri_portable_secret`].
    pub fn to_libpq_uri_portable_redacted(&self) -> String {
        self.portable_uri(Password::Redacted)
    }

    /// The spec as a URI that libpq itself accepts as printed, including the password. Lossy on
    /// purpose: `search_path` and `timezone` travel as `options=-c ...` (as `connect` sends them),
    /// and what libpq has no keyword for (pool settings, command timeout, host recheck, the
    /// application-level keepalive, error detail) is left out.
    pub fn to_libpq_uri_portable_secret(&self) -> SecretString {
        SecretString::from(self.portable_uri(Password::Revealed))
    }

    fn npgsql(&self, password: Password) -> String {
        let defaults = ConnSpec::for_host("localhost", 5432);
        let mut out = Vec::<(&str, String)>::new();
        // One shared port is written as `Port=`, as in the seed plan's strings; mixed ports stay
        // on each host (`host:port`).
        let shared_port = self
            .hosts
            .first()
            .map(|h| h.port)
            .filter(|p| self.hosts.iter().all(|h| h.port == *p));
        match shared_port {
            Some(port) => {
                let hosts: Vec<String> = self.hosts.iter().map(|h| npgsql_bare_host(&h.host)).collect();
                out.push(("Host", hosts.join(",")));
                out.push(("Port", port.to_string()));
            }
            None => {
                let hosts: Vec<String> = self.hosts.iter().map(npgsql_host).collect();
                out.push(("Host", hosts.join(",")));
            }
        }
        push_opt(&mut out, "Database", self.database.as_deref());
        push_opt(&mut out, "Username", self.username.as_deref());
        if let Some(secret) = &self.password {
            out.push(("Password", reveal(secret, password)));
        }
        push_path(&mut out, "Passfile", self.passfile.as_deref());
        if self.ssl_mode != SslMode::Prefer {
            out.push(("SSL Mode", self.ssl_mode.npgsql_name().to_owned()));
        }
        if self.ssl_negotiation != SslNegotiation::Postgres {
            out.push(("SSL Negotiation", self.ssl_negotiation.npgsql_name().to_owned()));
        }
        if self.channel_binding != ChannelBinding::Prefer {
            out.push(("Channel Binding", self.channel_binding.npgsql_name().to_owned()));
        }
        push_path(&mut out, "Root Certificate", self.root_cert.as_deref());
        push_path(&mut out, "SSL Certificate", self.client_cert.as_deref());
        push_path(&mut out, "SSL Key", self.client_key.as_deref());
        if self.target_session_attrs != TargetSessionAttrs::Any {
            out.push(("Target Session Attributes", self.target_session_attrs.name().to_owned()));
        }
        if self.load_balance_hosts {
            out.push(("Load Balance Hosts", "true".to_owned()));
        }
        if self.read_pool {
            out.push(("Read Pool", "true".to_owned()));
        }
        if self.host_recheck != defaults.host_recheck {
            out.push(("Host Recheck Seconds", whole_secs(self.host_recheck).to_string()));
        }
        if self.connect_timeout != defaults.connect_timeout {
            out.push(("Timeout", opt_secs(self.connect_timeout)));
        }
        if self.command_timeout != defaults.command_timeout {
            out.push(("Command Timeout", opt_secs(self.command_timeout)));
        }
        npgsql_pool(&mut out, &self.pool, &defaults.pool);
        let keepalives = &self.keepalives;
        if let Some(app) = keepalives.app_interval {
            out.push(("Keepalive", whole_secs(app).to_string()));
        }
        if keepalives.tcp {
            out.push(("Tcp Keepalive", "true".to_owned()));
        }
        if let Some(idle) = keepalives.idle {
            out.push(("Tcp Keepalive Time", whole_secs(idle).to_string()));
            if let Some(interval) = keepalives.interval {
                out.push(("Tcp Keepalive Interval", whole_secs(interval).to_string()));
            }
        }
        push_opt(&mut out, "Application Name", self.application_name.as_deref());
        push_opt(&mut out, "Search Path", self.search_path.as_deref());
        push_opt(&mut out, "Options", self.options.as_deref());
        push_opt(&mut out, "Timezone", self.timezone.as_deref());
        push_opt(&mut out, "Client Encoding", self.client_encoding.as_deref());
        if self.include_error_detail {
            out.push(("Include Error Detail", "true".to_owned()));
        }
        let mut text = String::new();
        for (key, value) in out {
            if !text.is_empty() {
                text.push(';');
            }
            let _ = write!(text, "{key}={}", npgsql_quote(&value));
        }
        text
    }

    fn uri(&self, password: Password) -> String {
        self.uri_with(password, &self.uri_params())
    }

    fn portable_uri(&self, password: Password) -> String {
        self.uri_with(password, &portable_params(self.uri_params()))
    }

    fn uri_with(&self, password: Password, query: &[(&'static str, String)]) -> String {
        let mut text = String::from("postgresql://");
        if self.username.is_some() || self.password.is_some() {
            if let Some(user) = &self.username {
                text.push_str(&encode(user));
            }
            if let Some(secret) = &self.password {
                text.push(':');
                match password {
                    Password::Redacted => text.push_str(REDACTED),
                    Password::Revealed => text.push_str(&encode(secret.expose_secret())),
                }
            }
            text.push('@');
        }
        let hosts: Vec<String> = self.hosts.iter().map(uri_host).collect();
        text.push_str(&hosts.join(","));
        if let Some(db) = &self.database {
            text.push('/');
            text.push_str(&encode(db));
        }
        for (i, (key, value)) in query.iter().enumerate() {
            text.push(if i == 0 { '?' } else { '&' });
            let _ = write!(text, "{key}={}", encode(value));
        }
        text
    }

    fn uri_params(&self) -> Vec<(&'static str, String)> {
        let defaults = ConnSpec::for_host("localhost", 5432);
        let mut out = Vec::new();
        push_path(&mut out, "passfile", self.passfile.as_deref());
        if self.ssl_mode != SslMode::Prefer {
            out.push(("sslmode", self.ssl_mode.libpq_name().to_owned()));
        }
        if self.ssl_negotiation != SslNegotiation::Postgres {
            out.push(("sslnegotiation", self.ssl_negotiation.libpq_name().to_owned()));
        }
        if self.channel_binding != ChannelBinding::Prefer {
            out.push(("channel_binding", self.channel_binding.libpq_name().to_owned()));
        }
        if self.ssl_mode != SslMode::Require {
            push_path(&mut out, "sslrootcert", self.root_cert.as_deref());
        }
        push_path(&mut out, "sslcert", self.client_cert.as_deref());
        push_path(&mut out, "sslkey", self.client_key.as_deref());
        if self.target_session_attrs != TargetSessionAttrs::Any {
            out.push(("target_session_attrs", self.target_session_attrs.name().to_owned()));
        }
        if self.load_balance_hosts {
            out.push(("load_balance_hosts", "random".to_owned()));
        }
        if self.read_pool {
            out.push(("read_pool", "true".to_owned()));
        }
        if self.host_recheck != defaults.host_recheck {
            out.push(("host_recheck_seconds", whole_secs(self.host_recheck).to_string()));
        }
        if let Some(timeout) = self.connect_timeout {
            out.push(("connect_timeout", whole_secs(timeout).to_string()));
        }
        if let Some(timeout) = self.command_timeout {
            out.push(("command_timeout", whole_secs(timeout).to_string()));
        }
        let (pool, default_pool) = (&self.pool, &defaults.pool);
        if !pool.pooling {
            out.push(("pooling", "false".to_owned()));
        }
        if pool.min_size != default_pool.min_size {
            out.push(("min_pool_size", pool.min_size.to_string()));
        }
        if pool.max_size != default_pool.max_size {
            out.push(("max_pool_size", pool.max_size.to_string()));
        }
        if pool.idle_lifetime != default_pool.idle_lifetime {
            out.push(("connection_idle_lifetime", whole_secs(pool.idle_lifetime).to_string()));
        }
        if pool.pruning_interval != default_pool.pruning_interval {
            out.push((
                "connection_pruning_interval",
                whole_secs(pool.pruning_interval).to_string(),
            ));
        }
        if pool.max_lifetime != default_pool.max_lifetime {
            out.push(("connection_lifetime", opt_secs(pool.max_lifetime)));
        }
        let keepalives = &self.keepalives;
        if !keepalives.tcp {
            out.push(("keepalives", "0".to_owned()));
        }
        let seconds = |d: Option<Duration>| d.map(|d| whole_secs(d).to_string());
        if let Some(idle) = seconds(keepalives.idle) {
            out.push(("keepalives_idle", idle));
        }
        if let Some(interval) = seconds(keepalives.interval) {
            out.push(("keepalives_interval", interval));
        }
        if let Some(retries) = keepalives.retries {
            out.push(("keepalives_count", retries.to_string()));
        }
        if let Some(app) = seconds(keepalives.app_interval) {
            out.push(("keepalive", app));
        }
        push_opt(&mut out, "application_name", self.application_name.as_deref());
        push_opt(&mut out, "search_path", self.search_path.as_deref());
        push_opt(&mut out, "options", self.options.as_deref());
        push_opt(&mut out, "timezone", self.timezone.as_deref());
        push_opt(&mut out, "client_encoding", self.client_encoding.as_deref());
        if self.include_error_detail {
            out.push(("include_error_detail", "true".to_owned()));
        }
        out
    }
}

/// URI parameters libpq 15 knows (plus `sslnegotiation` and `load_balance_hosts`, which newer
/// libpq versions know and which are only written when set away from their defaults).
const LIBPQ_KEYWORDS: &[&str] = &[
    "passfile",
    "sslmode",
    "sslnegotiation",
    "channel_binding",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "target_session_attrs",
    "load_balance_hosts",
    "connect_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "application_name",
    "options",
    "client_encoding",
];

/// Folds `search_path` / `timezone` into `options` and drops our extension keywords.
fn portable_params(params: Vec<(&'static str, String)>) -> Vec<(&'static str, String)> {
    let mut settings = Vec::new();
    let mut options = None;
    let mut out = Vec::new();
    for (key, value) in params {
        match key {
            "search_path" => settings.push(format!("-c search_path={}", escape_option(&value))),
            "timezone" => settings.push(format!("-c TimeZone={}", escape_option(&value))),
            "options" => options = Some(value),
            _ if LIBPQ_KEYWORDS.contains(&key) => out.push((key, value)),
            _ => {}
        }
    }
    let joined: Vec<String> = options.into_iter().chain(settings).collect();
    if !joined.is_empty() {
        out.push(("options", joined.join(" ")));
    }
    out
}

/// Escapes a value inside libpq's `options` (whitespace separates arguments there).
fn escape_option(value: &str) -> String {
    value.replace('\\', "\\\\").replace(' ', "\\ ")
}

fn npgsql_pool(out: &mut Vec<(&str, String)>, pool: &PoolSettings, defaults: &PoolSettings) {
    if !pool.pooling {
        out.push(("Pooling", "false".to_owned()));
    }
    if pool.min_size != defaults.min_size {
        out.push(("Minimum Pool Size", pool.min_size.to_string()));
    }
    if pool.max_size != defaults.max_size {
        out.push(("Maximum Pool Size", pool.max_size.to_string()));
    }
    if pool.idle_lifetime != defaults.idle_lifetime {
        out.push(("Connection Idle Lifetime", whole_secs(pool.idle_lifetime).to_string()));
    }
    if pool.pruning_interval != defaults.pruning_interval {
        out.push((
            "Connection Pruning Interval",
            whole_secs(pool.pruning_interval).to_string(),
        ));
    }
    if pool.max_lifetime != defaults.max_lifetime {
        out.push(("Connection Lifetime", opt_secs(pool.max_lifetime)));
    }
}

fn reveal(secret: &SecretString, mode: Password) -> String {
    match mode {
        Password::Redacted => REDACTED.to_owned(),
        Password::Revealed => secret.expose_secret().to_owned(),
    }
}

fn opt_secs(duration: Option<Duration>) -> String {
    duration.map_or(0, whole_secs).to_string()
}

fn push_opt<'a>(out: &mut Vec<(&'a str, String)>, key: &'a str, value: Option<&str>) {
    if let Some(value) = value {
        out.push((key, value.to_owned()));
    }
}

fn push_path<'a>(out: &mut Vec<(&'a str, String)>, key: &'a str, value: Option<&std::path::Path>) {
    if let Some(value) = value {
        out.push((key, value.display().to_string()));
    }
}

/// `host:port` for an Npgsql host list (the port is always written, so it survives `Port=`).
fn npgsql_host(spec: &HostSpec) -> String {
    spec.to_string()
}

/// A host without its port: IPv6 in brackets, so a later `Port=` cannot be mistaken for part of it.
fn npgsql_bare_host(host: &Host) -> String {
    match host {
        Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
        Host::Tcp(name) => name.clone(),
        Host::Unix(dir) => dir.display().to_string(),
    }
}

fn uri_host(spec: &HostSpec) -> String {
    let host = match &spec.host {
        Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
        Host::Tcp(name) => encode(name),
        Host::Unix(dir) => encode(&dir.display().to_string()),
    };
    format!("{host}:{}", spec.port)
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

/// Double-quotes an Npgsql value when the grammar would otherwise change it.
fn npgsql_quote(value: &str) -> String {
    let needs = value.is_empty()
        || value.starts_with(char::is_whitespace)
        || value.starts_with('=')
        || value.ends_with(char::is_whitespace)
        || value.contains([';', '"', '\''])
        || value.contains(char::is_control);
    if needs {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}
