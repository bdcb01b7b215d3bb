//! libpq keyword/value strings, libpq URIs, `PG*` environment defaults and JDBC URLs.

use std::path::PathBuf;
use std::time::Duration;

use conninfo::{ConnSpec, HostSpec, NoEnv, ParseError, SslMode, Syntax, TargetSessionAttrs, detect};
use secrecy::ExposeSecret;

fn libpq(text: &str) -> ConnSpec {
    ConnSpec::parse_libpq_with_env(text, &NoEnv).unwrap()
}

fn libpq_err(text: &str) -> ParseError {
    ConnSpec::parse_libpq_with_env(text, &NoEnv).unwrap_err()
}

fn jdbc(text: &str) -> ConnSpec {
    ConnSpec::parse_jdbc_with_env(text, &NoEnv).unwrap()
}

#[test]
fn keyword_form_with_multiple_hosts_and_ports() {
    let spec = libpq(
        "host=h1,h2,h3 port=5433,,5435 dbname=app user=u password='p w' target_session_attrs=read-write load_balance_hosts=random",
    );
    assert_eq!(
        spec.hosts,
        vec![
            HostSpec::tcp("h1", 5433),
            HostSpec::tcp("h2", 5432),
            HostSpec::tcp("h3", 5435)
        ]
    );
    assert_eq!(spec.database.as_deref(), Some("app"));
    assert_eq!(spec.password.unwrap().expose_secret(), "p w");
    assert_eq!(spec.target_session_attrs, TargetSessionAttrs::ReadWrite);
    assert!(spec.load_balance_hosts);
    assert_eq!(spec.syntax, Syntax::LibpqKeyword);
}

#[test]
fn one_port_applies_to_all_hosts_and_mismatched_counts_fail() {
    let spec = libpq("host=a,b port=6000");
    assert_eq!(spec.hosts, vec![HostSpec::tcp("a", 6000), HostSpec::tcp("b", 6000)]);
    assert!(matches!(libpq_err("host=a,b,c port=1,2"), ParseError::Inconsistent(_)));
    assert_eq!(libpq_err("host=a port=0").key(), Some("port"));
    assert_eq!(libpq_err("host=a port=70000").key(), Some("port"));
}

#[test]
fn libpq_defaults_differ_from_npgsql() {
    let spec = libpq("host=h");
    assert_eq!(spec.connect_timeout, None);
    assert_eq!(spec.command_timeout, None);
    assert!(spec.keepalives.tcp);
    assert_eq!(spec.ssl_mode, SslMode::Prefer);
    // No host at all: the default socket directory.
    assert_eq!(
        libpq("").hosts,
        vec![HostSpec::unix(conninfo::DEFAULT_SOCKET_DIR, 5432)]
    );
}

#[test]
fn keywords_and_values_are_case_sensitive_like_libpq() {
    assert!(matches!(libpq_err("Host=h"), ParseError::UnknownKey { .. }));
    assert_eq!(libpq_err("host=h sslmode=Require").key(), Some("sslmode"));
    assert_eq!(
        libpq_err("host=h target_session_attrs=Read-Write").key(),
        Some("target_session_attrs")
    );
    assert_eq!(libpq_err("host=h bogus=1").key(), Some("bogus"));
}

#[test]
fn all_ssl_modes_and_the_root_certificate_upgrade() {
    for mode in SslMode::ALL {
        assert_eq!(libpq(&format!("host=h sslmode={mode}")).ssl_mode, mode);
    }
    let spec = libpq("host=h sslmode=require sslrootcert=/etc/ca.pem");
    assert_eq!(spec.ssl_mode, SslMode::VerifyCa);
    assert_eq!(spec.root_cert, Some(PathBuf::from("/etc/ca.pem")));
    assert!(spec.notes.iter().any(|n| n.contains("verify-ca")));
}

#[test]
fn unsupported_and_ignored_libpq_keywords() {
    assert_eq!(libpq_err("host=h hostaddr=10.0.0.1").key(), Some("hostaddr"));
    assert_eq!(libpq_err("host=h service=prod").key(), Some("service"));
    assert_eq!(libpq_err("host=h sslcrl=/x").key(), Some("sslcrl"));
    assert_eq!(libpq_err("host=h gssencmode=require").key(), Some("gssencmode"));
    // Like PQconnectdb, a connection string inside dbname is just a name.
    assert_eq!(libpq("host=h dbname='host=x'").database.as_deref(), Some("host=x"));
    let spec = libpq("host=h sslsni=1 gssencmode=disable krbsrvname=postgres");
    assert_eq!(spec.notes.len(), 2, "{:?}", spec.notes);
}

