//! Npgsql's connection-string behaviour, case by case, against our Npgsql parser: host lists, parse
//! errors, and which host each Target Session Attributes value picks. The cases restate what Npgsql's own
//! `NpgsqlConnectionStringBuilder` tests and documentation show (and .NET's `DbConnectionStringBuilder`
//! grammar); the rules they check, and where we deliberately differ, are in crates/conninfo/README.md.

use std::time::Duration;

use conninfo::{ConnSpec, HostSpec, NoEnv, ParseError, ServerRole, SslMode, Syntax, TargetSessionAttrs, choose_host};
use secrecy::ExposeSecret;

fn parse(text: &str) -> Result<ConnSpec, ParseError> {
    ConnSpec::parse_npgsql_with_env(text, &NoEnv)
}

fn hosts(host_value: &str) -> Vec<HostSpec> {
    parse(&format!("Host={host_value}")).unwrap().hosts
}

// --- Hosts -> the host:port list they mean -------------------------------------------------

#[test]
fn golden_single_hosts() {
    // `::1` and `[::1]` are the same endpoint; we store it without brackets and render it
    // bracketed, so the golden `::1:5432` and `[::1]:5432` both mean host ::1, port 5432.
    let cases = [
        ("127.0.0.1", "127.0.0.1", 5432),
        ("127.0.0.1:5432", "127.0.0.1", 5432),
        ("::1", "::1", 5432),
        ("[::1]", "::1", 5432),
        ("[::1]:5432", "::1", 5432),
        ("localhost", "localhost", 5432),
        ("localhost:5432", "localhost", 5432),
    ];
    for (input, host, port) in cases {
        assert_eq!(hosts(input), vec![HostSpec::tcp(host, port)], "{input}");
    }
}

#[test]
fn golden_host_list_keeps_order() {
    let list = hosts("127.0.0.1,127.0.0.1:5432,::1,[::1],[::1]:5432,localhost,localhost:5432");
    let expected: Vec<HostSpec> = ["127.0.0.1", "127.0.0.1", "::1", "::1", "::1", "localhost", "localhost"]
        .iter()
        .map(|h| HostSpec::tcp(h, 5432))
        .collect();
    assert_eq!(list, expected);
    let rendered: Vec<String> = list.iter().map(ToString::to_string).collect();
    assert_eq!(rendered[2], "[::1]:5432");
}

#[test]
fn port_keyword_applies_to_hosts_without_their_own_port() {
    let spec = parse("Host=a,b:6000,[::1];Port=5433").unwrap();
    assert_eq!(
        spec.hosts,
        vec![
            HostSpec::tcp("a", 5433),
            HostSpec::tcp("b", 6000),
            HostSpec::tcp("::1", 5433)
        ]
    );
    // Order of keys does not matter.
    assert_eq!(parse("Port=5433;Host=a").unwrap().hosts, vec![HostSpec::tcp("a", 5433)]);
}

#[test]
fn a_host_starting_with_slash_is_a_socket_directory() {
    let spec = parse("Host=/var/run/postgresql;Port=5433").unwrap();
    assert_eq!(spec.hosts, vec![HostSpec::unix("/var/run/postgresql", 5433)]);
}

// --- Parsing ---------------------------------------------------------------------------------

#[test]
fn golden_ssl_mode_is_case_insensitive_and_one_key() {
    for text in [
        "Host=h;SslMode=Require",
        "Host=h;SslMode=require",
        "Host=h;SSL Mode=REQUIRE",
    ] {
        assert_eq!(parse(text).unwrap().ssl_mode, SslMode::Require, "{text}");
    }
    // SslMode and SSL Mode are one key: the last one wins.
    assert_eq!(
        parse("Host=h;SSL Mode=Disable;SslMode=VerifyFull").unwrap().ssl_mode,
        SslMode::VerifyFull
    );
    assert_eq!(parse("Host=h;sslmode=verifyca").unwrap().ssl_mode, SslMode::VerifyCa);
}

#[test]
fn hyphenated_ssl_mode_is_rejected_like_npgsql() {
    let err = parse("Host=h;SSL Mode=verify-full").unwrap_err();
    assert_eq!(err.key(), Some("SSL Mode"));
}

