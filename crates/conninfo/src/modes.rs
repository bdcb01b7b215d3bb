//! The small closed vocabularies of a connection: TLS mode, TLS negotiation, channel binding,
//! target session attributes, the syntax a string came in, and the role a server plays.
//!
//! Each enum knows its spelling in every syntax (`VerifyFull` in Npgsql, `verify-full` in libpq
//! and JDBC) so parsers and renderers share one table instead of scattering string literals.

use std::fmt;

use serde::Serialize;

/// How TLS is used, with libpq's six levels (Npgsql has the same six).
///
/// `Require` encrypts without verifying the server certificate (Npgsql 8+ and libpq without a
/// root certificate); `VerifyCa` checks the chain against the root certificate but not the host
/// name; `VerifyFull` checks both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Try without TLS first; use TLS only if the server insists.
    Allow,
    /// Use TLS when the server offers it, without verifying; plain otherwise (the default).
    #[default]
    Prefer,
    /// Always use TLS, never verify the certificate.
    Require,
    /// Always use TLS and verify the certificate chain (not the host name).
    VerifyCa,
    /// Always use TLS and verify the chain and the host name.
    VerifyFull,
}

impl SslMode {
    /// All modes, in increasing strictness.
    pub const ALL: [SslMode; 6] = [
        SslMode::Disable,
        SslMode::Allow,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];

    /// The libpq / JDBC spelling (`verify-full`).
    pub fn libpq_name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// The Npgsql spelling (`VerifyFull`).
    pub fn npgsql_name(self) -> &'static str {
        match self {
            SslMode::Disable => "Disable",
            SslMode::Allow => "Allow",
            SslMode::Prefer => "Prefer",
            SslMode::Require => "Require",
            SslMode::VerifyCa => "VerifyCA",
            SslMode::VerifyFull => "VerifyFull",
        }
    }

    /// Whether the server certificate chain is checked against a root certificate.
    pub fn verifies_chain(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }

    /// Whether the server certificate must also name the host connected to.
    pub fn verifies_host_name(self) -> bool {
        self == SslMode::VerifyFull
    }

    /// Whether a connection without TLS is refused.
    pub fn requires_tls(self) -> bool {
        matches!(self, SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.libpq_name())
    }
}

/// How the TLS handshake starts: PostgreSQL's SSLRequest (all versions) or direct TLS (17+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslNegotiation {
    /// Send SSLRequest, then start TLS if the server answers `S`.
    #[default]
    Postgres,
    /// Start TLS immediately with ALPN `postgresql` (PostgreSQL 17+ only).
    Direct,
}

impl SslNegotiation {
    /// Both ways.
    pub const ALL: [SslNegotiation; 2] = [SslNegotiation::Postgres, SslNegotiation::Direct];

    /// The libpq spelling.
    pub fn libpq_name(self) -> &'static str {
        match self {
            SslNegotiation::Postgres => "postgres",
            SslNegotiation::Direct => "direct",
        }
    }

    /// The Npgsql spelling.
    pub fn npgsql_name(self) -> &'static str {
        match self {
            SslNegotiation::Postgres => "Postgres",
            SslNegotiation::Direct => "Direct",
        }
    }
}

/// SCRAM channel binding (`tls-server-end-point`) policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelBinding {
    /// Never bind.
    Disable,
    /// Bind when TLS and SCRAM-PLUS are both available (the default).
    #[default]
    Prefer,
    /// Refuse to authenticate without channel binding.
    Require,
}

impl ChannelBinding {
    /// All policies, in increasing strictness.
    pub const ALL: [ChannelBinding; 3] = [ChannelBinding::Disable, ChannelBinding::Prefer, ChannelBinding::Require];

    /// The libpq spelling.
    pub fn libpq_name(self) -> &'static str {
        match self {
            ChannelBinding::Disable => "disable",
            ChannelBinding::Prefer => "prefer",
            ChannelBinding::Require => "require",
        }
    }

    /// The Npgsql spelling.
    pub fn npgsql_name(self) -> &'static str {
        match self {
            ChannelBinding::Disable => "Disable",
            ChannelBinding::Prefer => "Prefer",
            ChannelBinding::Require => "Require",
        }
    }
}

/// Which server of a multi-host list a session may land on (libpq 14+ / Npgsql 6+ semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetSessionAttrs {
    /// Any server that accepts the connection (the default).
    #[default]
    Any,
    /// A primary, writable or not.
    Primary,
    /// A hot standby.
    Standby,
    /// A primary if one is up, else any server.
    PreferPrimary,
    /// A standby if one is up, else any server.
    PreferStandby,
    /// A session that accepts writes (primary with `default_transaction_read_only=off`).
    ReadWrite,
    /// A session that refuses writes (a standby, or a primary with `default_transaction_read_only=on`).
    ReadOnly,
}