#[test]
fn extensions_carry_pool_and_session_settings() {
    let spec = libpq(
        "host=h max_pool_size=20 min_pool_size=10 connection_lifetime=0 command_timeout=5 search_path=app,public timezone=UTC host_recheck_seconds=0",
    );
    assert_eq!((spec.pool.min_size, spec.pool.max_size), (10, 20));
    assert_eq!(spec.pool.max_lifetime, None);
    assert_eq!(spec.command_timeout, Some(Duration::from_secs(5)));
    assert_eq!(spec.search_path.as_deref(), Some("app,public"));
    assert_eq!(spec.timezone.as_deref(), Some("UTC"));
    assert_eq!(spec.host_recheck, Duration::ZERO);
    assert!(matches!(
        libpq_err("host=h max_pool_size=1 min_pool_size=2"),
        ParseError::Inconsistent(_)
    ));
}

#[test]
fn uri_form() {
    let spec = libpq(
        "postgresql://app%40corp:p%40ss%3Aw@db1:5433,[2001:db8::1]:5434,db3/my%20db?sslmode=verify-full&sslrootcert=%2Fca.pem&target_session_attrs=prefer-standby&application_name=svc&connect_timeout=4",
    );
    assert_eq!(spec.username.as_deref(), Some("app@corp"));
    assert_eq!(spec.password.as_ref().unwrap().expose_secret(), "p@ss:w");
    assert_eq!(
        spec.hosts,
        vec![
            HostSpec::tcp("db1", 5433),
            HostSpec::tcp("2001:db8::1", 5434),
            HostSpec::tcp("db3", 5432)
        ]
    );
    assert_eq!(spec.database.as_deref(), Some("my db"));
    assert_eq!(spec.ssl_mode, SslMode::VerifyFull);
    assert_eq!(spec.root_cert, Some(PathBuf::from("/ca.pem")));
    assert_eq!(spec.target_session_attrs, TargetSessionAttrs::PreferStandby);
    assert_eq!(spec.connect_timeout, Some(Duration::from_secs(4)));
    assert_eq!(spec.syntax, Syntax::LibpqUri);
    assert_eq!(detect("postgres://h"), Syntax::LibpqUri);
}

#[test]
fn uri_socket_directories_and_query_overrides() {
    let spec = libpq("postgresql://%2Fvar%2Frun%2Fpostgresql:5433/app");
    assert_eq!(spec.hosts, vec![HostSpec::unix("/var/run/postgresql", 5433)]);
    let spec = libpq("postgresql:///app?host=/tmp&port=6000");
    assert_eq!(spec.hosts, vec![HostSpec::unix("/tmp", 6000)]);
    assert_eq!(libpq("postgresql://h?ssl=true").ssl_mode, SslMode::Require);
}

#[test]
fn uri_errors_name_the_problem_without_secrets() {
    let err = libpq_err("postgresql://u:top%secret@h/db");
    assert!(matches!(
        err,
        ParseError::Format {
            syntax: Syntax::LibpqUri,
            ..
        }
    ));
    assert!(!err.to_string().contains("top"));
    assert_eq!(libpq_err("postgresql://h/db?nope=1").key(), Some("nope"));
    assert!(matches!(libpq_err("postgresql://[::1/db"), ParseError::Format { .. }));
}

#[test]
fn environment_defaults_apply_to_unset_parameters_only() {
    let env = [
        ("PGHOST", "envhost"),
        ("PGPORT", "6543"),
        ("PGUSER", "envuser"),
        ("PGDATABASE", "envdb"),
        ("PGSSLMODE", "verify-full"),
        ("PGTARGETSESSIONATTRS", "standby"),
        ("PGAPPNAME", "envapp"),
        ("PGCONNECT_TIMEOUT", "7"),
        ("PGTZ", "Europe/Paris"),
    ];
    let spec = ConnSpec::parse_libpq_with_env("dbname=explicit", &env).unwrap();
    assert_eq!(spec.hosts, vec![HostSpec::tcp("envhost", 6543)]);
    assert_eq!(spec.username.as_deref(), Some("envuser"));
    assert_eq!(spec.database.as_deref(), Some("explicit"));
    assert_eq!(spec.ssl_mode, SslMode::VerifyFull);
    assert_eq!(spec.target_session_attrs, TargetSessionAttrs::Standby);
    assert_eq!(spec.application_name.as_deref(), Some("envapp"));
    assert_eq!(spec.connect_timeout, Some(Duration::from_secs(7)));
    assert_eq!(spec.timezone.as_deref(), Some("Europe/Paris"));
    assert!(spec.notes.iter().any(|n| n.contains("PGHOST")));
    // URI components count as set.
    let spec = ConnSpec::parse_libpq_with_env("postgresql://other/db", &env).unwrap();
    assert_eq!(spec.hosts, vec![HostSpec::tcp("other", 6543)]);
}

#[test]
fn a_bad_environment_value_names_the_variable() {
    let err = ConnSpec::parse_libpq_with_env("host=h", &[("PGPORT", "nope")]).unwrap_err();
    assert_eq!(err.key(), Some("PGPORT"));
}

