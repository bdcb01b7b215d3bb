//! `check`'s plaintext probe against real servers: it judges a server by its first answer to a plaintext
//! startup message, so any refusal before authentication counts (pg_hba's "no encryption", a `reject`
//! line's own wording), and a server that asks for a password over plaintext is caught.

use std::time::Duration;

use conninfo::ConnSpec;
use pg_launcher::{Cluster, ClusterOptions, NodeName};
use provision::check::plaintext_refused;

fn spec_for(cluster: &Cluster) -> ConnSpec {
    let e = cluster.primary();
    ConnSpec::for_host(&e.host, e.port)
}

async fn dedicated(require_tls: bool) -> Cluster {
    tokio::task::spawn_blocking(move || {
        test_support::dedicated_cluster(ClusterOptions {
            replica: false,
            require_tls,
            ..ClusterOptions::ephemeral()
        })
    })
    .await
    .unwrap()
}

/// Replaces the primary's pg_hba.conf with `lines` (written by the server itself) and reloads it.
fn set_hba(cluster: &Cluster, lines: &[&str]) {
    let path = cluster.query(NodeName::Primary, "postgres", "SHOW hba_file").unwrap();
    let rows = lines
        .iter()
        .map(|l| format!("'{}'", l.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(",");
    cluster
        .query(
            NodeName::Primary,
            "postgres",
            &format!("COPY (SELECT unnest(ARRAY[{rows}])) TO '{}'", path.trim()),
        )
        .unwrap();
    cluster
        .query(NodeName::Primary, "postgres", "SELECT pg_catalog.pg_reload_conf()")
        .unwrap();
}

#[tokio::test]
async fn a_tls_only_server_is_refused_plaintext_and_a_plaintext_one_is_caught() {
    // The launcher's default: hostssl lines only, so plaintext finds no pg_hba entry.
    let tls_only = dedicated(true).await;
    assert_eq!(plaintext_refused(&spec_for(&tls_only)).await, Ok(true));
    // `host` lines: a plaintext connection gets as far as the password exchange.
    let plaintext = dedicated(false).await;
    assert_eq!(plaintext_refused(&spec_for(&plaintext)).await, Ok(false));
}

#[tokio::test]
async fn any_refusal_before_authentication_counts_whatever_its_wording() {
    let cluster = dedicated(false).await;
    assert_eq!(plaintext_refused(&spec_for(&cluster)).await, Ok(false));
    // A `reject` line answers "pg_hba.conf rejects connection ...", not "no encryption".
    set_hba(
        &cluster,
        &[
            "local all all trust",
            "hostnossl all all 127.0.0.1/32 reject",
            "hostssl all all 127.0.0.1/32 scram-sha-256",
        ],
    );
    // The reload takes effect for new connections at once; allow the postmaster a moment to re-read.
    test_support::eventually("the reject line in force", Duration::from_secs(10), || async {
        (plaintext_refused(&spec_for(&cluster)).await == Ok(true)).then_some(())
    })
    .await;
    // TLS connections still work.
    let e = cluster.primary();
    let tls = ConnSpec::for_host(&e.host, e.port)
        .with_user(&e.user)
        .with_password(e.password.clone())
        .with_database("postgres")
        .with_ssl_mode(conninfo::SslMode::VerifyFull)
        .with_root_cert(cluster.ca_cert_path());
    conninfo::connect(&tls).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_not_a_verdict() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = plaintext_refused(&ConnSpec::for_host("127.0.0.1", port))
        .await
        .unwrap_err();
    assert!(err.contains("cannot reach 127.0.0.1"), "{err}");
}
