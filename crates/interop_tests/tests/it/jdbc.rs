//! pgjdbc 42.7 is the referee for JDBC URLs: for every case, `Driver.parseURL` and the driver's
//! own readers of each setting against `conninfo`'s `ConnSpec::parse_jdbc`. A case where we
//! differ on purpose names the reason; the test checks that the difference is still real (a stale
//! exception would hide a fix). Plus the driver actually connecting: `targetServerType` picks the
//! server pgjdbc picks, on a real primary and replica.

use std::collections::BTreeSet;

use conninfo::{ConnSpec, HostSpec, NoEnv, TargetSessionAttrs};
use interop_tests::jdbc::{self, PgjdbcUrl};
use secrecy::ExposeSecret as _;
use serde_json::Value;

/// A URL, and why we differ from pgjdbc on it when we do.
struct Case {
    url: &'static str,
    deliberate: Option<&'static str>,
}

const fn same(url: &'static str) -> Case {
    Case { url, deliberate: None }
}

const fn differs(url: &'static str, why: &'static str) -> Case {
    Case {
        url,
        deliberate: Some(why),
    }
}

const UNKNOWN: &str = "an unknown property is an error naming it (pgjdbc keeps and ignores it, so a typo such as \
                       sslmdoe=verify-full silently connects without verification)";
const IPV6_BRACKETS: &str = "a host with a `:` outside brackets is an error asking for `[...]` (pgjdbc splits at the \
                             last `:` and reads `::1` as host `:` port 1, `h:5432:1` as host `h:5432` port 1)";

