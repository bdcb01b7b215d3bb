//! Npgsql's keyword table (NpgsqlConnectionStringBuilder, Npgsql 8/9): canonical names,
//! synonyms, and what each keyword means here. Lookup ignores ASCII case, like Npgsql's
//! `StringComparer.OrdinalIgnoreCase`.
//!
//! Keywords that only tune the .NET driver itself (buffer sizes, auto-prepare, enlistment...)
//! are accepted and reported as ignored, so a string that works with Npgsql also parses here;
//! keywords whose meaning we cannot honor fail only for the values that need them.

/// What a keyword sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kw {
    Host,
    Port,
    Database,
    Username,
    Password,
    Passfile,
    ApplicationName,
    SearchPath,
    ClientEncoding,
    Encoding,
    Timezone,
    SslMode,
    TrustServerCertificate,
    SslCertificate,
    SslKey,
    SslPassword,
    RootCertificate,
    CheckCertificateRevocation,
    SslNegotiation,
    ChannelBinding,
    GssEncryptionMode,
    IncludeErrorDetail,
    Pooling,
    MinPoolSize,
    MaxPoolSize,
    ConnectionIdleLifetime,
    ConnectionPruningInterval,
    ConnectionLifetime,
    Timeout,
    CommandTimeout,
    TargetSessionAttributes,
    LoadBalanceHosts,
    ReadPool,
    HostRecheckSeconds,
    Keepalive,
    TcpKeepalive,
    TcpKeepaliveTime,
    TcpKeepaliveInterval,
    Options,
    /// Accepted, type-checked, and reported as having no effect here.
    Ignored(IgnoredValue, &'static str),
}

/// The value type of an ignored keyword (checked so typos still fail as in Npgsql).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IgnoredValue {
    Bool,
    Int,
    Text,
}

/// One row: canonical name, synonyms, meaning.
pub(crate) struct Entry {
    pub canonical: &'static str,
    pub synonyms: &'static [&'static str],
    pub kw: Kw,
}

const DOTNET_ONLY: &str = "tunes the .NET driver only";

