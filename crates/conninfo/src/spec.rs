//! [`ConnSpec`], the one typed form every connection string becomes, with its defaults,
//! builders and redacting `Display`/`Debug`.
//!
//! Fields are public so callers can read them without ceremony; parsing enforces the
//! invariants (a host is present, `min <= max`), and the builders keep them.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::host::{DEFAULT_PORT, HostSpec};
use crate::modes::{ChannelBinding, SslMode, SslNegotiation, Syntax, TargetSessionAttrs};

/// Pool sizing and connection recycling, with Npgsql's keywords and defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// Whether connections are pooled at all (`Pooling`, default true).
    pub pooling: bool,
    /// Connections kept open even when idle (`Minimum Pool Size`, default 0).
    pub min_size: u32,
    /// Upper bound on open connections (`Maximum Pool Size`, default 100).
    pub max_size: u32,
    /// An idle connection above `min_size` is closed after this long (`Connection Idle Lifetime`, 300 s).
    pub idle_lifetime: Duration,
    /// How often idle connections are looked at for closing (`Connection Pruning Interval`, 10 s).
    pub pruning_interval: Duration,
    /// A connection is closed once this old, `None` = never (`Connection Lifetime`, default 3600 s).
    pub max_lifetime: Option<Duration>,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            pooling: true,
            min_size: 0,
            max_size: 100,
            idle_lifetime: Duration::from_secs(300),
            pruning_interval: Duration::from_secs(10),
            max_lifetime: Some(Duration::from_secs(3600)),
        }
    }
}

/// TCP and application-level keepalive settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Keepalives {
    /// Turn on TCP keepalive (`Tcp Keepalive`, Npgsql default false; libpq `keepalives`, default on).
    pub tcp: bool,
    /// Idle time before the first probe (`Tcp Keepalive Time`, `keepalives_idle`).
    pub idle: Option<Duration>,
    /// Time between probes (`Tcp Keepalive Interval`, `keepalives_interval`).
    pub interval: Option<Duration>,
    /// Probes before the connection is dropped (`keepalives_count`).
    pub retries: Option<u32>,
    /// Npgsql's application keepalive: a no-op query after this much idleness (`Keepalive`).
    pub app_interval: Option<Duration>,
}

/// A fully typed PostgreSQL connection specification.
///
/// `Debug` and `Display` never show the password: `Debug` prints `[REDACTED]` (it is a
/// [`SecretString`]), `Display` prints a libpq URI with the password replaced by `********`.
/// Equality compares everything that changes how a connection is made, and ignores where the
/// spec came from (`syntax`, `notes`).
#[derive(Debug, Clone)]
pub struct ConnSpec {
    /// Hosts in the order given; at least one.
    pub hosts: Vec<HostSpec>,
    /// Database name; `None` means the server uses the user name.
    pub database: Option<String>,
    /// User name; `None` means `PGUSER`, then the operating-system user (resolved at connect time).
    pub username: Option<String>,
    /// Password, if given (never printed).
    pub password: Option<SecretString>,
    /// A `.pgpass`-format file consulted when no password is given.
    pub passfile: Option<PathBuf>,
    /// TLS level.
    pub ssl_mode: SslMode,
    /// How TLS starts.
    pub ssl_negotiation: SslNegotiation,
    /// PEM file with the CA certificate(s) the server chain must end in (VerifyCa, VerifyFull).
    pub root_cert: Option<PathBuf>,
    /// PEM client certificate chain for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// PEM client private key for mutual TLS.
    pub client_key: Option<PathBuf>,
    /// SCRAM channel binding policy.
    pub channel_binding: ChannelBinding,
    /// Which server of the host list a session may use.
    pub target_session_attrs: TargetSessionAttrs,
    /// Try hosts in random order instead of list order.
    pub load_balance_hosts: bool,
    /// The host is one load-balanced endpoint in front of several replica nodes that each replay WAL on
    /// their own (an AlloyDB read pool): two sessions to it may be on different nodes, so a router must
    /// judge every session's replay position by itself, never the host's. Our extension (`Read Pool` /
    /// `read_pool` / `readPool`); no driver knows it.
    pub read_pool: bool,
    /// How long a host's observed state (down, primary, standby) is trusted; zero = always recheck.
    pub host_recheck: Duration,
    /// Limit for one connection attempt to one host (TCP, TLS and authentication); `None` = none.
    pub connect_timeout: Option<Duration>,
    /// Limit for one statement; `None` = none.
    pub command_timeout: Option<Duration>,
    /// Pool sizing and recycling.
    pub pool: PoolSettings,
    /// Keepalives.
    pub keepalives: Keepalives,
    /// `application_name` reported to the server.
    pub application_name: Option<String>,
    /// Schema search path set at session start.
    pub search_path: Option<String>,
    /// Raw command-line options sent to the server (`-c name=value ...`).
    pub options: Option<String>,
    /// Session time zone.
    pub timezone: Option<String>,
    /// Client encoding requested (only UTF8 can be honored by tokio-postgres).
    pub client_encoding: Option<String>,
    /// Npgsql's `Include Error Detail`: whether server error details may be logged/shown.
    pub include_error_detail: bool,
    /// The syntax this spec was parsed from.
    pub syntax: Syntax,
    /// Remarks made while parsing: ignored keywords, values taken from the environment,
    /// deliberate deviations. Shown by `pccdb conninfo`.
    pub notes: Vec<String>,
}