/// Every JDBC URL of conninfo's own tests (checked by `every_jdbc_url_of_conninfo_tests_is_refereed`), then
/// the tricky ones.
const CASES: &[Case] = &[
    // conninfo's tests.
    same("jdbc:postgresql:"),
    same("jdbc:postgresql://"),
    same("jdbc:postgresql://[::1]:5433/"),
    same("jdbc:postgresql://h"),
    same("jdbc:postgresql://h/db"),
    differs("jdbc:postgresql://h/db?madeUp=1", UNKNOWN),
    same("jdbc:postgresql://h/db?prepareThreshold=0"),
    differs(
        "jdbc:postgresql://h/db?readOnly=true",
        "readOnly=true makes pgjdbc's connection read-only per connection object; for a connection string that \
         chooses servers we refuse it and point to targetServerType=secondary",
    ),
    same("jdbc:postgresql://h/db?ssl=true"),
    same("jdbc:postgresql://h/db?ssl=true&sslfactory=org.postgresql.ssl.NonValidatingFactory"),
    same("jdbc:postgresql://h/db?ssl=true&sslmode=require"),
    same("jdbc:postgresql://h/db?targetServerType=bogus"),
    same("jdbc:postgresql://h/db?targetServerType=any"),
    same("jdbc:postgresql://h/db?targetServerType=master"),
    same("jdbc:postgresql://h/db?targetServerType=primary"),
    same("jdbc:postgresql://h/db?targetServerType=slave"),
    same("jdbc:postgresql://h/db?targetServerType=secondary"),
    same("jdbc:postgresql://h/db?targetServerType=preferSlave"),
    same("jdbc:postgresql://h/db?targetServerType=preferSecondary"),
    same("jdbc:postgresql://h/db?targetServerType=preferPrimary"),
    same(
        "jdbc:postgresql://h1:5433,h2/app?user=u&password=p%26w&targetServerType=preferSecondary&loadBalanceHosts=true&ApplicationName=svc+x&currentSchema=app&connectTimeout=3",
    ),
    same("jdbc:postgresql://h:99999/db"),
    same("jdbc:postgresql://u:pw@h/db"),
    same("jdbc:postgresql:app"),
    // Several hosts and ports, IPv6.
    same("jdbc:postgresql://h1,h2:5433,h3:5434/db"),
    same("jdbc:postgresql://h1:,h2/db"),
    same("jdbc:postgresql://:5433/db"),
    same("jdbc:postgresql://[2001:db8::1]/db"),
    same("jdbc:postgresql://[2001:db8::1]:6543,[::1]/db"),
    differs("jdbc:postgresql://::1/db", IPV6_BRACKETS),
    same("jdbc:postgresql://h:0/db"),
    differs("jdbc:postgresql://h:5432:1/db", IPV6_BRACKETS),
    same("jdbc:postgresql://h:/db"),
    differs("jdbc:postgresql://[::1/db", IPV6_BRACKETS),
    same("jdbc:postgresql://h:abc/db"),
    same("jdbc:postgresql:///"),
    same("jdbc:postgresql:///db"),
    same("jdbc:postgresql://h/db/extra"),
    same("jdbc:postgresql:/db"),
    // Percent-encoding and URLDecoder's `+`.
    same("jdbc:postgresql://h/my%20db%2Bplus+space"),
    same("jdbc:postgresql://h/db%2Fslash"),
    same("jdbc:postgresql://h/db?ApplicationName=a%2Bb+c&options=-c%20search_path%3Dapp"),
    same("jdbc:postgresql://h/db?password=%E2%82%AC%25"),
    same("jdbc:postgresql://h/db?user=%zz"),
    same("jdbc:postgresql://h/d%zzb"),
    same("jdbc:postgresql://h/%C3%A9t%C3%A9"),
    // sslmode and ssl.
    same("jdbc:postgresql://h/db?sslmode=verify-full&sslrootcert=/etc/ca.pem"),
    same("jdbc:postgresql://h/db?sslmode=REQUIRE"),
    same("jdbc:postgresql://h/db?sslmode=%20require"),
    same("jdbc:postgresql://h/db?sslmode=bogus"),
    same("jdbc:postgresql://h/db?ssl"),
    same("jdbc:postgresql://h/db?ssl="),
    same("jdbc:postgresql://h/db?ssl=TRUE"),
    same("jdbc:postgresql://h/db?ssl=false"),
    differs(
        "jdbc:postgresql://h/db?ssl=yes",
        "a boolean other than true/false is an error (pgjdbc's Boolean.parseBoolean reads it as false, which \
         would turn TLS off for someone who meant on)",
    ),
    same("jdbc:postgresql://h/db?sslfactory=org.postgresql.ssl.NonValidatingFactory"),
    same("jdbc:postgresql://h/db?sslmode=verify-full&sslfactory=org.postgresql.ssl.NonValidatingFactory"),
    same("jdbc:postgresql://h/db?sslmode=disable&ssl=true"),
    same("jdbc:postgresql://h/db?channelBinding=require"),
    same("jdbc:postgresql://h/db?channelBinding=REQUIRE"),
    same("jdbc:postgresql://h/db?sslNegotiation=direct&sslmode=require"),
    differs(
        "jdbc:postgresql://h/db?sslNegotiation=Direct&sslmode=require",
        "an unknown sslNegotiation is an error (pgjdbc silently uses `postgres`)",
    ),
    same("jdbc:postgresql://h/db?gssEncMode=disable"),
    // targetServerType spellings pgjdbc refuses.
    same("jdbc:postgresql://h/db?targetServerType=PRIMARY"),
    same("jdbc:postgresql://h/db?targetServerType=preferMaster"),
    same("jdbc:postgresql://h/db?targetServerType=%20primary"),
    same("jdbc:postgresql://h/db?targetServerType=read-write"),
    // Numbers and booleans.
    same("jdbc:postgresql://h/db?connectTimeout=0"),
    same("jdbc:postgresql://h/db?connectTimeout=-1"),
    same("jdbc:postgresql://h/db?connectTimeout=abc"),
    same("jdbc:postgresql://h/db?hostRecheckSeconds=0"),
    same("jdbc:postgresql://h/db?loadBalanceHosts=TRUE"),
    same("jdbc:postgresql://h/db?loadBalanceHosts"),
    same("jdbc:postgresql://h/db?tcpKeepAlive=true"),
    // Other properties, duplicates, empty items.
    same("jdbc:postgresql://h/db?currentSchema=app,public"),
    same("jdbc:postgresql://h/db?user=a&user=b"),
    same("jdbc:postgresql://h/db?&&user=u&"),
    same("jdbc:postgresql://h/db?user=&password="),
    same("jdbc:postgresql://h/db?user=u=v"),
    differs("jdbc:postgresql://h/db?sslmdoe=verify-full", UNKNOWN),
    // pgjdbc looks the service up in pg_service.conf and refuses the URL when it is not there; we
    // refuse `service` always (crates/conninfo/README.md).
    same("jdbc:postgresql://h/db?service=prod"),
    // What conninfo renders for the platform (render_jdbc.rs).
    same(
        "jdbc:postgresql://10.28.48.10:5432/client_api_db_devtest?sslmode=verify-full&sslrootcert=/etc/pcc/alloydb-ca.pem&targetServerType=primary&connectTimeout=15",
    ),
];

