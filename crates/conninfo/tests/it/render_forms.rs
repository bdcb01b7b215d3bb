//! The rendered forms people copy: the seed plan's Npgsql shape (`Host=...;Port=...`) and a libpq
//! URI that libpq itself accepts as printed.

use std::time::Duration;

use conninfo::{ConnSpec, PoolSettings, SslMode, TargetSessionAttrs};
use secrecy::{ExposeSecret, SecretString};

fn seed_replica() -> ConnSpec {
    ConnSpec::for_host("10.28.48.10", 5432)
        .with_database("client_api_db_devtest")
        .with_user("client_api_user")
        .with_password(SecretString::from("s3cret"))
        .with_target_session_attrs(TargetSessionAttrs::ReadOnly)
        .with_ssl_mode(SslMode::Require)
}

#[test]
fn a_single_host_renders_in_the_seed_plans_shape() {
    let text = seed_replica().to_npgsql_secret();
    assert_eq!(
        text.expose_secret(),
        "Host=10.28.48.10;Port=5432;Database=client_api_db_devtest;Username=client_api_user;Password=s3cret;\
         SSL Mode=Require;Target Session Attributes=read-only"
    );
}

#[test]
fn hosts_sharing_a_port_use_port_and_mixed_ports_stay_on_each_host() {
    let shared = ConnSpec::parse("Host=a,b,::1;Port=6432").expect("parse");
    assert_eq!(shared.to_npgsql_redacted(), "Host=a,b,[::1];Port=6432");
    assert_eq!(
        ConnSpec::parse(&shared.to_npgsql_redacted()).expect("reparse").hosts,
        shared.hosts
    );
    let mixed = ConnSpec::parse("Host=a:5432,b:5433").expect("parse");
    assert_eq!(mixed.to_npgsql_redacted(), "Host=a:5432,b:5433");
}

#[test]
fn the_portable_uri_keeps_only_what_libpq_knows() {
    let mut spec = seed_replica()
        .with_command_timeout(Some(Duration::from_secs(5)))
        .with_pool(PoolSettings {
            max_size: 20,
            ..PoolSettings::default()
        });
    spec.search_path = Some("client_api, public".to_owned());
    spec.timezone = Some("UTC".to_owned());
    let extended = spec.to_libpq_uri_redacted();
    assert!(
        extended.contains("command_timeout=5") && extended.contains("max_pool_size=20"),
        "{extended}"
    );
    let portable = spec.to_libpq_uri_portable_redacted();
    for ext in ["command_timeout", "max_pool_size", "search_path=", "timezone="] {
        assert!(!portable.contains(ext), "{ext} must not reach libpq: {portable}");
    }
    assert!(portable.contains("target_session_attrs=read-only"), "{portable}");
    // `-c search_path=client_api,\ public -c TimeZone=UTC`, percent-encoded.
    let reparsed = ConnSpec::parse(spec.to_libpq_uri_portable_secret().expose_secret()).expect("reparse");
    let options = reparsed.options.expect("options");
    assert_eq!(options, r"-c search_path=client_api,\ public -c TimeZone=UTC");
    assert!(!portable.contains("s3cret"));
}
