//! `conninfo::connect` against real servers (the test binary's launcher cluster: a TLS-only
//! primary and a streaming replica): TLS modes, authentication failures, target session
//! attributes on a real primary/standby pair, dead and silent hosts, passfiles, startup settings.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use conninfo::{ConnSpec, ConnectError, FailureReason, HostSpec, ServerRole, SslMode, TargetSessionAttrs};
use secrecy::{ExposeSecret, SecretString};
use test_support::Server;

fn spec(server: &Server, mode: SslMode) -> ConnSpec {
    let mut spec = ConnSpec::for_host(&server.host, server.port)
        .with_user(&server.user)
        .with_password(server.password.clone())
        .with_database(&server.admin_db)
        .with_ssl_mode(mode)
        .with_host_recheck(Duration::ZERO);
    if mode.verifies_chain() {
        spec = spec.with_root_cert(server.ca_cert.clone().expect("launcher cluster has a CA"));
    }
    spec
}

fn primary() -> &'static Server {
    test_support::cluster().primary()
}

fn replica() -> &'static Server {
    test_support::cluster()
        .replica()
        .expect("the test cluster has a replica")
}

async fn uses_tls(client: &tokio_postgres::Client) -> bool {
    client
        .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn every_tls_mode_reaches_a_tls_only_server_except_disable() {
    for mode in [
        SslMode::Allow,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ] {
        let (client, host) = conninfo::connect(&spec(primary(), mode))
            .await
            .unwrap_or_else(|e| panic!("{mode}: {e}"));
        assert!(uses_tls(&client).await, "{mode}");
        assert_eq!(host.role, ServerRole::PrimaryReadWrite);
        assert!(host.server_version.is_some());
    }
    // The launcher's pg_hba accepts TCP only over TLS (hostssl), as AlloyDB does.
    let err = conninfo::connect(&spec(primary(), SslMode::Disable)).await.unwrap_err();
    assert_eq!(err.sqlstate(), Some("28000"), "{err}");
}

#[tokio::test]
async fn verify_full_accepts_the_names_in_the_certificate() {
    let mut localhost = spec(primary(), SslMode::VerifyFull);
    localhost.hosts = vec![HostSpec::tcp("localhost", primary().port)];
    let (client, _) = conninfo::connect(&localhost).await.unwrap();
    assert!(uses_tls(&client).await);
}

#[tokio::test]
async fn a_foreign_root_certificate_is_refused() {
    let ca = rcgen::generate_simple_self_signed(vec!["elsewhere".to_owned()]).unwrap();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(ca.cert.pem().as_bytes()).unwrap();
    for mode in [SslMode::VerifyCa, SslMode::VerifyFull] {
        let spec = spec(primary(), SslMode::Require)
            .with_ssl_mode(mode)
            .with_root_cert(file.path());
        let err = conninfo::connect(&spec).await.unwrap_err();
        let reason = &err.failures()[0].reason;
        assert!(
            matches!(reason, FailureReason::Io(m) if m.contains("certificate")),
            "{mode}: {err}"
        );
    }
}

#[tokio::test]
async fn a_wrong_password_is_an_authentication_failure_that_hides_the_password() {
    let spec = spec(primary(), SslMode::Require).with_password(SecretString::from("not-the-password"));
    let err = conninfo::connect(&spec).await.unwrap_err();
    assert_eq!(err.sqlstate(), Some("28P01"));
    assert!(err.is_auth_failure());
    assert!(!err.to_string().contains("not-the-password"));
    // The right password supplied by the caller wins over the spec's.
    let (client, _) = conninfo::connect_with_password(&spec, &primary().password)
        .await
        .unwrap();
    client.simple_query("SELECT 1").await.unwrap();
}

fn pair(attrs: TargetSessionAttrs, first_replica: bool) -> ConnSpec {
    let (a, b) = if first_replica {
        (replica(), primary())
    } else {
        (primary(), replica())
    };
    spec(primary(), SslMode::VerifyFull)
        .with_hosts(vec![HostSpec::tcp(&a.host, a.port), HostSpec::tcp(&b.host, b.port)])
        .with_target_session_attrs(attrs)
}

#[tokio::test]
async fn target_session_attributes_on_a_real_primary_and_standby() {
    use TargetSessionAttrs::*;
    // (attrs, hosts listed replica first?, expected index, expected role)
    let cases = [
        (Any, true, 0, ServerRole::Standby),
        (Any, false, 0, ServerRole::PrimaryReadWrite),
        (Primary, true, 1, ServerRole::PrimaryReadWrite),
        (Standby, false, 1, ServerRole::Standby),
        (ReadWrite, true, 1, ServerRole::PrimaryReadWrite),
        (ReadOnly, false, 1, ServerRole::Standby),
        (PreferPrimary, true, 1, ServerRole::PrimaryReadWrite),
        (PreferStandby, false, 1, ServerRole::Standby),
    ];
    for (attrs, replica_first, index, role) in cases {
        let (client, host) = conninfo::connect(&pair(attrs, replica_first)).await.unwrap();
        assert_eq!(
            (host.index, host.role),
            (index, role),
            "{attrs} replica_first={replica_first}"
        );
        let in_recovery: bool = client
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(in_recovery, role == ServerRole::Standby);
        assert_eq!(host.session.role(), Some(role));
    }
}

#[tokio::test]
async fn prefer_falls_back_and_strict_targets_fail_on_a_single_host() {
    let only_primary = spec(primary(), SslMode::VerifyFull);
    let (_, host) = conninfo::connect(
        &only_primary
            .clone()
            .with_target_session_attrs(TargetSessionAttrs::PreferStandby),
    )
    .await
    .unwrap();
    assert_eq!(host.role, ServerRole::PrimaryReadWrite);
    // The seed's replica string pointed at a primary: refused, with the reason per host.
    let err = conninfo::connect(&only_primary.with_target_session_attrs(TargetSessionAttrs::ReadOnly))
        .await
        .unwrap_err();
    match err {
        ConnectError::NoSuitableHost { attrs, failures } => {
            assert_eq!(attrs, TargetSessionAttrs::ReadOnly);
            assert_eq!(
                failures[0].reason,
                FailureReason::WrongRole(ServerRole::PrimaryReadWrite)
            );
        }
        other => panic!("unexpected {other}"),
    }
}

#[tokio::test]
async fn a_read_only_session_on_the_primary_is_primary_read_only() {
    let spec = spec(primary(), SslMode::Require).with_setting("default_transaction_read_only", "on");
    let (_, host) = conninfo::connect(&spec.clone().with_target_session_attrs(TargetSessionAttrs::ReadOnly))
        .await
        .unwrap();
    assert_eq!(host.role, ServerRole::PrimaryReadOnly);
    let (_, host) = conninfo::connect(&spec.clone().with_target_session_attrs(TargetSessionAttrs::Primary))
        .await
        .unwrap();
    assert_eq!(host.role, ServerRole::PrimaryReadOnly);
    let err = conninfo::connect(&spec.with_target_session_attrs(TargetSessionAttrs::ReadWrite))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::NoSuitableHost { .. }), "{err}");
}

