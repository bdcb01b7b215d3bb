//! libpq is the referee for libpq keyword strings and URIs: its own parser (`PQconninfoParse`,
//! through psycopg's `conninfo_to_dict`) splits and decodes each string, and for strings whose
//! hosts are IP literals or socket paths `PQconnectdb` (against a closed port or a missing socket)
//! says whether it accepts the option values, which libpq checks only when connecting. `conninfo::ConnSpec::parse_libpq` must agree,
//! or the case names why we differ on purpose (and the test checks the difference is still real).

use std::collections::BTreeMap;
use std::path::PathBuf;

use conninfo::{ConnSpec, Host, HostSpec, NoEnv, ParseError};
use interop_tests::libpq::{self, Case, Verdict};
use secrecy::ExposeSecret as _;

struct Example {
    conninfo: &'static str,
    /// Ask PQconnectdb about the options (IP literal or socket hosts only).
    connect: bool,
    deliberate: Option<&'static str>,
}

const fn same(conninfo: &'static str) -> Example {
    Example {
        conninfo,
        connect: false,
        deliberate: None,
    }
}

/// A case whose option values libpq judges too (it connects to IP literals or sockets only).
const fn checked(conninfo: &'static str) -> Example {
    Example {
        conninfo,
        connect: true,
        deliberate: None,
    }
}

const fn differs(conninfo: &'static str, why: &'static str) -> Example {
    Example {
        conninfo,
        connect: false,
        deliberate: Some(why),
    }
}

const EXTENSIONS: &str = "our extension keywords (pool sizes, command_timeout, search_path, timezone, ...) are \
                          accepted so a URI can carry a whole ConnSpec; libpq refuses them (crates/conninfo/README.md)";
const UNSUPPORTED: &str = "a libpq keyword this crate cannot honor is an error naming it (crates/conninfo/README.md: \
                           hostaddr, service, sslcrl, gssencmode=require, ...) instead of being silently dropped";
const BRACKETS: &str = "brackets around an IPv6 host are dropped in every syntax, so all four give equal specs \
                        (libpq's keyword form would look the bracketed text up as a host name)";