/// What we made of a URL, as a list of mismatches with pgjdbc (empty: the same).
fn mismatches(ours: &Result<ConnSpec, conninfo::ParseError>, theirs: &PgjdbcUrl) -> Vec<String> {
    let hosts = theirs.host_list();
    let refused: Vec<(String, String)> = theirs.refused_settings();
    let pgjdbc_refuses = !theirs.accepted || hosts.is_none() || !refused.is_empty();
    let spec = match (ours, pgjdbc_refuses) {
        (Err(_), true) => return Vec::new(),
        (Ok(_), true) => {
            return vec![format!(
                "pgjdbc refuses it (parseURL accepted: {}, settings refused: {refused:?}) but we accept it",
                theirs.accepted
            )];
        }
        (Err(e), false) => {
            return vec![format!(
                "we refuse it ({e}) but pgjdbc accepts it: {:?}",
                theirs.properties
            )];
        }
        (Ok(spec), false) => spec,
    };
    let mut out = Vec::new();
    let mut check = |what: &str, ours: String, theirs: String| {
        if ours != theirs {
            out.push(format!("{what}: ours {ours}, pgjdbc {theirs}"));
        }
    };
    let text = |name: &str| match theirs.setting(name) {
        Ok(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let expected_hosts: Vec<HostSpec> = hosts
        .unwrap_or_default()
        .iter()
        // Java resolves an empty host name to the loopback address, which is what localhost means.
        .map(|h| HostSpec::tcp(if h.host.is_empty() { "localhost" } else { &h.host }, h.port))
        .collect();
    check("hosts", format!("{:?}", spec.hosts), format!("{expected_hosts:?}"));
    // pgjdbc defaults the database to the user, and the server reads an empty name the same way.
    check(
        "database",
        format!("{:?}", spec.effective_database().filter(|d| !d.is_empty())),
        format!("{:?}", text("PGDBNAME").filter(|d| !d.is_empty())),
    );
    check("user", format!("{:?}", spec.username), format!("{:?}", text("user")));
    check(
        "password",
        format!("{:?}", spec.password.as_ref().map(|p| p.expose_secret().to_owned())),
        format!("{:?}", text("password")),
    );
    // NonValidatingFactory encrypts as asked but verifies nothing: pgjdbc's verify-* become require.
    let mut ssl = text("sslMode").unwrap_or_default();
    if text("sslfactory").as_deref() == Some("org.postgresql.ssl.NonValidatingFactory") && ssl.starts_with("verify") {
        ssl = "require".into();
    }
    check("sslmode", spec.ssl_mode.libpq_name().to_owned(), ssl);
    let attrs = match text("targetServerType").as_deref() {
        Some("any") => TargetSessionAttrs::Any,
        // pgjdbc's primary: not in recovery and transaction_read_only off, i.e. read-write.
        Some("primary" | "master") => TargetSessionAttrs::ReadWrite,
        Some("secondary") => TargetSessionAttrs::ReadOnly,
        Some("preferPrimary") => TargetSessionAttrs::PreferPrimary,
        Some("preferSecondary") => TargetSessionAttrs::PreferStandby,
        other => panic!("unexpected targetServerType {other:?}"),
    };
    check(
        "targetServerType",
        spec.target_session_attrs.name().to_owned(),
        attrs.name().to_owned(),
    );
    let flag = |name: &str| theirs.setting(name).ok().and_then(Value::as_bool).unwrap_or(false);
    let number = |name: &str| theirs.setting(name).ok().and_then(Value::as_i64).unwrap_or(-999);
    check(
        "loadBalanceHosts",
        spec.load_balance_hosts.to_string(),
        flag("loadBalanceHosts").to_string(),
    );
    check(
        "tcpKeepAlive",
        spec.keepalives.tcp.to_string(),
        flag("tcpKeepAlive").to_string(),
    );
    check(
        "connectTimeout",
        spec.connect_timeout.map_or(0, |d| d.as_secs()).to_string(),
        number("connectTimeout").to_string(),
    );
    check(
        "hostRecheckSeconds",
        spec.host_recheck.as_secs().to_string(),
        number("hostRecheckSeconds").to_string(),
    );
    let app = theirs.properties.get("ApplicationName").cloned();
    check(
        "ApplicationName",
        format!("{:?}", spec.application_name),
        format!("{app:?}"),
    );
    check(
        "currentSchema",
        format!("{:?}", spec.search_path),
        format!("{:?}", text("currentSchema")),
    );
    check(
        "options",
        format!("{:?}", spec.options),
        format!("{:?}", text("options")),
    );
    let path = |p: &Option<std::path::PathBuf>| format!("{:?}", p.as_ref().map(|p| p.display().to_string()));
    check(
        "sslrootcert",
        path(&spec.root_cert),
        format!("{:?}", text("sslrootcert")),
    );
    check("sslcert", path(&spec.client_cert), format!("{:?}", text("sslcert")));
    check("sslkey", path(&spec.client_key), format!("{:?}", text("sslkey")));
    check(
        "channelBinding",
        spec.channel_binding.libpq_name().to_owned(),
        text("channelBinding").unwrap_or_default(),
    );
    check(
        "sslNegotiation",
        spec.ssl_negotiation.libpq_name().to_owned(),
        text("sslNegotiation").unwrap_or_default(),
    );
    out
}

#[tokio::test]
async fn pgjdbc_reads_every_url_as_we_do_or_the_difference_is_deliberate() {
    let mut problems = Vec::new();
    for case in CASES {
        let ours = ConnSpec::parse_jdbc_with_env(case.url, &NoEnv);
        let theirs = jdbc::parse(case.url).await;
        let found = mismatches(&ours, &theirs);
        match (case.deliberate, found.is_empty()) {
            (None, true) | (Some(_), false) => {}
            (None, false) => problems.push(format!("{}: {}", case.url, found.join("; "))),
            (Some(why), true) => problems.push(format!(
                "{}: listed as a deliberate difference ({why}) but pgjdbc now agrees with us",
                case.url
            )),
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} JDBC cases diverge from pgjdbc:\n{}",
        problems.len(),
        CASES.len(),
        problems.join("\n")
    );
}

#[test]
fn every_jdbc_url_of_conninfo_tests_is_refereed() {
    let listed: BTreeSet<&str> = CASES.iter().map(|c| c.url).collect();
    let root = test_support::repo_root().join("crates").join("conninfo");
    let mut missing = Vec::new();
    for dir in [root.join("tests"), root.join("src")] {
        let mut files = vec![dir.clone()];
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            // Rust string continuations (`\` + newline + indentation) joined, as the compiler does.
            let raw = std::fs::read_to_string(&path).unwrap();
            let mut text = String::new();
            let mut joining = false;
            for line in raw.split('\n') {
                let line = if joining { line.trim_start() } else { line };
                match line.strip_suffix('\\') {
                    Some(head) => {
                        text.push_str(head);
                        joining = true;
                    }
                    None => {
                        text.push_str(line);
                        text.push('\n');
                        joining = false;
                    }
                }
            }
            for (at, _) in text.match_indices("\"jdbc:postgresql:") {
                let literal = &text[at + 1..];
                let url = &literal[..literal.find('"').unwrap()];
                // format!-built URLs are listed with each value substituted.
                if url.contains('{') || url == "jdbc:postgresql:" && path.ends_with("jdbc.rs") {
                    continue;
                }
                if !listed.contains(url) {
                    missing.push(format!("{} ({})", url, path.display()));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "JDBC URLs tested in conninfo but not refereed by pgjdbc: {missing:?}"
    );
}

/// targetServerType on a real primary + replica: pgjdbc connects and reports the server it chose;
/// conninfo must choose the same one, also when the primary's transactions are read-only (pgjdbc's
/// `primary` refuses it then, and its `secondary` takes it).
#[tokio::test]
async fn target_server_type_chooses_the_server_pgjdbc_chooses() {
    let db = test_support::database().await;
    let cluster = db.cluster();
    let (primary, replica) = (
        cluster.primary(),
        cluster.replica().expect("the test cluster has a replica"),
    );
    db.connect_replica().await;
    let ca = cluster.ca_cert().expect("launched cluster").display().to_string();
    for read_only_primary in [false, true] {
        if read_only_primary {
            let admin = db.connect().await;
            admin
                .batch_execute(&format!(
                    "ALTER DATABASE {} SET default_transaction_read_only = on",
                    db.name()
                ))
                .await
                .expect("read-only database");
        }
        for (order, hosts) in [
            ("primary first", [primary, replica]),
            ("replica first", [replica, primary]),
        ] {
            for kind in ["any", "primary", "secondary", "preferPrimary", "preferSecondary"] {
                let url = format!(
                    "jdbc:postgresql://{}:{},{}:{}/{}?sslmode=verify-full&sslrootcert={ca}&targetServerType={kind}&hostRecheckSeconds=0",
                    hosts[0].host,
                    hosts[0].port,
                    hosts[1].host,
                    hosts[1].port,
                    db.name()
                );
                let theirs = jdbc::connect(&url, &primary.user, &primary.password).await;
                let spec = ConnSpec::parse_jdbc_with_env(&url, &NoEnv)
                    .expect("parses")
                    .with_user(&primary.user)
                    .with_password(primary.password.clone());
                let ours = conninfo::connect(&spec).await.map(|(_, host)| host.host.port);
                let context = format!("{kind}, {order}, read-only primary: {read_only_primary}");
                // Deliberate: pgjdbc's preferences are read-write / read-only ("a primary" is a
                // server with read-write transactions); ours are libpq's and Npgsql's prefer-primary
                // / prefer-standby (recovery state), which have no read-only flavour. They part only
                // when a primary's transactions are read-only.
                if read_only_primary && kind.starts_with("prefer") {
                    let (chosen, port) = (theirs.expect("pgjdbc connects"), ours.expect("conninfo connects"));
                    let ours_is_primary = port == primary.port;
                    assert_eq!(
                        ours_is_primary,
                        kind == "preferPrimary",
                        "{context}: we follow recovery state"
                    );
                    // pgjdbc sees two read-only servers: none preferred, so the first host.
                    assert_eq!(chosen.port, hosts[0].port, "{context}: pgjdbc takes the first host");
                    continue;
                }
                match (theirs, ours) {
                    (Ok(chosen), Ok(port)) => assert_eq!(port, chosen.port, "{context}: {chosen:?}"),
                    (Err(_), Err(_)) => {}
                    (theirs, ours) => panic!("{context}: pgjdbc {theirs:?}, conninfo {ours:?}"),
                }
            }
        }
    }
}
