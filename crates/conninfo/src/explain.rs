//! The explanation of a [`ConnSpec`] that `pccdb conninfo` prints: what the string means, in
//! plain serializable data (the password appears only as "set" or "not set").

use serde::Serialize;

use crate::host::HostView;
use crate::modes::{ChannelBinding, SslMode, SslNegotiation, Syntax, TargetSessionAttrs};
use crate::spec::ConnSpec;

/// Everything a connection string says, password redacted.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The syntax the string was written in.
    pub syntax: Syntax,
    /// Hosts in the order they are tried (before load balancing shuffles them).
    pub hosts: Vec<HostView>,
    /// The database; `None` means "the user name".
    pub database: Option<String>,
    /// The user; `None` means the operating-system user.
    pub user: Option<String>,
    /// `set`, `not set`, or `from passfile <path>`; never the password.
    pub password: String,
    /// TLS settings and what they verify.
    pub tls: TlsView,
    /// Host selection.
    pub session: SessionView,
    /// Timeouts.
    pub timeouts: TimeoutsView,
    /// Pool settings.
    pub pool: PoolView,
    /// Settings applied at session start.
    pub application_name: Option<String>,
    /// Schema search path.
    pub search_path: Option<String>,
    /// Session time zone.
    pub timezone: Option<String>,
    /// Client encoding.
    pub client_encoding: Option<String>,
    /// Raw server options.
    pub options: Option<String>,
    /// TCP keepalive on.
    pub tcp_keepalive: bool,
    /// Remarks: ignored keywords, environment defaults used, deliberate deviations.
    pub notes: Vec<String>,
}

/// TLS as configured.
#[derive(Debug, Clone, Serialize)]
pub struct TlsView {
    /// The mode.
    pub mode: SslMode,
    /// Whether a connection without TLS is refused.
    pub encryption_required: bool,
    /// Whether the certificate chain is verified against `root_cert`.
    pub verifies_chain: bool,
    /// Whether the certificate must name the host.
    pub verifies_host_name: bool,
    /// CA file.
    pub root_cert: Option<String>,
    /// Client certificate file.
    pub client_cert: Option<String>,
    /// Client key file.
    pub client_key: Option<String>,
    /// How the handshake starts.
    pub negotiation: SslNegotiation,
    /// SCRAM channel binding.
    pub channel_binding: ChannelBinding,
}

/// Host selection.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    /// Target session attributes.
    pub target_session_attrs: TargetSessionAttrs,
    /// Whether hosts are tried in random order.
    pub load_balance_hosts: bool,
    /// Whether the host is a load-balanced read pool endpoint (consistency judged per session).
    pub read_pool: bool,
    /// Seconds a host's observed state is trusted.
    pub host_recheck_seconds: u64,
}

/// Timeouts in seconds; `None` = none.
#[derive(Debug, Clone, Serialize)]
pub struct TimeoutsView {
    /// Per-host connect timeout.
    pub connect_seconds: Option<u64>,
    /// Statement timeout.
    pub command_seconds: Option<u64>,
}

/// Pool settings in plain numbers.
#[derive(Debug, Clone, Serialize)]
pub struct PoolView {
    /// Pooling on.
    pub pooling: bool,
    /// Minimum size.
    pub min_size: u32,
    /// Maximum size.
    pub max_size: u32,
    /// Idle lifetime, seconds.
    pub idle_lifetime_seconds: u64,
    /// Pruning interval, seconds.
    pub pruning_interval_seconds: u64,
    /// Maximum connection age, seconds (`None` = unlimited).
    pub connection_lifetime_seconds: Option<u64>,
}

impl ConnSpec {
    /// Explains the spec for people and scripts (`pccdb conninfo`).
    pub fn explain(&self) -> Explanation {
        let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let password = match (&self.password, &self.passfile) {
            (Some(_), _) => "set (redacted)".to_owned(),
            (None, Some(file)) => format!("from passfile {}", file.display()),
            (None, None) => "not set (~/.pgpass is consulted at connect time)".to_owned(),
        };
        Explanation {
            syntax: self.syntax,
            hosts: self.hosts.iter().map(crate::HostSpec::explain).collect(),
            database: self.database.clone(),
            user: self.username.clone(),
            password,
            tls: TlsView {
                mode: self.ssl_mode,
                encryption_required: self.ssl_mode.requires_tls(),
                verifies_chain: self.ssl_mode.verifies_chain(),
                verifies_host_name: self.ssl_mode.verifies_host_name(),
                root_cert: path(&self.root_cert),
                client_cert: path(&self.client_cert),
                client_key: path(&self.client_key),
                negotiation: self.ssl_negotiation,
                channel_binding: self.channel_binding,
            },
            session: SessionView {
                target_session_attrs: self.target_session_attrs,
                load_balance_hosts: self.load_balance_hosts,
                read_pool: self.read_pool,
                host_recheck_seconds: self.host_recheck.as_secs(),
            },
            timeouts: TimeoutsView {
                connect_seconds: self.connect_timeout.map(|d| d.as_secs()),
                command_seconds: self.command_timeout.map(|d| d.as_secs()),
            },
            pool: PoolView {
                pooling: self.pool.pooling,
                min_size: self.pool.min_size,
                max_size: self.pool.max_size,
                idle_lifetime_seconds: self.pool.idle_lifetime.as_secs(),
                pruning_interval_seconds: self.pool.pruning_interval.as_secs(),
                connection_lifetime_seconds: self.pool.max_lifetime.map(|d| d.as_secs()),
            },
            application_name: self.application_name.clone(),
            search_path: self.search_path.clone(),
            timezone: self.timezone.clone(),
            client_encoding: self.client_encoding.clone(),
            options: self.options.clone(),
            tcp_keepalive: self.keepalives.tcp || self.keepalives.idle.is_some(),
            notes: self.notes.clone(),
        }
    }
}