const EXAMPLES: &[Example] = &[
    // conninfo's own libpq tests.
    same(
        "host=h1,h2,h3 port=5433,,5435 dbname=app user=u password='p w' target_session_attrs=read-write load_balance_hosts=random",
    ),
    same("host=a,b port=6000"),
    checked("host=127.0.0.1,127.0.0.2,127.0.0.3 port=1,2"),
    checked("host=127.0.0.1 port=0"),
    checked("host=127.0.0.1 port=70000"),
    same("host=h"),
    same(""),
    same("Host=h"),
    checked("host=127.0.0.1 sslmode=Require"),
    checked("host=127.0.0.1 target_session_attrs=Read-Write"),
    same("host=h bogus=1"),
    checked("host=127.0.0.1 sslmode=verify-full"),
    same("host=h sslmode=require sslrootcert=/etc/ca.pem"),
    differs("host=h hostaddr=10.0.0.1", UNSUPPORTED),
    differs("host=h service=prod", UNSUPPORTED),
    differs("host=h sslcrl=/x", UNSUPPORTED),
    differs("host=h gssencmode=require", UNSUPPORTED),
    same("host=h dbname='host=x'"),
    same("host=h sslsni=1 gssencmode=disable krbsrvname=postgres"),
    differs(
        "host=h max_pool_size=20 min_pool_size=10 connection_lifetime=0 command_timeout=5 search_path=app,public timezone=UTC host_recheck_seconds=0",
        EXTENSIONS,
    ),
    same(
        "postgresql://app%40corp:p%40ss%3Aw@db1:5433,[2001:db8::1]:5434,db3/my%20db?sslmode=verify-full&sslrootcert=%2Fca.pem&target_session_attrs=prefer-standby&application_name=svc&connect_timeout=4",
    ),
    same("postgres://h"),
    same("postgresql://%2Fvar%2Frun%2Fpostgresql:5433/app"),
    same("postgresql:///app?host=/tmp&port=6000"),
    same("postgresql://h?ssl=true"),
    same("postgresql://u:top%secret@h/db"),
    same("postgresql://h/db?nope=1"),
    same("postgresql://[::1/db"),
    same("postgresql://other/db"),
    same("dbname=explicit"),
    // Keyword syntax: blanks, quotes, escapes.
    same("host = db  port=5432 password='a b\\'c' dbname=x\\ y"),
    same("host= port=1"),
    same("host=''"),
    same("host=a\\"),
    same("password='abc"),
    same("host"),
    same("host localhost"),
    same("application_name='it''s'"),
    same("application_name='a\\\\b'"),
    same("application_name=a=b"),
    same("options=-c\\ geqo=off"),
    same("options='-c search_path=app,public -c geqo=off'"),
    same("host=a host=b"),
    same("host=h\tport=5433\ndbname=d\rsslmode=require"),
    same("host=h\u{b}port=5433"),
    same("host=h\u{c}port=5433"),
    same("host=h\u{a0}port=5433"),
    same("host=h\u{3000}dbname=d"),
    same("application_name=caf\u{e9}"),
    same("dbname="),
    same("user="),
    // Unix sockets.
    same("host=/var/run/postgresql port=5433"),
    same("host=/tmp,h port=5433"),
    checked("host=/nonexistent/dir port=5433"),
    // URIs: percent-decoding of every part.
    same("postgresql://%E2%82%AC%20user:p%2Fw@h/d%C3%A9b?application_name=a%26b%3Dc"),
    same("postgresql://[fe80::1%25eth0]:5432/db"),
    same("postgresql://[fe80::1%25eth0]/db"),
    same("postgresql://[2001:db8::1]:5433,[::1]/db"),
    same("postgresql://h1%2Ch2/db"),
    same("postgresql://h/%2Fdb"),
    same("postgresql://%2Ftmp%2Fpg%20sock/db"),
    same("postgresql://h/db?host=%2Ftmp"),
    same("postgresql://h/db?port=6000"),
    same("postgresql://h1,h2/db?port=1,2"),
    // A port with more than one colon.
    same("postgresql://h:5432:1/db"),
    checked("postgresql://127.0.0.1:5432:1/db"),
    checked("postgresql://127.0.0.1:65536/db"),
    checked("postgresql://127.0.0.1:0/db"),
    checked("postgresql://127.0.0.1:abc/db"),
    // Empty parts.
    same("postgresql://"),
    same("postgresql:///"),
    same("postgresql://@h/"),
    same("postgresql://:@h/db"),
    same("postgresql://u:@h/db"),
    same("postgresql://:p@h/db"),
    same("postgresql://h:/db"),
    same("postgresql://h,/db"),
    same("postgresql://,h/db"),
    same("postgresql://h/?"),
    same("postgresql://h/db?"),
    same("postgresql://h/db?&"),
    same("postgresql://h/db?application_name="),
    same("postgresql://h/db?application_name"),
    same("postgresql://h/db?a=b=c"),
    // `@`: libpq takes the first one before a `/`, even past a `?`.
    same("postgresql://u@x@h/db"),
    same("postgresql://h?user=a@b"),
    same("postgresql://u:p@ss@h/db"),
    // Values checked when connecting.
    checked("postgresql://127.0.0.1/db?sslmode=bogus"),
    checked("postgresql://127.0.0.1/db?load_balance_hosts=yes"),
    checked("postgresql://127.0.0.1/db?channel_binding=require&sslmode=require"),
    checked("postgresql://127.0.0.1/db?target_session_attrs=standby"),
    checked("postgresql://127.0.0.1/db?keepalives=2"),
    checked("postgresql://127.0.0.1/db?connect_timeout=-5"),
    // Not here: connect_timeout=abc. libpq parses connect_timeout only once a TCP connection is
    // up (it refuses `abc` then), which the referee's closed port never reaches.
    checked("postgresql://127.0.0.1/db?sslnegotiation=direct&sslmode=require"),
    checked("postgresql://127.0.0.1/db?sslnegotiation=direct"),
    same("postgresql://h?ssl=false"),
    same("postgresql://h?ssl=TRUE"),
    same("host=h ssl=true"),
    same("postgresql://[]/db"),
    same("postgresql://,/db"),
    differs("host=[::1] port=5433", BRACKETS),
    same("postgresql://h/db?sslmode=require&sslrootcert=/ca.pem"),
    same("postgresql://h/db?passfile=/p&sslcert=/c&sslkey=/k&options=-c%20x%3Dy&client_encoding=UTF8"),
];

