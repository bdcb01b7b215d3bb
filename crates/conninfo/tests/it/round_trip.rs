//! Property tests: any spec rendered to Npgsql or to a libpq URI parses back to an equal spec,
//! and no redacted rendering ever contains the password.

use std::path::PathBuf;
use std::time::Duration;

use conninfo::{
    ChannelBinding, ConnSpec, HostSpec, Keepalives, NoEnv, PoolSettings, SslMode, SslNegotiation, TargetSessionAttrs,
};
use proptest::option;
use proptest::prelude::*;
use secrecy::{ExposeSecret, SecretString};

fn host() -> impl Strategy<Value = HostSpec> {
    let port = 1u16..=65535;
    prop_oneof![
        ("[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){0,2}", port.clone()).prop_map(|(h, p)| HostSpec::tcp(&h, p)),
        (any::<[u8; 4]>(), port.clone())
            .prop_map(|(ip, p)| HostSpec::tcp(&std::net::Ipv4Addr::from(ip).to_string(), p)),
        (any::<[u16; 8]>(), port.clone())
            .prop_map(|(ip, p)| HostSpec::tcp(&std::net::Ipv6Addr::from(ip).to_string(), p)),
        ("/[a-z]{1,6}(/[a-z_]{1,6}){0,2}", port).prop_map(|(d, p)| HostSpec::unix(d, p)),
    ]
}

/// Any printable text (no control characters), including `;`, quotes, `=`, `%`, blanks.
fn text() -> impl Strategy<Value = String> {
    "\\PC{1,24}"
}

fn path() -> impl Strategy<Value = PathBuf> {
    "/[a-z]{1,8}/[a-z.]{1,8}".prop_map(PathBuf::from)
}

fn secs(range: std::ops::RangeInclusive<u64>) -> impl Strategy<Value = Duration> {
    range.prop_map(Duration::from_secs)
}

fn pool() -> impl Strategy<Value = PoolSettings> {
    (
        any::<bool>(),
        1u32..=1024,
        1u64..=100,
        0u64..=1000,
        option::of(secs(1..=100_000)),
    )
        .prop_flat_map(|(pooling, max, pruning, extra_idle, max_lifetime)| {
            (0..=max).prop_map(move |min| PoolSettings {
                pooling,
                min_size: min,
                max_size: max,
                idle_lifetime: Duration::from_secs(pruning + extra_idle),
                pruning_interval: Duration::from_secs(pruning),
                max_lifetime,
            })
        })
}

fn keepalives() -> impl Strategy<Value = Keepalives> {
    (
        any::<bool>(),
        option::of(secs(1..=7200)),
        option::of(secs(1..=600)),
        option::of(secs(1..=3600)),
    )
        .prop_map(|(tcp, idle, interval, app_interval)| {
            // Npgsql expresses an idle time only with TCP keepalive on, an interval only with an idle time.
            let idle = idle.filter(|_| tcp);
            Keepalives {
                tcp,
                idle,
                interval: interval.filter(|_| idle.is_some()),
                retries: None,
                app_interval,
            }
        })
}

prop_compose! {
    fn spec()(
        hosts in prop::collection::vec(host(), 1..4),
        database in option::of(text()),
        username in option::of(text()),
        password in option::of(text()),
        passfile in option::of(path()),
        ssl_mode in prop::sample::select(SslMode::ALL.to_vec()),
        root_cert in option::of(path()),
        client in option::of((path(), path())),
        negotiation in prop::sample::select(vec![SslNegotiation::Postgres, SslNegotiation::Direct]),
        binding in prop::sample::select(vec![ChannelBinding::Disable, ChannelBinding::Prefer, ChannelBinding::Require]),
        attrs in prop::sample::select(TargetSessionAttrs::ALL.to_vec()),
        load_balance in any::<bool>(),
        read_pool in any::<bool>(),
        recheck in secs(0..=1000),
        connect_timeout in option::of(secs(1..=1024)),
        command_timeout in option::of(secs(1..=100_000)),
        pool in pool(),
        keepalives in keepalives(),
        strings in (option::of(text()), option::of(text()), option::of(text()), option::of(text())),
        encoding in option::of(prop::sample::select(vec!["UTF8", "LATIN1"])),
        error_detail in any::<bool>(),
    ) -> ConnSpec {
        let (application_name, search_path, options, timezone) = strings;
        let mut spec = ConnSpec::for_host("x", 1).with_hosts(hosts);
        spec.database = database;
        spec.username = username;
        spec.password = password.map(SecretString::from);
        spec.passfile = passfile;
        spec.ssl_mode = ssl_mode;
        // A root certificate only matters (and only round-trips through libpq) when verifying.
        spec.root_cert = root_cert.filter(|_| ssl_mode.verifies_chain());
        spec.client_cert = client.as_ref().map(|c| c.0.clone());
        spec.client_key = client.map(|c| c.1);
        // libpq refuses direct TLS negotiation with a mode that does not require TLS.
        spec.ssl_negotiation = if ssl_mode.requires_tls() {
            negotiation
        } else {
            SslNegotiation::Postgres
        };
        spec.channel_binding = binding;
        spec.target_session_attrs = attrs;
        spec.load_balance_hosts = load_balance;
        spec.read_pool = read_pool;
        spec.host_recheck = recheck;
        spec.connect_timeout = connect_timeout;
        spec.command_timeout = command_timeout;
        spec.pool = pool;
        spec.keepalives = keepalives;
        spec.application_name = application_name;
        spec.search_path = search_path;
        spec.options = options;
        spec.timezone = timezone;
        spec.client_encoding = encoding.map(str::to_owned);
        spec.include_error_detail = error_detail;
        spec
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn npgsql_round_trip(spec in spec()) {
        let text = spec.to_npgsql_secret();
        let back = ConnSpec::parse_npgsql_with_env(text.expose_secret(), &NoEnv);
        prop_assert!(back.is_ok(), "{:?}", back.err());
        prop_assert_eq!(back.unwrap(), spec);
    }

    #[test]
    fn libpq_uri_round_trip(spec in spec()) {
        let text = spec.to_libpq_uri_secret();
        let back = ConnSpec::parse_libpq_with_env(text.expose_secret(), &NoEnv);
        prop_assert!(back.is_ok(), "{:?}", back.err());
        prop_assert_eq!(back.unwrap(), spec);
    }

    #[test]
    fn auto_detection_round_trips_both_renderings(spec in spec()) {
        for text in [spec.to_npgsql_secret(), spec.to_libpq_uri_secret()] {
            let back = ConnSpec::parse_with_env(text.expose_secret(), &NoEnv).unwrap();
            prop_assert_eq!(&back, &spec);
        }
    }

    #[test]
    fn redacted_forms_never_contain_the_password(spec in spec(), secret in "[0-9a-f]{16}") {
        let password = format!("§§{secret}");
        let spec = spec.with_password(SecretString::from(password.clone()));
        let json = serde_json::to_string(&spec.explain()).unwrap();
        for shown in [format!("{spec}"), format!("{spec:?}"), spec.to_npgsql_redacted(), spec.to_libpq_uri_redacted(), json] {
            prop_assert!(!shown.contains(&password));
            prop_assert!(!shown.contains(&secret));
        }
    }
}