#[test]
fn golden_pair_without_equals_is_a_format_error() {
    let err = parse("Server=127.0.0.1;User Id=npgsql_tests;Pooling:false").unwrap_err();
    assert!(
        matches!(
            err,
            ParseError::Format {
                syntax: Syntax::Npgsql,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn golden_port_hello_names_port() {
    let err = parse("Host=h;Port=hello").unwrap_err();
    assert_eq!(err.key(), Some("Port"));
    assert!(err.to_string().contains("Port"), "{err}");
}

#[test]
fn golden_missing_host() {
    let err = parse("User ID=u;Password=p;Database=d").unwrap_err();
    assert_eq!(err, ParseError::MissingHost);
    assert_eq!(err.to_string(), "host is required (set `Host`)");
}

#[test]
fn golden_host_recheck_seconds() {
    let err = parse("Host=h;Host Recheck Seconds=-1").unwrap_err();
    assert_eq!(err.key(), Some("Host Recheck Seconds"));
    assert_eq!(
        parse("Host=h;Host Recheck Seconds=0").unwrap().host_recheck,
        Duration::ZERO
    );
    assert_eq!(parse("Host=h").unwrap().host_recheck, Duration::from_secs(10));
}

#[test]
fn golden_target_session_attributes() {
    let err = parse("Host=h;Target Session Attributes=garbage").unwrap_err();
    assert_eq!(err.key(), Some("Target Session Attributes"));
    assert_eq!(
        parse("Host=h;Target Session Attributes=Prefer-Primary")
            .unwrap()
            .target_session_attrs,
        TargetSessionAttrs::PreferPrimary
    );
    for attrs in TargetSessionAttrs::ALL {
        let text = format!("Host=a,b;TargetSessionAttributes={}", attrs.name().to_uppercase());
        assert_eq!(parse(&text).unwrap().target_session_attrs, attrs);
    }
}

#[test]
fn unknown_keywords_npgsql_rejects() {
    for key in ["Max Pool Size", "Data Source", "ssl"] {
        let err = parse(&format!("Host=h;{key}=1")).unwrap_err();
        assert_eq!(
            err,
            ParseError::UnknownKey {
                syntax: Syntax::Npgsql,
                key: key.into()
            }
        );
    }
}

#[test]
fn pooling_yes_is_rejected() {
    assert_eq!(parse("Host=h;Pooling=yes").unwrap_err().key(), Some("Pooling"));
    assert!(!parse("Host=h;Pooling=FALSE").unwrap().pool.pooling);
}

#[test]
fn keys_ignore_case_and_trailing_blanks_and_synonyms_last_one_wins() {
    let spec = parse("SERVER=a;  host   =b;user id=u1;Username=u2").unwrap();
    assert_eq!(spec.hosts, vec![HostSpec::tcp("b", 5432)]);
    assert_eq!(spec.username.as_deref(), Some("u2"));
}

#[test]
fn empty_value_resets_to_default() {
    let spec = parse("Host=h;Port=6000;Port=;Timeout=3;Timeout=;Username=u;Username=").unwrap();
    assert_eq!(spec.hosts, vec![HostSpec::tcp("h", 5432)]);
    assert_eq!(spec.connect_timeout, Some(Duration::from_secs(15)));
    assert_eq!(spec.username, None);
    assert_eq!(parse("Host=a;Host=").unwrap_err(), ParseError::MissingHost);
}

#[test]
fn quoting_and_equals_in_values_and_keys() {
    let spec = parse("Host=h;Password=\"p;w=\"\"x\"\"\";Application Name='it''s mine';Options=-c a=b").unwrap();
    assert_eq!(spec.password.unwrap().expose_secret(), "p;w=\"x\"");
    assert_eq!(spec.application_name.as_deref(), Some("it's mine"));
    assert_eq!(spec.options.as_deref(), Some("-c a=b"));
    // `==` is a literal `=` inside a key: this key is unknown, and named exactly.
    assert_eq!(parse("Host=h;Pass==word=x").unwrap_err().key(), Some("Pass=word"));
}

#[test]
fn seed_strings_parse() {
    let primary = parse("Host=10.28.48.10;Port=5432;Database=client_api_db_devtest;Username=client_api_user;Password=s3cr3t;SSL Mode=Require").unwrap();
    assert_eq!(primary.hosts, vec![HostSpec::tcp("10.28.48.10", 5432)]);
    assert_eq!(primary.database.as_deref(), Some("client_api_db_devtest"));
    assert_eq!(primary.ssl_mode, SslMode::Require);
    assert_eq!(primary.target_session_attrs, TargetSessionAttrs::Any);

    // The single-host read-only string Npgsql refuses: accepted, with the decision noted.
    let replica = parse("Host=10.28.48.10;Port=5432;Database=client_api_db_devtest;Username=client_api_user;Password=s3cr3t;Target Session Attributes=read-only;SSL Mode=Require").unwrap();
    assert_eq!(replica.target_session_attrs, TargetSessionAttrs::ReadOnly);
    assert!(
        replica.notes.iter().any(|n| n.contains("Npgsql refuses")),
        "{:?}",
        replica.notes
    );
}

#[test]
fn secrets_never_show() {
    let spec = parse("Host=h;Username=u;Password=hunter2").unwrap();
    assert!(!format!("{spec:?}").contains("hunter2"));
    assert!(!spec.to_string().contains("hunter2"));
    assert!(!spec.to_npgsql_redacted().contains("hunter2"));
    assert!(!serde_json::to_string(&spec.explain()).unwrap().contains("hunter2"));
    assert_eq!(
        spec.to_string(),
        "postgresql://u:********@h:5432?connect_timeout=15&command_timeout=30&keepalives=0"
    );
    // A bad value next to a password does not leak it.
    let err = parse("Host=h;Password=hunter2;Port=x").unwrap_err();
    assert!(!err.to_string().contains("hunter2"));
}

#[test]
fn npgsql_defaults() {
    let spec = parse("Host=h").unwrap();
    assert_eq!(spec.ssl_mode, SslMode::Prefer);
    assert_eq!(spec.connect_timeout, Some(Duration::from_secs(15)));
    assert_eq!(spec.command_timeout, Some(Duration::from_secs(30)));
    assert!(spec.pool.pooling);
    assert_eq!((spec.pool.min_size, spec.pool.max_size), (0, 100));
    assert_eq!(spec.pool.idle_lifetime, Duration::from_secs(300));
    assert_eq!(spec.pool.pruning_interval, Duration::from_secs(10));
    assert_eq!(spec.pool.max_lifetime, Some(Duration::from_secs(3600)));
    assert!(!spec.keepalives.tcp);
    assert_eq!(spec.syntax, Syntax::Npgsql);
}

#[test]
fn zero_timeouts_mean_none() {
    let spec = parse("Host=h;Timeout=0;Command Timeout=0;Connection Lifetime=0").unwrap();
    assert_eq!(spec.connect_timeout, None);
    assert_eq!(spec.command_timeout, None);
    assert_eq!(spec.pool.max_lifetime, None);
    assert_eq!(parse("Host=h;Timeout=1025").unwrap_err().key(), Some("Timeout"));
}

#[test]
fn pool_bounds_are_checked_together() {
    let spec = parse("Host=h;Minimum Pool Size=10;MaxPoolSize=20;Load Balance Timeout=600").unwrap();
    assert_eq!((spec.pool.min_size, spec.pool.max_size), (10, 20));
    assert_eq!(spec.pool.max_lifetime, Some(Duration::from_secs(600)));
    assert!(matches!(
        parse("Host=h;Minimum Pool Size=30;Maximum Pool Size=20"),
        Err(ParseError::Inconsistent(_))
    ));
    assert!(matches!(
        parse("Host=h;Connection Idle Lifetime=5;Connection Pruning Interval=10"),
        Err(ParseError::Inconsistent(_))
    ));
    assert_eq!(
        parse("Host=h;Maximum Pool Size=1025").unwrap_err().key(),
        Some("Maximum Pool Size")
    );
}

#[test]
fn dotnet_only_keywords_are_accepted_and_noted() {
    let spec =
        parse("Host=h;Enlist=true;Max Auto Prepare=20;Trust Server Certificate=true;Multiplexing=false").unwrap();
    assert_eq!(spec.notes.len(), 4, "{:?}", spec.notes);
    assert_eq!(parse("Host=h;Enlist=maybe").unwrap_err().key(), Some("Enlist"));
}

#[test]
fn features_we_cannot_honor_fail_by_name() {
    assert_eq!(parse("Host=h;SSL Password=x").unwrap_err().key(), Some("SSL Password"));
    assert_eq!(
        parse("Host=h;Check Certificate Revocation=true").unwrap_err().key(),
        Some("Check Certificate Revocation")
    );
    assert_eq!(
        parse("Host=h;GSS Encryption Mode=Require").unwrap_err().key(),
        Some("GSS Encryption Mode")
    );
    assert_eq!(parse("Host=h;Encoding=LATIN1").unwrap_err().key(), Some("Encoding"));
    assert!(parse("Host=h;Check Certificate Revocation=false;Encoding=UTF8").is_ok());
}

#[test]
fn tcp_keepalive_time_turns_tcp_keepalive_on() {
    let spec = parse("Host=h;Tcp Keepalive Time=30;Tcp Keepalive Interval=5;Keepalive=60").unwrap();
    assert!(spec.keepalives.tcp);
    assert_eq!(spec.keepalives.idle, Some(Duration::from_secs(30)));
    assert_eq!(spec.keepalives.interval, Some(Duration::from_secs(5)));
    assert_eq!(spec.keepalives.app_interval, Some(Duration::from_secs(60)));
    assert!(matches!(
        parse("Host=h;Tcp Keepalive Interval=5"),
        Err(ParseError::Inconsistent(_))
    ));
}

#[test]
fn npgsql_environment_defaults_fill_only_unset_keys() {
    let env = [
        ("PGUSER", "envuser"),
        ("PGPASSWORD", "envpw"),
        ("PGHOST", "ignored"),
        ("PGTZ", "UTC"),
    ];
    let spec = ConnSpec::parse_npgsql_with_env("Host=h;Username=u", &env).unwrap();
    assert_eq!(spec.username.as_deref(), Some("u"));
    assert_eq!(spec.password.as_ref().unwrap().expose_secret(), "envpw");
    assert_eq!(spec.timezone.as_deref(), Some("UTC"));
    assert_eq!(spec.hosts, vec![HostSpec::tcp("h", 5432)]);
    assert!(spec.notes.iter().any(|n| n.contains("PGPASSWORD")));
    assert!(!spec.notes.iter().any(|n| n.contains("envpw")));
}

// --- Host choice -----------------------------------------------------------------------------

use ServerRole::{PrimaryReadOnly as RO, PrimaryReadWrite as P, Standby as S};

fn choice(attrs: &str, states: &[ServerRole]) -> Option<usize> {
    let attrs = TargetSessionAttrs::from_name(attrs).unwrap();
    let states: Vec<Option<ServerRole>> = states.iter().copied().map(Some).collect();
    choose_host(attrs, &states).map(|i| i + 1)
}

#[test]
fn golden_host_choice() {
    let cases: &[(&str, [ServerRole; 2], usize)] = &[
        ("standby", [P, S], 2),
        ("standby", [RO, S], 2),
        ("prefer-standby", [P, S], 2),
        ("prefer-standby", [P, P], 1),
        ("primary", [S, P], 2),
        ("primary", [S, RO], 2),
        ("prefer-primary", [S, P], 2),
        ("prefer-primary", [S, S], 1),
        ("any", [S, P], 1),
        ("any", [P, S], 1),
        ("read-write", [S, P], 2),
        ("read-write", [RO, P], 2),
        ("read-only", [P, S], 2),
        ("read-only", [RO, S], 1),
    ];
    for (attrs, states, expected) in cases {
        assert_eq!(choice(attrs, states), Some(*expected), "{attrs} {states:?}");
    }
}

#[test]
fn golden_no_suitable_host() {
    assert_eq!(choice("standby", &[P, P]), None);
    assert_eq!(choice("primary", &[S, S]), None);
    assert_eq!(choice("read-write", &[RO, S]), None);
    assert_eq!(choice("read-only", &[P, P]), None);
}

#[test]
fn offline_hosts_are_skipped_and_prefer_falls_back_to_online_ones() {
    let attrs = TargetSessionAttrs::PreferStandby;
    assert_eq!(choose_host(attrs, &[None, Some(P), Some(S)]), Some(2));
    assert_eq!(choose_host(attrs, &[None, Some(P)]), Some(1));
    assert_eq!(choose_host(attrs, &[None, None]), None);
}
