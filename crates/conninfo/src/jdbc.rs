//! PostgreSQL JDBC (pgjdbc 42.x) URLs: `jdbc:postgresql:[//host[:port][,host[:port]...]/]database[?prop=value&...]`.
//!
//! Follows pgjdbc's `Driver.parseURL`: hosts default to `localhost:5432`, a host list needs the
//! `/` before the database, values are `URLDecoder`-decoded (`+` is a space), and
//! `targetServerType` uses pgjdbc's names (`secondary`, `preferSecondary`, `master`...).
//! `ssl=true` without `sslmode` means `verify-full`, as in pgjdbc. Properties that only tune the
//! JVM driver are accepted and reported as ignored; unknown ones are errors.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use crate::env::EnvSource;
use crate::error::ParseError;
use crate::host::{DEFAULT_PORT, Host, HostSpec};
use crate::modes::{ChannelBinding, SslMode, SslNegotiation, Syntax, TargetSessionAttrs};
use crate::spec::ConnSpec;
use crate::values::{enum_value, libpq_int, named_value, port, secs_or_none};

const PREFIX: &str = "jdbc:postgresql:";

/// pgjdbc properties that only affect the JVM driver.
const JVM_ONLY: &[&str] = &[
    "loginTimeout",
    "socketTimeout",
    "cancelSignalTimeout",
    "prepareThreshold",
    "preparedStatementCacheQueries",
    "preparedStatementCacheSizeMiB",
    "defaultRowFetchSize",
    "binaryTransfer",
    "binaryTransferEnable",
    "binaryTransferDisable",
    "reWriteBatchedInserts",
    "stringtype",
    "logUnclosedConnections",
    "autosave",
    "cleanupSavepoints",
    "tcpNoDelay",
    "receiveBufferSize",
    "sendBufferSize",
    "disableColumnSanitiser",
    "escapeSyntaxCallMode",
    "quoteReturningIdentifiers",
    "assumeMinServerVersion",
    "logServerErrorDetail",
    "allowEncodingChanges",
    "hideUnprivilegedObjects",
    "readOnlyMode",
    "maxResultBuffer",
    "adaptiveFetch",
    "adaptiveFetchMinimum",
    "adaptiveFetchMaximum",
    "groupStartupParameters",
    "databaseMetadataCacheFields",
    "databaseMetadataCacheFieldsMiB",
    "unknownLength",
    "jaasApplicationName",
    "jaasLogin",
    "kerberosServerName",
    "gsslib",
    "useSpnego",
    "sspiServiceClass",
    "localSocketAddress",
    "socketFactory",
    "socketFactoryArg",
    "replication",
    "preferQueryMode",
];

/// Parses a JDBC URL. Only `PGPASSFILE` is read from `env` (pgjdbc reads no other `PG*` variable).
pub(crate) fn parse(url: &str, env: &dyn EnvSource) -> Result<ConnSpec, ParseError> {
    let format = |position, reason| ParseError::Format {
        syntax: Syntax::Jdbc,
        position,
        reason,
    };
    let rest = url
        .strip_prefix(PREFIX)
        .ok_or_else(|| format(0, "a JDBC URL starts with jdbc:postgresql:"))?;
    let (location, query) = match rest.find('?') {
        Some(q) => (&rest[..q], Some(&rest[q + 1..])),
        None => (rest, None),
    };
    let mut spec = ConnSpec::for_host("localhost", DEFAULT_PORT);
    spec.syntax = Syntax::Jdbc;
    spec.connect_timeout = Some(Duration::from_secs(10));
    spec.command_timeout = None;

    let database = if location == "//" || location == "///" {
        // pgjdbc: no host and no database at all means localhost:5432.
        ""
    } else if let Some(authority_and_db) = location.strip_prefix("//") {
        if authority_and_db.matches('/').count() > 1 {
            return Err(format(
                PREFIX.len(),
                "only one `/` may follow the hosts (pgjdbc refuses more; encode a `/` in the database as %2F)",
            ));
        }
        let slash = authority_and_db
            .find('/')
            .ok_or_else(|| format(PREFIX.len(), "a host list must be followed by `/` and the database"))?;
        let authority = &authority_and_db[..slash];
        if authority.contains('@') {
            return Err(ParseError::unsupported(
                "user info",
                "pgjdbc takes credentials only as ?user=&password= properties",
            ));
        }
        spec.hosts = hosts(authority)?;
        &authority_and_db[slash + 1..]
    } else if location.starts_with('/') {
        return Err(format(
            PREFIX.len(),
            "after jdbc:postgresql: comes //host[:port],.../database or a database name (pgjdbc refuses a single `/`)",
        ));
    } else {
        location
    };
    spec.database = Some(url_decode("database", database)?).filter(|d| !d.is_empty());

    let mut ssl = SslSettings::default();
    for item in query.unwrap_or("").split('&').filter(|item| !item.is_empty()) {
        let (key, value) = item.split_once('=').unwrap_or((item, ""));
        let key = url_decode("property name", key)?;
        let value = url_decode(&key, value)?;
        apply(&mut spec, &key, &value, &mut ssl)?;
    }
    spec.ssl_mode = ssl.mode();
    if spec.password.is_none() && spec.passfile.is_none() {
        spec.passfile = env.var("PGPASSFILE").map(PathBuf::from);
    }
    Ok(spec)
}