/// The table. Order follows Npgsql's documentation page.
pub(crate) const KEYWORDS: &[Entry] = &[
    e("Host", &["Server"], Kw::Host),
    e("Port", &[], Kw::Port),
    e("Database", &["DB"], Kw::Database),
    e("Username", &["User Name", "UserId", "User Id", "UID"], Kw::Username),
    e("Password", &["PSW", "PWD"], Kw::Password),
    e("Passfile", &[], Kw::Passfile),
    e("Application Name", &["ApplicationName"], Kw::ApplicationName),
    e(
        "Enlist",
        &[],
        Kw::Ignored(IgnoredValue::Bool, "System.Transactions enlistment is .NET-only"),
    ),
    e("Search Path", &["SearchPath"], Kw::SearchPath),
    e("Client Encoding", &["ClientEncoding"], Kw::ClientEncoding),
    e("Encoding", &[], Kw::Encoding),
    e("Timezone", &[], Kw::Timezone),
    e("SSL Mode", &["SslMode"], Kw::SslMode),
    e(
        "Trust Server Certificate",
        &["TrustServerCertificate"],
        Kw::TrustServerCertificate,
    ),
    e("SSL Certificate", &["SslCertificate"], Kw::SslCertificate),
    e("SSL Key", &["SslKey"], Kw::SslKey),
    e("SSL Password", &["SslPassword"], Kw::SslPassword),
    e("Root Certificate", &["RootCertificate"], Kw::RootCertificate),
    e(
        "Check Certificate Revocation",
        &["CheckCertificateRevocation"],
        Kw::CheckCertificateRevocation,
    ),
    e("SSL Negotiation", &["SslNegotiation"], Kw::SslNegotiation),
    e("Channel Binding", &["ChannelBinding"], Kw::ChannelBinding),
    e("GSS Encryption Mode", &["GssEncryptionMode"], Kw::GssEncryptionMode),
    e(
        "Persist Security Info",
        &["PersistSecurityInfo"],
        Kw::Ignored(IgnoredValue::Bool, "the password is never exposed after parsing anyway"),
    ),
    e(
        "Kerberos Service Name",
        &["KerberosServiceName", "Krbsrvname"],
        Kw::Ignored(IgnoredValue::Text, "GSSAPI/Kerberos authentication is not supported"),
    ),
    e(
        "Include Realm",
        &["IncludeRealm"],
        Kw::Ignored(IgnoredValue::Bool, "GSSAPI/Kerberos authentication is not supported"),
    ),
    e("Include Error Detail", &["IncludeErrorDetail"], Kw::IncludeErrorDetail),
    e(
        "Log Parameters",
        &["LogParameters"],
        Kw::Ignored(IgnoredValue::Bool, "parameters are never logged"),
    ),
    e(
        "Require Auth",
        &["RequireAuth"],
        Kw::Ignored(
            IgnoredValue::Text,
            "the authentication method is negotiated by tokio-postgres",
        ),
    ),
    e("Pooling", &[], Kw::Pooling),
    e("Minimum Pool Size", &["MinPoolSize"], Kw::MinPoolSize),
    e("Maximum Pool Size", &["MaxPoolSize"], Kw::MaxPoolSize),
    e(
        "Connection Idle Lifetime",
        &["ConnectionIdleLifetime"],
        Kw::ConnectionIdleLifetime,
    ),
    e(
        "Connection Pruning Interval",
        &["ConnectionPruningInterval"],
        Kw::ConnectionPruningInterval,
    ),
    e(
        "Connection Lifetime",
        &["ConnectionLifetime", "Load Balance Timeout"],
        Kw::ConnectionLifetime,
    ),
    e("Timeout", &[], Kw::Timeout),
    e("Command Timeout", &["CommandTimeout"], Kw::CommandTimeout),
    e(
        "Cancellation Timeout",
        &["CancellationTimeout"],
        Kw::Ignored(IgnoredValue::Int, "cancellation is bounded by the command timeout"),
    ),
    e(
        "Internal Command Timeout",
        &["InternalCommandTimeout"],
        Kw::Ignored(IgnoredValue::Int, DOTNET_ONLY),
    ),
    e(
        "Target Session Attributes",
        &["TargetSessionAttributes"],
        Kw::TargetSessionAttributes,
    ),
    e("Load Balance Hosts", &["LoadBalanceHosts"], Kw::LoadBalanceHosts),
    e("Host Recheck Seconds", &["HostRecheckSeconds"], Kw::HostRecheckSeconds),
    // Ours, not Npgsql's: the host is a load-balanced read pool endpoint (ConnSpec::read_pool).
    e("Read Pool", &["ReadPool"], Kw::ReadPool),
    e("Keepalive", &[], Kw::Keepalive),
    e("Tcp Keepalive", &["TcpKeepAlive"], Kw::TcpKeepalive),
    e("Tcp Keepalive Time", &["TcpKeepAliveTime"], Kw::TcpKeepaliveTime),
    e(
        "Tcp Keepalive Interval",
        &["TcpKeepAliveInterval"],
        Kw::TcpKeepaliveInterval,
    ),
    e(
        "Read Buffer Size",
        &["ReadBufferSize"],
        Kw::Ignored(IgnoredValue::Int, DOTNET_ONLY),
    ),
    e(
        "Write Buffer Size",
        &["WriteBufferSize"],
        Kw::Ignored(IgnoredValue::Int, DOTNET_ONLY),
    ),
    e(
        "Socket Receive Buffer Size",
        &["SocketReceiveBufferSize"],
        Kw::Ignored(IgnoredValue::Int, DOTNET_ONLY),
    ),
    e(
        "Socket Send Buffer Size",
        &["SocketSendBufferSize"],
        Kw::Ignored(IgnoredValue::Int, DOTNET_ONLY),
    ),
    e(
        "Max Auto Prepare",
        &["MaxAutoPrepare"],
        Kw::Ignored(IgnoredValue::Int, "statements are prepared and cached explicitly"),
    ),
    e(
        "Auto Prepare Min Usages",
        &["AutoPrepareMinUsages"],
        Kw::Ignored(IgnoredValue::Int, "statements are prepared and cached explicitly"),
    ),
    e(
        "No Reset On Close",
        &["NoResetOnClose"],
        Kw::Ignored(IgnoredValue::Bool, DOTNET_ONLY),
    ),
    e("Options", &[], Kw::Options),
    e(
        "Server Compatibility Mode",
        &["ServerCompatibilityMode"],
        Kw::Ignored(IgnoredValue::Text, DOTNET_ONLY),
    ),
    e(
        "Multiplexing",
        &[],
        Kw::Ignored(IgnoredValue::Bool, "db_router pipelines single-statement reads itself"),
    ),
    e(
        "Write Coalescing Buffer Threshold Bytes",
        &["WriteCoalescingBufferThresholdBytes"],
        Kw::Ignored(IgnoredValue::Int, DOTNET_ONLY),
    ),
    e(
        "Array Nullability Mode",
        &["ArrayNullabilityMode"],
        Kw::Ignored(IgnoredValue::Text, DOTNET_ONLY),
    ),
    e(
        "Load Table Composites",
        &["LoadTableComposites"],
        Kw::Ignored(IgnoredValue::Bool, DOTNET_ONLY),
    ),
];

const fn e(canonical: &'static str, synonyms: &'static [&'static str], kw: Kw) -> Entry {
    Entry {
        canonical,
        synonyms,
        kw,
    }
}

/// Finds a keyword by canonical name or synonym, ignoring ASCII case.
pub(crate) fn lookup(key: &str) -> Option<&'static Entry> {
    KEYWORDS.iter().find(|entry| {
        entry.canonical.eq_ignore_ascii_case(key) || entry.synonyms.iter().any(|s| s.eq_ignore_ascii_case(key))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synonyms_and_case_resolve_to_one_keyword() {
        for key in ["Host", "server", "SERVER"] {
            assert_eq!(lookup(key).unwrap().kw, Kw::Host);
        }
        for key in ["User ID", "userid", "UID", "user name", "Username"] {
            assert_eq!(lookup(key).unwrap().kw, Kw::Username);
        }
        assert_eq!(lookup("sslmode").unwrap().kw, Kw::SslMode);
    }

    #[test]
    fn keywords_npgsql_rejects_are_unknown() {
        for key in ["Max Pool Size", "Data Source", "ssl", "Initial Catalog"] {
            assert!(lookup(key).is_none(), "{key}");
        }
    }

    #[test]
    fn no_name_is_listed_twice() {
        let mut names: Vec<String> = KEYWORDS
            .iter()
            .flat_map(|e| std::iter::once(e.canonical).chain(e.synonyms.iter().copied()))
            .map(str::to_ascii_lowercase)
            .collect();
        let total = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), total);
    }
}