/// A port nobody listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn dead_and_silent_hosts_are_skipped() {
    // A server that accepts TCP and then never says a word: only the connect timeout ends it.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let p = primary();
    let spec = spec(p, SslMode::Require)
        .with_connect_timeout(Some(Duration::from_secs(1)))
        .with_hosts(vec![
            HostSpec::tcp("127.0.0.1", closed_port()),
            HostSpec::tcp("127.0.0.1", silent_port),
            HostSpec::tcp(&p.host, p.port),
        ]);
    let (_, host) = conninfo::connect(&spec).await.unwrap();
    assert_eq!(host.index, 2);

    let err = conninfo::connect(&spec.clone().with_hosts(spec.hosts[..2].to_vec()))
        .await
        .unwrap_err();
    let reasons: Vec<&FailureReason> = err.failures().iter().map(|f| &f.reason).collect();
    assert!(matches!(reasons[0], FailureReason::Io(_)), "{err}");
    assert_eq!(reasons[1], &FailureReason::Timeout(Duration::from_secs(1)));
    holder.abort();
}

#[tokio::test]
async fn a_passfile_supplies_the_password() {
    let p = primary();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    writeln!(file, "other:1:*:*:wrong").unwrap();
    writeln!(
        file,
        "{}:{}:*:{}:{}",
        p.host,
        p.port,
        p.user,
        p.password.expose_secret().replace(':', "\\:")
    )
    .unwrap();
    std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut spec = spec(p, SslMode::Require);
    spec.password = None;
    spec.passfile = Some(file.path().to_owned());
    let (client, _) = conninfo::connect(&spec).await.unwrap();
    client.simple_query("SELECT 1").await.unwrap();
}

#[tokio::test]
async fn startup_settings_reach_the_session() {
    let mut spec = spec(primary(), SslMode::Require).with_application_name("conninfo test");
    spec.search_path = Some("pg_catalog, public".into());
    spec.timezone = Some("America/New_York".into());
    let (client, _) = conninfo::connect(&spec).await.unwrap();
    let row = client
        .query_one(
            "SELECT current_setting('application_name'), current_setting('search_path'), current_setting('TimeZone')",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "conninfo test");
    assert_eq!(row.get::<_, String>(1), "pg_catalog, public");
    assert_eq!(row.get::<_, String>(2), "America/New_York");
}

#[tokio::test]
async fn a_parsed_npgsql_string_connects() {
    let p = primary();
    let text = format!(
        "Host={};Port={};Database={};Username={};Password=\"{}\";SSL Mode=VerifyFull;Root Certificate={}",
        p.host,
        p.port,
        p.admin_db,
        p.user,
        p.password.expose_secret().replace('"', "\"\""),
        p.ca_cert.as_ref().unwrap().display()
    );
    let spec = ConnSpec::parse_npgsql_with_env(&text, &conninfo::NoEnv).unwrap();
    let (client, _) = conninfo::connect(&spec).await.unwrap();
    assert!(uses_tls(&client).await);
}

#[tokio::test]
async fn closing_a_session_fails_what_is_in_flight() {
    let (client, host) = conninfo::connect(&spec(primary(), SslMode::Require)).await.unwrap();
    let client = std::sync::Arc::new(client);
    let sleeper = {
        let client = client.clone();
        tokio::spawn(async move { client.simple_query("SELECT pg_sleep(30)").await })
    };
    // Let the query reach the server, then cut the session.
    tokio::time::sleep(Duration::from_millis(200)).await;
    host.session.close();
    let result = sleeper.await.unwrap();
    assert!(result.unwrap_err().is_closed());
    assert!(host.session.is_closed());
    assert!(client.simple_query("SELECT 1").await.is_err());
}