/// The TLS properties, combined once all are read (pgjdbc's `SslMode.of` and its factories).
#[derive(Default)]
struct SslSettings {
    /// `ssl`: `true`, or present with an empty value (pgjdbc reads both as verify-full).
    flag: bool,
    /// `sslmode`.
    mode: Option<SslMode>,
    /// `sslfactory=org.postgresql.ssl.NonValidatingFactory`: encrypt as asked, verify nothing.
    non_validating: bool,
}

impl SslSettings {
    fn mode(&self) -> SslMode {
        let mode = match (self.mode, self.flag) {
            (Some(mode), _) => mode,
            (None, true) => SslMode::VerifyFull,
            (None, false) => SslMode::Prefer,
        };
        if self.non_validating && mode.verifies_chain() {
            SslMode::Require
        } else {
            mode
        }
    }
}

/// Properties whose values are free text; every other value is a name, number or boolean, which
/// pgjdbc reads without trimming (`sslmode=%20require` is refused there, so it is here).
const FREE_TEXT: &[&str] = &[
    "user",
    "password",
    "ApplicationName",
    "currentSchema",
    "options",
    "sslrootcert",
    "sslcert",
    "sslkey",
];

fn apply(spec: &mut ConnSpec, key: &str, value: &str, ssl: &mut SslSettings) -> Result<(), ParseError> {
    if !FREE_TEXT.contains(&key) && value.trim() != value {
        return Err(ParseError::invalid(
            key,
            value,
            "no blanks around the value (pgjdbc reads none)",
        ));
    }
    let text = || (!value.is_empty()).then(|| value.to_owned());
    // pgjdbc's Boolean.parseBoolean: `true` in any case; an empty value is false. Anything else
    // would be false too, which hides a mistake (`ssl=yes`): refused.
    let boolean = || {
        if value.is_empty() {
            Ok(false)
        } else {
            enum_value(key, value, &[("true", true), ("false", false)], true)
        }
    };
    match key {
        // pgjdbc sends an empty user or password as given (the server then refuses an empty user).
        "user" => spec.username = Some(value.to_owned()),
        "password" => spec.password = Some(SecretString::from(value.to_owned())),
        "ssl" => ssl.flag = value.is_empty() || boolean()?,
        "sslmode" => ssl.mode = Some(named_value(key, value, &SslMode::ALL, SslMode::libpq_name, true)?),
        "sslrootcert" => spec.root_cert = text().map(PathBuf::from),
        "sslcert" => spec.client_cert = text().map(PathBuf::from),
        "sslkey" => spec.client_key = text().map(PathBuf::from),
        "sslfactory" => match value {
            "org.postgresql.ssl.NonValidatingFactory" => ssl.non_validating = true,
            "org.postgresql.ssl.LibPQFactory" | "org.postgresql.ssl.DefaultJavaSSLFactory" | "" => {}
            _ => return Err(ParseError::unsupported(key, "custom Java SSL factories cannot be used")),
        },
        "sslNegotiation" => {
            spec.ssl_negotiation = named_value(key, value, &SslNegotiation::ALL, SslNegotiation::libpq_name, false)?
        }
        "sslpassword" | "sslpasswordcallback" | "sslhostnameverifier" => {
            if !value.is_empty() {
                return Err(ParseError::unsupported(
                    key,
                    "Java callbacks and encrypted keys are not supported",
                ));
            }
        }
        "channelBinding" => {
            spec.channel_binding = named_value(key, value, &ChannelBinding::ALL, ChannelBinding::libpq_name, false)?
        }
        "targetServerType" => spec.target_session_attrs = enum_value(key, value, &SERVER_TYPES, false)?,
        "loadBalanceHosts" => spec.load_balance_hosts = boolean()?,
        "readPool" => spec.read_pool = boolean()?,
        "hostRecheckSeconds" => {
            let n = libpq_int(key, value)?;
            let n = u64::try_from(n).map_err(|_| ParseError::invalid(key, value, "must not be negative"))?;
            spec.host_recheck = Duration::from_secs(n);
        }
        "connectTimeout" => {
            // pgjdbc hands a negative timeout to Socket.connect, which refuses it.
            let n = libpq_int(key, value)?;
            let n = u32::try_from(n).map_err(|_| ParseError::invalid(key, value, "must not be negative"))?;
            spec.connect_timeout = secs_or_none(n);
        }
        "ApplicationName" => spec.application_name = text(),
        "currentSchema" => spec.search_path = text(),
        "options" => spec.options = text(),
        "tcpKeepAlive" => spec.keepalives.tcp = boolean()?,
        "gssEncMode" => {
            if enum_value(
                key,
                value,
                &[
                    ("disable", false),
                    ("allow", false),
                    ("prefer", false),
                    ("require", true),
                ],
                false,
            )? {
                return Err(ParseError::unsupported(key, "GSSAPI encryption is not supported"));
            }
        }
        "readOnly" => {
            if boolean()? {
                return Err(ParseError::unsupported(
                    key,
                    "JDBC read-only mode is per connection object; use targetServerType=secondary (or Target Session Attributes=read-only)",
                ));
            }
        }
        _ if JVM_ONLY.contains(&key) => spec.notes.push(format!("`{key}` ignored: tunes the JVM driver only")),
        _ => {
            return Err(ParseError::UnknownKey {
                syntax: Syntax::Jdbc,
                key: key.to_owned(),
            });
        }
    }
    Ok(())
}