impl ConnSpec {
    /// A spec for one TCP host with every other setting at its Npgsql default.
    pub fn for_host(host: &str, port: u16) -> Self {
        ConnSpec {
            hosts: vec![HostSpec::tcp(host, port)],
            database: None,
            username: None,
            password: None,
            passfile: None,
            ssl_mode: SslMode::default(),
            ssl_negotiation: SslNegotiation::default(),
            root_cert: None,
            client_cert: None,
            client_key: None,
            channel_binding: ChannelBinding::default(),
            target_session_attrs: TargetSessionAttrs::default(),
            load_balance_hosts: false,
            read_pool: false,
            host_recheck: Duration::from_secs(10),
            connect_timeout: Some(Duration::from_secs(15)),
            command_timeout: Some(Duration::from_secs(30)),
            pool: PoolSettings::default(),
            keepalives: Keepalives::default(),
            application_name: None,
            search_path: None,
            options: None,
            timezone: None,
            client_encoding: None,
            include_error_detail: false,
            syntax: Syntax::Built,
            notes: Vec::new(),
        }
    }

    /// The database the server will open: the given one, else the user name.
    pub fn effective_database(&self) -> Option<&str> {
        self.database.as_deref().or(self.username.as_deref())
    }

    /// Replaces the user name.
    #[must_use]
    pub fn with_user(mut self, user: impl Into<String>) -> Self {
        self.username = Some(user.into());
        self
    }

    /// Replaces the password.
    #[must_use]
    pub fn with_password(mut self, password: SecretString) -> Self {
        self.password = Some(password);
        self
    }

    /// Replaces the database.
    #[must_use]
    pub fn with_database(mut self, database: impl Into<String>) -> Self {
        self.database = Some(database.into());
        self
    }

    /// Replaces the host list.
    #[must_use]
    pub fn with_hosts(mut self, hosts: Vec<HostSpec>) -> Self {
        self.hosts = hosts;
        self
    }

    /// Replaces the target session attributes.
    #[must_use]
    pub fn with_target_session_attrs(mut self, attrs: TargetSessionAttrs) -> Self {
        self.target_session_attrs = attrs;
        self
    }

    /// Replaces the TLS mode.
    #[must_use]
    pub fn with_ssl_mode(mut self, mode: SslMode) -> Self {
        self.ssl_mode = mode;
        self
    }

    /// Replaces the root certificate file.
    #[must_use]
    pub fn with_root_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.root_cert = Some(path.into());
        self
    }

    /// Replaces the connect timeout (`None` = wait indefinitely).
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Replaces the command timeout (`None` = none).
    #[must_use]
    pub fn with_command_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.command_timeout = timeout;
        self
    }

    /// Replaces the application name.
    #[must_use]
    pub fn with_application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = Some(name.into());
        self
    }

    /// Replaces the pool settings.
    #[must_use]
    pub fn with_pool(mut self, pool: PoolSettings) -> Self {
        self.pool = pool;
        self
    }

    /// Turns host load balancing on or off.
    #[must_use]
    pub fn with_load_balance_hosts(mut self, on: bool) -> Self {
        self.load_balance_hosts = on;
        self
    }

    /// Marks the host as a load-balanced read pool endpoint (see [`ConnSpec::read_pool`]).
    #[must_use]
    pub fn with_read_pool(mut self, on: bool) -> Self {
        self.read_pool = on;
        self
    }

    /// Replaces how long observed host states are trusted.
    #[must_use]
    pub fn with_host_recheck(mut self, recheck: Duration) -> Self {
        self.host_recheck = recheck;
        self
    }

    /// Appends a server setting applied at session start (`-c name=value` in `options`),
    /// escaping spaces and backslashes the way the server's option parser expects.
    #[must_use]
    pub fn with_setting(mut self, name: &str, value: &str) -> Self {
        let item = format!("-c {}={}", escape_option(name), escape_option(value));
        self.options = Some(match self.options.take() {
            Some(existing) if !existing.trim().is_empty() => format!("{existing} {item}"),
            _ => item,
        });
        self
    }

    /// The primary host's port (the first host), for single-host callers.
    pub fn first_port(&self) -> u16 {
        self.hosts.first().map_or(DEFAULT_PORT, |host| host.port)
    }
}

/// Escapes a value for the server's `options` startup parameter: a backslash protects the next
/// character, and unescaped spaces separate arguments.
pub(crate) fn escape_option(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        if ch == '\\' || ch.is_whitespace() {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

impl PartialEq for ConnSpec {
    fn eq(&self, other: &Self) -> bool {
        let same_password = match (&self.password, &other.password) {
            (None, None) => true,
            (Some(a), Some(b)) => a.expose_secret() == b.expose_secret(),
            _ => false,
        };
        same_password
            && self.hosts == other.hosts
            && self.database == other.database
            && self.username == other.username
            && self.passfile == other.passfile
            && self.ssl_mode == other.ssl_mode
            && self.ssl_negotiation == other.ssl_negotiation
            && self.root_cert == other.root_cert
            && self.client_cert == other.client_cert
            && self.client_key == other.client_key
            && self.channel_binding == other.channel_binding
            && self.target_session_attrs == other.target_session_attrs
            && self.load_balance_hosts == other.load_balance_hosts
            && self.read_pool == other.read_pool
            && self.host_recheck == other.host_recheck
            && self.connect_timeout == other.connect_timeout
            && self.command_timeout == other.command_timeout
            && self.pool == other.pool
            && self.keepalives == other.keepalives
            && self.application_name == other.application_name
            && self.search_path == other.search_path
            && self.options == other.options
            && self.timezone == other.timezone
            && self.client_encoding == other.client_encoding
            && self.include_error_detail == other.include_error_detail
    }
}

impl Eq for ConnSpec {}

impl fmt::Display for ConnSpec {
    /// A libpq URI with the password replaced by `********`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_libpq_uri_redacted())
    }
}