/// The host list libpq builds from `host` and `port` when it connects (connectOptions2): one port
/// for all hosts or one each, an empty entry meaning the default (socket directory, 5432).
fn libpq_hosts(params: &BTreeMap<String, String>) -> Result<Vec<HostSpec>, String> {
    let split = |key: &str| -> Vec<String> {
        params
            .get(key)
            .map_or_else(|| vec![String::new()], |v| v.split(',').map(str::to_owned).collect())
    };
    let (hosts, mut ports) = (split("host"), split("port"));
    if ports.len() == 1 {
        ports = vec![ports[0].clone(); hosts.len()];
    }
    if ports.len() != hosts.len() {
        return Err(format!(
            "could not match {} port numbers to {} hosts",
            ports.len(),
            hosts.len()
        ));
    }
    hosts
        .iter()
        .zip(&ports)
        .map(|(host, port)| {
            let port: u16 = if port.is_empty() {
                5432
            } else {
                port.parse()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("invalid port {port:?}"))?
            };
            Ok(match host.as_str() {
                "" => HostSpec::unix(conninfo::DEFAULT_SOCKET_DIR, port),
                h if h.starts_with('/') => HostSpec::unix(PathBuf::from(h), port),
                // As written: libpq looks `[::1]` up as a name in the keyword form.
                h => HostSpec {
                    host: Host::Tcp(h.to_owned()),
                    port,
                },
            })
        })
        .collect()
}