/// pgjdbc's host list: `host[:port]` entries split at the last `:` that follows any `]`, an empty
/// host meaning localhost. Where pgjdbc would read nonsense we refuse: an empty port (pgjdbc
/// refuses too), and an unbracketed IPv6 address (`::1` would be host `:` port 1).
fn hosts(authority: &str) -> Result<Vec<HostSpec>, ParseError> {
    authority
        .split(',')
        .map(|entry| {
            let (host, port_text) = match entry.rfind(':') {
                Some(colon) if entry.rfind(']').is_none_or(|end| end < colon) => {
                    (&entry[..colon], Some(&entry[colon + 1..]))
                }
                _ => (entry, None),
            };
            let port = match port_text {
                None => DEFAULT_PORT,
                Some(p) => port("port", p, jdbc_int("port", p)?)?,
            };
            let host = if host.is_empty() { "localhost" } else { host };
            let bracketed = host.starts_with('[') && host.ends_with(']');
            if !bracketed && host.contains([':', '[', ']']) {
                return Err(ParseError::invalid(
                    "host",
                    entry,
                    "an IPv6 address goes in brackets, `[2001:db8::1]:5432` (pgjdbc splits at the last `:`)",
                ));
            }
            let parsed = match Host::parse(host) {
                Host::Unix(_) => return Err(ParseError::invalid("host", host, "JDBC URLs take TCP hosts only")),
                tcp => tcp,
            };
            Ok(HostSpec { host: parsed, port })
        })
        .collect()
}

/// Java's `Integer.parseInt`: an optional sign and digits, nothing else (no blanks).
fn jdbc_int(key: &str, value: &str) -> Result<i64, ParseError> {
    if value.trim() != value {
        return Err(ParseError::invalid(key, value, "expected an integer"));
    }
    libpq_int(key, value)
}

/// `java.net.URLDecoder.decode(s, UTF-8)`: `%XX` escapes and `+` as a space.
fn url_decode(what: &str, text: &str) -> Result<String, ParseError> {
    let plus_decoded = text.replace('+', " ");
    let bytes = plus_decoded.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' && !(bytes.len() > i + 2 && bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit())
        {
            let shown = if what == "password" { "********" } else { text };
            return Err(ParseError::invalid(what, shown, "bad %-escape"));
        }
    }
    percent_encoding::percent_decode_str(&plus_decoded)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ParseError::invalid(what, "********", "not UTF-8 after %-decoding"))
}

/// pgjdbc's `HostRequirement` names, with the old spellings its `getTargetServerType` still
/// accepts (`master`, `slave`, `preferSlave`). pgjdbc's `primary` is a server that is not in
/// hot standby and whose `transaction_read_only` is off, which is libpq's `read-write`; its
/// `secondary` is libpq's `read-only`. Its preferences have no libpq equivalent: the closest
/// are kept (`prefer-primary`, `prefer-standby`); they differ only for a primary whose
/// transactions are read-only (crates/conninfo/README.md).
const SERVER_TYPES: [(&str, TargetSessionAttrs); 8] = [
    ("any", TargetSessionAttrs::Any),
    ("primary", TargetSessionAttrs::ReadWrite),
    ("master", TargetSessionAttrs::ReadWrite),
    ("secondary", TargetSessionAttrs::ReadOnly),
    ("slave", TargetSessionAttrs::ReadOnly),
    ("preferSecondary", TargetSessionAttrs::PreferStandby),
    ("preferSlave", TargetSessionAttrs::PreferStandby),
    ("preferPrimary", TargetSessionAttrs::PreferPrimary),
];
