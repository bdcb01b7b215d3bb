//! Transport: TLS on, connections without TLS refused before authentication (probed at the protocol
//! level, without sending anything real), SCRAM password hashing.

use std::time::Duration;

use super::{Finding, Severity};
use crate::apply::AdminSession;
use crate::catalog::ClusterSnapshot;
use crate::manifest::Environment;

/// How long the plaintext probe waits for the server's first answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether a connection without TLS is refused before authentication. The probe sends a plaintext
/// startup message (no SSLRequest) for a user that does not exist and reads the server's first answer,
/// then hangs up: an authentication request means a plaintext connection reached authentication; an
/// error, or the connection closed, means it was refused, whatever the server's wording (PostgreSQL's
/// `no pg_hba.conf entry ... no encryption`, a `reject` line, AlloyDB's or a proxy's own refusal). No
/// password or other secret is ever sent.
pub async fn plaintext_refused(spec: &conninfo::ConnSpec) -> Result<bool, String> {
    use bytes::BytesMut;
    use postgres_protocol::message::{backend, frontend};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let host = spec.hosts.first().ok_or("no host")?;
    let conninfo::Host::Tcp(name) = &host.host else {
        return Ok(true);
    };
    let exchange = async {
        let mut socket = tokio::net::TcpStream::connect((name.as_str(), host.port))
            .await
            .map_err(|e| format!("cannot reach {name}:{}: {e}", host.port))?;
        let mut startup = BytesMut::new();
        frontend::startup_message([("user", "pccdb_tls_probe"), ("database", "postgres")], &mut startup)
            .map_err(|e| e.to_string())?;
        if socket.write_all(&startup).await.is_err() {
            // Closed before it took the startup message: refused.
            return Ok(true);
        }
        let mut buffer = BytesMut::with_capacity(1024);
        loop {
            match backend::Message::parse(&mut buffer) {
                Ok(Some(backend::Message::ErrorResponse(_))) => return Ok(true),
                Ok(Some(
                    backend::Message::AuthenticationOk
                    | backend::Message::AuthenticationCleartextPassword
                    | backend::Message::AuthenticationMd5Password(_)
                    | backend::Message::AuthenticationSasl(_)
                    | backend::Message::AuthenticationGss
                    | backend::Message::AuthenticationSspi
                    | backend::Message::AuthenticationKerberosV5
                    | backend::Message::AuthenticationScmCredential,
                )) => return Ok(false),
                // Anything else first (a NoticeResponse): look at the next message.
                Ok(Some(_)) => continue,
                // Not complete yet: read on.
                Ok(None) => {}
                // Not the PostgreSQL protocol (a TLS-only listener answering with an alert): refused.
                Err(_) => return Ok(true),
            }
            match socket.read_buf(&mut buffer).await {
                // Hung up without a word, or reset: refused.
                Ok(0) | Err(_) => return Ok(true),
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(PROBE_TIMEOUT, exchange).await.unwrap_or_else(|_| {
        Err(format!(
            "{name}:{} did not answer a startup message within {PROBE_TIMEOUT:?}",
            host.port
        ))
    })
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