#[test]
fn jdbc_urls() {
    let spec = jdbc(
        "jdbc:postgresql://h1:5433,h2/app?user=u&password=p%26w&targetServerType=preferSecondary&loadBalanceHosts=true&ApplicationName=svc+x&currentSchema=app&connectTimeout=3",
    );
    assert_eq!(spec.hosts, vec![HostSpec::tcp("h1", 5433), HostSpec::tcp("h2", 5432)]);
    assert_eq!(spec.database.as_deref(), Some("app"));
    assert_eq!(spec.username.as_deref(), Some("u"));
    assert_eq!(spec.password.as_ref().unwrap().expose_secret(), "p&w");
    assert_eq!(spec.target_session_attrs, TargetSessionAttrs::PreferStandby);
    assert!(spec.load_balance_hosts);
    assert_eq!(spec.application_name.as_deref(), Some("svc x"));
    assert_eq!(spec.search_path.as_deref(), Some("app"));
    assert_eq!(spec.connect_timeout, Some(Duration::from_secs(3)));
    assert_eq!(spec.syntax, Syntax::Jdbc);
}

#[test]
fn jdbc_forms_without_host_and_with_ipv6() {
    let spec = jdbc("jdbc:postgresql:app");
    assert_eq!(spec.hosts, vec![HostSpec::tcp("localhost", 5432)]);
    assert_eq!(spec.database.as_deref(), Some("app"));
    let spec = jdbc("jdbc:postgresql://[::1]:5433/");
    assert_eq!(spec.hosts, vec![HostSpec::tcp("::1", 5433)]);
    assert_eq!(spec.database, None);
    assert_eq!(spec.connect_timeout, Some(Duration::from_secs(10)));
}

#[test]
fn jdbc_ssl_rules_follow_pgjdbc() {
    assert_eq!(jdbc("jdbc:postgresql://h/db?ssl=true").ssl_mode, SslMode::VerifyFull);
    assert_eq!(
        jdbc("jdbc:postgresql://h/db?ssl=true&sslmode=require").ssl_mode,
        SslMode::Require
    );
    assert_eq!(
        jdbc("jdbc:postgresql://h/db?ssl=true&sslfactory=org.postgresql.ssl.NonValidatingFactory").ssl_mode,
        SslMode::Require
    );
    assert_eq!(jdbc("jdbc:postgresql://h/db").ssl_mode, SslMode::Prefer);
}

#[test]
fn jdbc_target_server_types() {
    for (name, attrs) in [
        ("any", TargetSessionAttrs::Any),
        // pgjdbc's primary: not in recovery and transaction_read_only off (libpq's read-write);
        // its secondary: the opposite (read-only). interop_tests connects with pgjdbc to check.
        ("master", TargetSessionAttrs::ReadWrite),
        ("primary", TargetSessionAttrs::ReadWrite),
        ("slave", TargetSessionAttrs::ReadOnly),
        ("secondary", TargetSessionAttrs::ReadOnly),
        ("preferSlave", TargetSessionAttrs::PreferStandby),
        ("preferPrimary", TargetSessionAttrs::PreferPrimary),
    ] {
        assert_eq!(
            jdbc(&format!("jdbc:postgresql://h/db?targetServerType={name}")).target_session_attrs,
            attrs
        );
    }
}

#[test]
fn jdbc_errors() {
    let err = |t: &str| ConnSpec::parse_jdbc_with_env(t, &NoEnv).unwrap_err();
    assert_eq!(
        err("jdbc:postgresql://h/db?targetServerType=bogus").key(),
        Some("targetServerType")
    );
    assert_eq!(err("jdbc:postgresql://h/db?madeUp=1").key(), Some("madeUp"));
    assert_eq!(err("jdbc:postgresql://h/db?readOnly=true").key(), Some("readOnly"));
    assert!(matches!(err("jdbc:postgresql://h"), ParseError::Format { .. }));
    assert_eq!(err("jdbc:postgresql://h:99999/db").key(), Some("port"));
    assert!(!err("jdbc:postgresql://u:pw@h/db").to_string().contains("pw"));
    assert!(jdbc("jdbc:postgresql://h/db?prepareThreshold=0").notes[0].contains("prepareThreshold"));
}

#[test]
fn auto_detection_dispatches() {
    let env = NoEnv;
    let p = |t: &str| ConnSpec::parse_with_env(t, &env).unwrap().syntax;
    assert_eq!(p("Host=h;Port=1"), Syntax::Npgsql);
    assert_eq!(p("host=h port=1"), Syntax::LibpqKeyword);
    assert_eq!(p("postgresql://h"), Syntax::LibpqUri);
    assert_eq!(p("jdbc:postgresql://h/db"), Syntax::Jdbc);
}