fn mismatches(ours: &Result<ConnSpec, ParseError>, verdict: &Verdict) -> Vec<String> {
    let refused = if !verdict.parse.ok {
        Some(verdict.parse.error.clone().unwrap_or_default())
    } else {
        verdict
            .connect
            .as_ref()
            .filter(|c| !c.options_ok)
            .map(|c| c.error.clone())
    };
    let params = &verdict.parse.params;
    let hosts = libpq_hosts(params);
    let spec = match (ours, refused, &hosts) {
        (Err(_), Some(_), _) => return Vec::new(),
        (Ok(_), Some(why), _) => return vec![format!("libpq refuses it ({why}) but we accept it")],
        (Ok(_), None, Err(why)) if verdict.connect.is_none() => {
            return vec![format!(
                "libpq would refuse it when connecting ({why}) but we accept it"
            )];
        }
        (Err(_), None, Err(_)) if verdict.connect.is_none() => return Vec::new(),
        (Err(e), None, _) => return vec![format!("we refuse it ({e}) but libpq accepts it: {params:?}")],
        (Ok(spec), None, _) => spec,
    };
    let mut out = Vec::new();
    let mut check = |what: &str, ours: String, theirs: String| {
        if ours != theirs {
            out.push(format!("{what}: ours {ours}, libpq {theirs}"));
        }
    };
    let get = |k: &str| params.get(k).cloned();
    // libpq reads an empty dbname, user or password as not given.
    let given = |k: &str| get(k).filter(|v| !v.is_empty());
    check(
        "hosts",
        format!("{:?}", spec.hosts),
        format!("{:?}", hosts.unwrap_or_default()),
    );
    check(
        "dbname",
        format!("{:?}", spec.database),
        format!("{:?}", given("dbname")),
    );
    check("user", format!("{:?}", spec.username), format!("{:?}", given("user")));
    check(
        "password",
        format!("{:?}", spec.password.as_ref().map(|p| p.expose_secret().to_owned())),
        format!("{:?}", given("password")),
    );
    // libpq verifies the chain under sslmode=require when a root certificate is given.
    let mut sslmode = get("sslmode").unwrap_or_else(|| "prefer".into());
    if sslmode == "require" && given("sslrootcert").is_some() {
        sslmode = "verify-ca".into();
    }
    check("sslmode", spec.ssl_mode.libpq_name().into(), sslmode);
    let path = |p: &Option<PathBuf>| format!("{:?}", p.as_ref().map(|p| p.display().to_string()));
    check(
        "sslrootcert",
        path(&spec.root_cert),
        format!("{:?}", given("sslrootcert")),
    );
    check("sslcert", path(&spec.client_cert), format!("{:?}", given("sslcert")));
    check("sslkey", path(&spec.client_key), format!("{:?}", given("sslkey")));
    check("passfile", path(&spec.passfile), format!("{:?}", given("passfile")));
    check(
        "application_name",
        format!("{:?}", spec.application_name),
        format!("{:?}", given("application_name")),
    );
    check(
        "options",
        format!("{:?}", spec.options),
        format!("{:?}", given("options")),
    );
    check(
        "target_session_attrs",
        spec.target_session_attrs.name().into(),
        get("target_session_attrs").unwrap_or_else(|| "any".into()),
    );
    check(
        "load_balance_hosts",
        spec.load_balance_hosts.to_string(),
        (get("load_balance_hosts").as_deref() == Some("random")).to_string(),
    );
    check(
        "connect_timeout",
        format!("{:?}", spec.connect_timeout.map(|d| d.as_secs())),
        format!(
            "{:?}",
            get("connect_timeout")
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|n| *n > 0)
        ),
    );
    check(
        "channel_binding",
        spec.channel_binding.libpq_name().into(),
        get("channel_binding").unwrap_or_else(|| "prefer".into()),
    );
    check(
        "sslnegotiation",
        spec.ssl_negotiation.libpq_name().into(),
        get("sslnegotiation").unwrap_or_else(|| "postgres".into()),
    );
    check(
        "keepalives",
        spec.keepalives.tcp.to_string(),
        (get("keepalives").as_deref() != Some("0")).to_string(),
    );
    check(
        "client_encoding",
        format!("{:?}", spec.client_encoding),
        format!("{:?}", given("client_encoding")),
    );
    out
}

#[test]
fn libpq_reads_every_string_as_we_do_or_the_difference_is_deliberate() {
    let cases: Vec<Case<'_>> = EXAMPLES
        .iter()
        .map(|e| Case {
            conninfo: e.conninfo,
            connect: e.connect,
        })
        .collect();
    let verdicts = libpq::judge(&cases);
    assert!(
        verdicts.libpq >= 150_000,
        "libpq {} is older than the servers we run",
        verdicts.libpq
    );
    let mut problems = Vec::new();
    for (example, verdict) in EXAMPLES.iter().zip(&verdicts.results) {
        let ours = ConnSpec::parse_libpq_with_env(example.conninfo, &NoEnv);
        let found = mismatches(&ours, verdict);
        match (example.deliberate, found.is_empty()) {
            (None, true) | (Some(_), false) => {}
            (None, false) => problems.push(format!("{:?}: {}", example.conninfo, found.join("; "))),
            (Some(why), true) => problems.push(format!(
                "{:?}: listed as deliberate ({why}) but libpq now agrees with us",
                example.conninfo
            )),
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} strings diverge from libpq {} (psycopg {}):\n{}",
        problems.len(),
        EXAMPLES.len(),
        verdicts.libpq,
        verdicts.psycopg,
        problems.join("\n")
    );
}
