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
use crate::modes::{ChannelBinding, SslMode, Syntax, TargetSessionAttrs};
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

    let database = if let Some(authority_and_db) = location.strip_prefix("//") {
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
    } else {
        location
    };
    spec.database = Some(url_decode("database", database)?).filter(|d| !d.is_empty());

    let mut ssl_flag = false;
    let mut ssl_mode = None;
    for item in query.unwrap_or("").split('&').filter(|item| !item.is_empty()) {
        let (key, value) = item.split_once('=').unwrap_or((item, ""));
        let key = url_decode("property name", key)?;
        let value = url_decode(&key, value)?;
        apply(&mut spec, &key, &value, &mut ssl_flag, &mut ssl_mode)?;
    }
    spec.ssl_mode = match (ssl_mode, ssl_flag) {
        (Some(mode), _) => mode,
        (None, true) => SslMode::VerifyFull,
        (None, false) => SslMode::Prefer,
    };
    if spec.password.is_none() && spec.passfile.is_none() {
        spec.passfile = env.var("PGPASSFILE").map(PathBuf::from);
    }
    Ok(spec)
}

fn apply(
    spec: &mut ConnSpec,
    key: &str,
    value: &str,
    ssl_flag: &mut bool,
    ssl_mode: &mut Option<SslMode>,
) -> Result<(), ParseError> {
    let text = || (!value.is_empty()).then(|| value.to_owned());
    let boolean = || enum_value(key, value, &[("true", true), ("false", false)], true);
    match key {
        "user" => spec.username = text(),
        "password" => spec.password = text().map(SecretString::from),
        "ssl" => *ssl_flag = boolean()?,
        "sslmode" => *ssl_mode = Some(named_value(key, value, &SslMode::ALL, SslMode::libpq_name, false)?),
        "sslrootcert" => spec.root_cert = text().map(PathBuf::from),
        "sslcert" => spec.client_cert = text().map(PathBuf::from),
        "sslkey" => spec.client_key = text().map(PathBuf::from),
        "sslfactory" => match value {
            "org.postgresql.ssl.NonValidatingFactory" => *ssl_mode = Some(SslMode::Require),
            "org.postgresql.ssl.LibPQFactory" | "org.postgresql.ssl.DefaultJavaSSLFactory" | "" => {}
            _ => return Err(ParseError::unsupported(key, "custom Java SSL factories cannot be used")),
        },
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
            let n = libpq_int(key, value)?;
            spec.connect_timeout = secs_or_none(u32::try_from(n.max(0)).unwrap_or(0));
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

/// pgjdbc's host list: `host[:port]` entries, IPv6 in brackets, empty host = localhost.
fn hosts(authority: &str) -> Result<Vec<HostSpec>, ParseError> {
    authority
        .split(',')
        .map(|entry| {
            let bracket_end = entry.rfind(']');
            let (host, port_text) = match entry.rfind(':') {
                Some(colon)
                    if bracket_end.is_none_or(|end| end < colon)
                        && (bracket_end.is_some() || entry[..colon].find(':').is_none()) =>
                {
                    (&entry[..colon], Some(&entry[colon + 1..]))
                }
                _ => (entry, None),
            };
            let port = match port_text {
                None | Some("") => DEFAULT_PORT,
                Some(p) => port("port", p, libpq_int("port", p)?)?,
            };
            let host = if host.is_empty() { "localhost" } else { host };
            Ok(HostSpec {
                host: match Host::parse(host) {
                    Host::Unix(_) => return Err(ParseError::invalid("host", host, "JDBC URLs take TCP hosts only")),
                    tcp => tcp,
                },
                port,
            })
        })
        .collect()
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

/// pgjdbc's `HostRequirement` names.
const SERVER_TYPES: [(&str, TargetSessionAttrs); 8] = [
    ("any", TargetSessionAttrs::Any),
    ("primary", TargetSessionAttrs::Primary),
    ("master", TargetSessionAttrs::Primary),
    ("secondary", TargetSessionAttrs::Standby),
    ("slave", TargetSessionAttrs::Standby),
    ("preferSecondary", TargetSessionAttrs::PreferStandby),
    ("preferSlave", TargetSessionAttrs::PreferStandby),
    ("preferPrimary", TargetSessionAttrs::PreferPrimary),
];
