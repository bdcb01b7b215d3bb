//! One connection attempt to one host: the tokio-postgres configuration derived from the
//! spec, TLS mode handling (`allow` retries with TLS), password lookup, spawning the driver
//! and classifying the server.

use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::config::{
    ChannelBinding as PgChannelBinding, SslMode as PgSslMode, SslNegotiation as PgSslNegotiation,
};
use tokio_postgres::{Client, Config, SimpleQueryMessage};

use super::error::FailureReason;
use super::session::{Driver, PgConnection, SessionWatch};
use super::{ConnectError, ConnectedHost, Connector, passfile};
use crate::host::Host;
use crate::modes::{ChannelBinding, ServerRole, SslMode, SslNegotiation};
use crate::spec::ConnSpec;

/// Caller-supplied overrides of the spec's credentials.
pub(crate) struct Credentials<'a> {
    pub user: Option<&'a str>,
    pub password: Option<&'a SecretString>,
}

/// The parts of the tokio-postgres configuration shared by all hosts.
pub(crate) fn base_config(spec: &ConnSpec) -> Result<Config, ConnectError> {
    if let Some(encoding) = &spec.client_encoding {
        let e = encoding.trim();
        if !(e.eq_ignore_ascii_case("UTF8") || e.eq_ignore_ascii_case("UTF-8") || e.eq_ignore_ascii_case("UNICODE")) {
            return Err(ConnectError::Encoding(encoding.clone()));
        }
    }
    // The user may also come with the credentials of each connection (a mounted secret holds the login),
    // so a missing one is an error only when a connection is opened without one: a container with no
    // USER in its environment (distroless images set none) must still connect with its secret's login.
    let user = spec
        .username
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|u| !u.is_empty());
    let mut config = Config::new();
    if let Some(user) = user {
        config.user(user);
    }
    if let Some(db) = &spec.database {
        config.dbname(db);
    }
    if let Some(name) = &spec.application_name {
        config.application_name(name);
    }
    let mut startup = ConnSpec::for_host("", 0);
    startup.options = spec.options.clone();
    if let Some(path) = &spec.search_path {
        startup = startup.with_setting("search_path", path);
    }
    if let Some(zone) = &spec.timezone {
        startup = startup.with_setting("TimeZone", zone);
    }
    if let Some(options) = &startup.options {
        config.options(options);
    }
    config.channel_binding(match spec.channel_binding {
        ChannelBinding::Disable => PgChannelBinding::Disable,
        ChannelBinding::Prefer => PgChannelBinding::Prefer,
        ChannelBinding::Require => PgChannelBinding::Require,
    });
    config.ssl_negotiation(match spec.ssl_negotiation {
        SslNegotiation::Postgres => PgSslNegotiation::Postgres,
        SslNegotiation::Direct => PgSslNegotiation::Direct,
    });
    let keepalives = &spec.keepalives;
    config.keepalives(keepalives.tcp || keepalives.idle.is_some());
    if let Some(idle) = keepalives.idle {
        config.keepalives_idle(idle);
    }
    if let Some(interval) = keepalives.interval {
        config.keepalives_interval(interval);
    }
    if let Some(retries) = keepalives.retries {
        config.keepalives_retries(retries);
    }
    if let Some(timeout) = spec.connect_timeout {
        config.connect_timeout(timeout);
    }
    Ok(config)
}

/// Connects to `spec.hosts[index]` and classifies it.
pub(crate) async fn one_host(
    connector: &Connector,
    index: usize,
    credentials: &Credentials<'_>,
) -> Result<(Client, ConnectedHost), FailureReason> {
    let spec = &connector.spec;
    let host = &spec.hosts[index];
    let mut config = connector.base.clone();
    if let Some(user) = credentials.user {
        config.user(user);
    }
    match &host.host {
        Host::Tcp(name) => config.host(name),
        Host::Unix(dir) => config.host_path(dir),
    };
    config.port(host.port);
    let password = match credentials.password.or(spec.password.as_ref()) {
        Some(secret) => Some(secret.clone()),
        None => {
            let user = config.get_user().unwrap_or_default();
            let database = config.get_dbname().unwrap_or(user);
            passfile::location(spec.passfile.as_deref()).and_then(|file| passfile::lookup(&file, host, database, user))
        }
    };
    if let Some(secret) = &password {
        config.password(secret.expose_secret());
    }
    let unix = matches!(host.host, Host::Unix(_));
    let modes: &[PgSslMode] = match spec.ssl_mode {
        // PostgreSQL never uses TLS on Unix sockets; libpq ignores sslmode there.
        _ if unix => &[PgSslMode::Disable],
        SslMode::Disable => &[PgSslMode::Disable],
        SslMode::Allow => &[PgSslMode::Disable, PgSslMode::Require],
        SslMode::Prefer => &[PgSslMode::Prefer],
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => &[PgSslMode::Require],
    };
    let mut last = None;
    for (i, mode) in modes.iter().enumerate() {
        config.ssl_mode(*mode);
        match config.connect(connector.tls.clone()).await {
            Ok((client, connection)) => return finish(client, connection, host, index).await,
            Err(err) => {
                let reason = FailureReason::from_pg(&err);
                // `allow`: retry with TLS only when the server refused the plain session.
                let refused = matches!(&reason, FailureReason::Server { code, .. } if code == "28000");
                last = Some(reason);
                if !(refused && i + 1 < modes.len()) {
                    break;
                }
            }
        }
    }
    Err(last.unwrap_or_else(|| FailureReason::Io("no connection attempt made".into())))
}

async fn finish(
    client: Client,
    connection: PgConnection,
    host: &crate::HostSpec,
    index: usize,
) -> Result<(Client, ConnectedHost), FailureReason> {
    let watch = SessionWatch::default();
    watch.observe(&connection);
    let server_version = connection.parameter("server_version").map(str::to_owned);
    let task = tokio::spawn(Driver {
        connection,
        watch: watch.clone(),
        label: host.to_string(),
    });
    watch.set_task(task.abort_handle());
    let role = match watch.role() {
        Some(role) => role,
        None => query_role(&client, &watch).await?,
    };
    Ok((
        client,
        ConnectedHost {
            host: host.clone(),
            index,
            role,
            server_version,
            session: watch,
        },
    ))
}

/// Servers before 14 do not report the two facts; ask (one round trip, simple protocol).
async fn query_role(client: &Client, watch: &SessionWatch) -> Result<ServerRole, FailureReason> {
    let messages = client
        .simple_query(
            "SELECT pg_catalog.pg_is_in_recovery(), pg_catalog.current_setting('default_transaction_read_only')",
        )
        .await
        .map_err(|err| FailureReason::from_pg(&err))?;
    let row = messages
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .ok_or_else(|| FailureReason::Io("role query returned no row".into()))?;
    let in_recovery = row.get(0) == Some("t");
    let read_only = row.get(1) == Some("on");
    watch.set(in_recovery, read_only);
    Ok(ServerRole::classify(in_recovery, read_only))
}