impl TargetSessionAttrs {
    /// All values, in the order libpq documents them.
    pub const ALL: [TargetSessionAttrs; 7] = [
        TargetSessionAttrs::Any,
        TargetSessionAttrs::Primary,
        TargetSessionAttrs::Standby,
        TargetSessionAttrs::PreferPrimary,
        TargetSessionAttrs::PreferStandby,
        TargetSessionAttrs::ReadWrite,
        TargetSessionAttrs::ReadOnly,
    ];

    /// The spelling shared by libpq and Npgsql (`prefer-standby`).
    pub fn name(self) -> &'static str {
        match self {
            TargetSessionAttrs::Any => "any",
            TargetSessionAttrs::Primary => "primary",
            TargetSessionAttrs::Standby => "standby",
            TargetSessionAttrs::PreferPrimary => "prefer-primary",
            TargetSessionAttrs::PreferStandby => "prefer-standby",
            TargetSessionAttrs::ReadWrite => "read-write",
            TargetSessionAttrs::ReadOnly => "read-only",
        }
    }

    /// Parses the shared spelling, ignoring ASCII case (Npgsql lower-cases; libpq is exact,
    /// and the libpq parser checks case itself).
    pub fn from_name(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|attrs| attrs.name().eq_ignore_ascii_case(value))
    }

    /// Whether a server in `role` is what this setting asks for in the first pass.
    ///
    /// This is Npgsql's `IsPreferred` for a known state, which is also libpq's check.
    pub fn prefers(self, role: ServerRole) -> bool {
        use ServerRole as R;
        use TargetSessionAttrs as T;
        match self {
            T::Any => true,
            T::Primary | T::PreferPrimary => matches!(role, R::PrimaryReadWrite | R::PrimaryReadOnly),
            T::Standby | T::PreferStandby => role == R::Standby,
            T::ReadWrite => role == R::PrimaryReadWrite,
            T::ReadOnly => matches!(role, R::PrimaryReadOnly | R::Standby),
        }
    }

    /// Whether a second pass over the hosts accepts any online server (`prefer-*` only).
    pub fn falls_back_to_any(self) -> bool {
        matches!(
            self,
            TargetSessionAttrs::PreferPrimary | TargetSessionAttrs::PreferStandby
        )
    }
}

impl fmt::Display for TargetSessionAttrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a server turned out to be once connected, as Npgsql classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerRole {
    /// Not in recovery and sessions default to read-write.
    PrimaryReadWrite,
    /// Not in recovery but `default_transaction_read_only` is on.
    PrimaryReadOnly,
    /// In hot standby (recovery).
    Standby,
}

impl ServerRole {
    /// Classifies from the two facts the server reports.
    pub fn classify(in_hot_standby: bool, default_read_only: bool) -> Self {
        match (in_hot_standby, default_read_only) {
            (true, _) => ServerRole::Standby,
            (false, true) => ServerRole::PrimaryReadOnly,
            (false, false) => ServerRole::PrimaryReadWrite,
        }
    }

    /// A short name for logs and metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            ServerRole::PrimaryReadWrite => "primary-read-write",
            ServerRole::PrimaryReadOnly => "primary-read-only",
            ServerRole::Standby => "standby",
        }
    }
}

impl fmt::Display for ServerRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The syntax a [`crate::ConnSpec`] was parsed from (or `Built` in code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Syntax {
    /// Npgsql / ADO.NET `Key=Value;...`.
    Npgsql,
    /// libpq keyword/value `key=value key=value`.
    LibpqKeyword,
    /// libpq URI `postgresql://...`.
    LibpqUri,
    /// JDBC URL `jdbc:postgresql://...`.
    Jdbc,
    /// Built in code, not parsed.
    #[default]
    Built,
}

impl fmt::Display for Syntax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Syntax::Npgsql => "npgsql",
            Syntax::LibpqKeyword => "libpq keyword/value",
            Syntax::LibpqUri => "libpq URI",
            Syntax::Jdbc => "JDBC URL",
            Syntax::Built => "built in code",
        })
    }
}

/// Picks the host a connection goes to, given each host's state in list order
/// (`None` = offline), exactly as Npgsql's multi-host data source does: a first pass for
/// hosts whose role the setting prefers, then for `prefer-*` a second pass for any online host.
///
/// This is the pure core of [`crate::connect()`]; the golden host-choice table tests it.
pub fn choose_host(attrs: TargetSessionAttrs, states: &[Option<ServerRole>]) -> Option<usize> {
    let preferred = states
        .iter()
        .position(|state| state.is_some_and(|role| attrs.prefers(role)));
    if preferred.is_some() || !attrs.falls_back_to_any() {
        return preferred;
    }
    states.iter().position(Option::is_some)
}
