//! libpq's parameter table (PostgreSQL 17 `PQconninfoOptions`), the environment variable behind
//! each parameter, and our documented extensions for settings libpq has no keyword for
//! (pool sizing, command timeout, search path...), named after Npgsql's keywords in snake_case.

/// What a parameter sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Param {
    Host,
    Port,
    Dbname,
    User,
    Password,
    Passfile,
    Options,
    ApplicationName,
    FallbackApplicationName,
    ConnectTimeout,
    ClientEncoding,
    Keepalives,
    KeepalivesIdle,
    KeepalivesInterval,
    KeepalivesCount,
    SslMode,
    SslNegotiation,
    SslCert,
    SslKey,
    SslRootCert,
    ChannelBinding,
    TargetSessionAttrs,
    LoadBalanceHosts,
    GssEncMode,
    /// Only in URIs (a JDBC-ism libpq accepts): `ssl=true` means `sslmode=require`.
    Ssl,
    // Extensions.
    Pooling,
    MinPoolSize,
    MaxPoolSize,
    ConnectionIdleLifetime,
    ConnectionPruningInterval,
    ConnectionLifetime,
    CommandTimeout,
    HostRecheckSeconds,
    SearchPath,
    Timezone,
    IncludeErrorDetail,
    Keepalive,
    ReadPool,
    /// Accepted and reported as having no effect here.
    Ignored(&'static str),
    /// Valid libpq but cannot be honored; an error when given a non-empty value.
    Unsupported(&'static str),
}

/// One parameter: its keyword, the environment variable that defaults it, its meaning.
pub(crate) struct Entry {
    pub name: &'static str,
    pub env: Option<&'static str>,
    pub param: Param,
}

const fn p(name: &'static str, env: Option<&'static str>, param: Param) -> Entry {
    Entry { name, env, param }
}

/// libpq's own keywords, in `PQconninfoOptions` order.
pub(crate) const LIBPQ: &[Entry] = &[
    p(
        "service",
        Some("PGSERVICE"),
        Param::Unsupported("service files (pg_service.conf) are not read; put the settings in the string"),
    ),
    p("user", Some("PGUSER"), Param::User),
    p("password", Some("PGPASSWORD"), Param::Password),
    p("passfile", Some("PGPASSFILE"), Param::Passfile),
    p("channel_binding", Some("PGCHANNELBINDING"), Param::ChannelBinding),
    p("connect_timeout", Some("PGCONNECT_TIMEOUT"), Param::ConnectTimeout),
    p("dbname", Some("PGDATABASE"), Param::Dbname),
    p("host", Some("PGHOST"), Param::Host),
    p(
        "hostaddr",
        Some("PGHOSTADDR"),
        Param::Unsupported("give the address as `host` (TLS verification then uses the address)"),
    ),
    p("port", Some("PGPORT"), Param::Port),
    p("client_encoding", Some("PGCLIENTENCODING"), Param::ClientEncoding),
    p("options", Some("PGOPTIONS"), Param::Options),
    p("application_name", Some("PGAPPNAME"), Param::ApplicationName),
    p("fallback_application_name", None, Param::FallbackApplicationName),
    p("keepalives", None, Param::Keepalives),
    p("keepalives_idle", None, Param::KeepalivesIdle),
    p("keepalives_interval", None, Param::KeepalivesInterval),
    p("keepalives_count", None, Param::KeepalivesCount),
    p(
        "tcp_user_timeout",
        None,
        Param::Ignored("TCP_USER_TIMEOUT is not set; the command timeout bounds a stalled connection"),
    ),
    p("sslmode", Some("PGSSLMODE"), Param::SslMode),
    p("sslnegotiation", Some("PGSSLNEGOTIATION"), Param::SslNegotiation),
    p(
        "sslcompression",
        Some("PGSSLCOMPRESSION"),
        Param::Ignored("TLS compression is obsolete and never used"),
    ),
    p("sslcert", Some("PGSSLCERT"), Param::SslCert),
    p("sslkey", Some("PGSSLKEY"), Param::SslKey),
    p(
        "sslcertmode",
        Some("PGSSLCERTMODE"),
        Param::Ignored("a client certificate is sent whenever sslcert and sslkey are given"),
    ),
    p(
        "sslpassword",
        None,
        Param::Unsupported("encrypted client keys are not supported; give an unencrypted PEM key"),
    ),
    p("sslrootcert", Some("PGSSLROOTCERT"), Param::SslRootCert),
    p(
        "sslcrl",
        Some("PGSSLCRL"),
        Param::Unsupported("certificate revocation lists are not checked"),
    ),
    p(
        "sslcrldir",
        Some("PGSSLCRLDIR"),
        Param::Unsupported("certificate revocation lists are not checked"),
    ),
    p(
        "sslsni",
        Some("PGSSLSNI"),
        Param::Ignored("SNI is always sent for host names, never for addresses"),
    ),
    p(
        "requirepeer",
        Some("PGREQUIREPEER"),
        Param::Unsupported("peer credential checks on Unix sockets are not supported"),
    ),
    p(
        "require_auth",
        Some("PGREQUIREAUTH"),
        Param::Ignored("the authentication method is negotiated by tokio-postgres"),
    ),
    p(
        "ssl_min_protocol_version",
        Some("PGSSLMINPROTOCOLVERSION"),
        Param::Ignored("rustls negotiates TLS 1.2 or 1.3 only"),
    ),
    p(
        "ssl_max_protocol_version",
        Some("PGSSLMAXPROTOCOLVERSION"),
        Param::Ignored("rustls negotiates TLS 1.2 or 1.3 only"),
    ),
    p("gssencmode", Some("PGGSSENCMODE"), Param::GssEncMode),
    p(
        "krbsrvname",
        Some("PGKRBSRVNAME"),
        Param::Ignored("GSSAPI/Kerberos authentication is not supported"),
    ),
    p(
        "gsslib",
        Some("PGGSSLIB"),
        Param::Ignored("GSSAPI/Kerberos authentication is not supported"),
    ),
    p(
        "gssdelegation",
        Some("PGGSSDELEGATION"),
        Param::Ignored("GSSAPI/Kerberos authentication is not supported"),
    ),
    p(
        "replication",
        None,
        Param::Unsupported("replication connections are not supported"),
    ),
    p(
        "target_session_attrs",
        Some("PGTARGETSESSIONATTRS"),
        Param::TargetSessionAttrs,
    ),
    p(
        "load_balance_hosts",
        Some("PGLOADBALANCEHOSTS"),
        Param::LoadBalanceHosts,
    ),
];

/// Our extensions (not libpq keywords; libpq would reject them). `PGTZ` is libpq's own
/// variable for the session time zone, which libpq has no keyword for.
pub(crate) const EXTENSIONS: &[Entry] = &[
    p("pooling", None, Param::Pooling),
    p("min_pool_size", None, Param::MinPoolSize),
    p("max_pool_size", None, Param::MaxPoolSize),
    p("connection_idle_lifetime", None, Param::ConnectionIdleLifetime),
    p("connection_pruning_interval", None, Param::ConnectionPruningInterval),
    p("connection_lifetime", None, Param::ConnectionLifetime),
    p("command_timeout", None, Param::CommandTimeout),
    p("host_recheck_seconds", None, Param::HostRecheckSeconds),
    p("search_path", None, Param::SearchPath),
    p("timezone", Some("PGTZ"), Param::Timezone),
    p("include_error_detail", None, Param::IncludeErrorDetail),
    p("keepalive", None, Param::Keepalive),
    p("read_pool", None, Param::ReadPool),
];

/// URI-only spelling.
pub(crate) const URI_ONLY: &[Entry] = &[p("ssl", None, Param::Ssl)];

/// Finds a parameter by exact (case-sensitive, as libpq) name.
pub(crate) fn lookup(name: &str, uri: bool) -> Option<&'static Entry> {
    LIBPQ
        .iter()
        .chain(EXTENSIONS)
        .chain(if uri { URI_ONLY } else { &[] })
        .find(|entry| entry.name == name)
}

/// Every parameter that has an environment variable, for applying defaults.
pub(crate) fn with_env() -> impl Iterator<Item = &'static Entry> {
    LIBPQ.iter().chain(EXTENSIONS).filter(|entry| entry.env.is_some())
}
