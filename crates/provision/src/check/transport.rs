//! Transport: TLS on, connections without TLS refused by pg_hba (probed without sending anything
//! real), SCRAM password hashing.

use std::time::Duration;

use secrecy::ExposeSecret as _;

use super::{Finding, Severity};
use crate::apply::AdminSession;
use crate::catalog::ClusterSnapshot;
use crate::manifest::Environment;

/// Whether a connection without TLS is refused by pg_hba.conf. The probe logs in as a user
/// that does not exist with a random password, so nothing real crosses the wire in clear.
async fn plaintext_refused(spec: &conninfo::ConnSpec) -> Result<bool, String> {
    let host = spec.hosts.first().ok_or("no host")?;
    let conninfo::Host::Tcp(name) = &host.host else {
        return Ok(true);
    };
    let junk = secrets::generate_password().map_err(|e| e.to_string())?;
    let mut config = tokio_postgres::Config::new();
    config
        .host(name)
        .port(host.port)
        .user("pccdb_tls_probe")
        .password(junk.expose_secret())
        .dbname("postgres")
        .ssl_mode(tokio_postgres::config::SslMode::Disable)
        .connect_timeout(Duration::from_secs(10));
    match config.connect(tokio_postgres::NoTls).await {
        Ok(_) => Ok(false),
        Err(e) => match e.as_db_error() {
            // pg_hba has no entry for this connection: only encrypted connections are accepted.
            Some(db) if db.code().code() == "28000" && db.message().contains("no encryption") => Ok(true),
            // The server got as far as authenticating a plaintext connection.
            Some(_) => Ok(false),
            None => Err(e.to_string()),
        },
    }
}

/// TLS on and enforced on every server; SCRAM password hashing.
pub(super) async fn transport(
    session: &AdminSession,
    env: &Environment,
    cluster: &ClusterSnapshot,
    out: &mut Vec<Finding>,
) {
    if cluster.settings.ssl {
        out.push(Finding::new("tls", Severity::Pass, "ssl", "the server has TLS enabled"));
    } else {
        out.push(Finding::new("tls", Severity::Fail, "ssl", "the server does not offer TLS").fix("set ssl = on"));
    }
    let servers = [
        ("primary", Some(&session.endpoints.primary)),
        ("replica", session.endpoints.replica.as_ref()),
    ];
    for (which, spec) in servers {
        let Some(spec) = spec else { continue };
        let subject = format!("{which} of {}", env.name);
        match plaintext_refused(spec).await {
            Ok(true) => out.push(Finding::new(
                "tls",
                Severity::Pass,
                subject,
                "connections without TLS are refused",
            )),
            Ok(false) => out.push(
                Finding::new(
                    "tls",
                    Severity::Fail,
                    subject,
                    "a connection without TLS reached authentication",
                )
                .fix("allow only hostssl lines in pg_hba.conf (AlloyDB: require SSL on the instance)"),
            ),
            Err(e) => out.push(Finding::new(
                "tls",
                Severity::Warn,
                subject,
                format!("could not probe a connection without TLS: {e}"),
            )),
        }
    }
    if cluster.settings.password_encryption == "scram-sha-256" {
        out.push(Finding::new(
            "tls",
            Severity::Pass,
            "password_encryption",
            "scram-sha-256",
        ));
    } else {
        out.push(
            Finding::new(
                "tls",
                Severity::Fail,
                "password_encryption",
                format!(
                    "is {}; passwords set by the server would be MD5",
                    cluster.settings.password_encryption
                ),
            )
            .fix("set password_encryption = 'scram-sha-256'"),
        );
    }
}
