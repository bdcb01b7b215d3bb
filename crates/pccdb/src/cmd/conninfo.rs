//! `pccdb conninfo '<string>'`: explains a connection string (Npgsql, libpq keyword/URI or JDBC):
//! hosts, database, user, TLS, session attributes, timeouts and pool, password redacted;
//! `--connect` also opens a session and reports which host and role it reached.
//!
//! Pass `-` to read the string from stdin, so a password never sits in the process arguments.

use std::io::Read as _;

use anyhow::Context as _;
use clap::Args;
use conninfo::{ConnSpec, Explanation, NoEnv, ProcessEnv};
use serde::Serialize;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::outcome::Outcome;

/// Options of `pccdb conninfo`.
#[derive(Debug, Args)]
pub struct ConninfoArgs {
    /// The connection string, or `-` to read it from stdin (use stdin when it holds a password).
    pub string: String,
    /// Ignore PG* environment variables (by default they fill unset keys, as libpq and Npgsql do).
    #[arg(long)]
    pub no_env: bool,
    /// Also connect and report the host reached, its role and server version.
    #[arg(long)]
    pub connect: bool,
}

/// What `--connect` found.
#[derive(Debug, Serialize)]
struct ConnectReport {
    host: String,
    role: String,
    server_version: Option<String>,
    elapsed_ms: u128,
}

#[derive(Debug, Serialize)]
struct Report {
    #[serde(flatten)]
    explanation: Explanation,
    redacted_uri: String,
    redacted_npgsql: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    connected: Option<ConnectReport>,
}

/// Runs `pccdb conninfo`.
///
/// # Errors
/// A string that does not parse (the error names the key), or with `--connect` a failed connect.
pub fn run(args: &ConninfoArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let text = if args.string == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the connection string from stdin")?;
        text.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        args.string.clone()
    };
    let spec = if args.no_env {
        ConnSpec::parse_with_env(&text, &NoEnv)
    } else {
        ConnSpec::parse_with_env(&text, &ProcessEnv)
    }
    .context("parsing the connection string")?;
    let connected = if args.connect { Some(connect(&spec)?) } else { None };
    let report = Report {
        explanation: spec.explain(),
        redacted_uri: spec.to_libpq_uri_redacted(),
        redacted_npgsql: spec.to_npgsql_redacted(),
        connected,
    };
    match global.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Human => print_human(&report),
    }
    Ok(Outcome::Success)
}

fn connect(spec: &ConnSpec) -> anyhow::Result<ConnectReport> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let started = std::time::Instant::now();
        let (client, host) = conninfo::connect(spec).await.context("connecting")?;
        let elapsed_ms = started.elapsed().as_millis();
        drop(client);
        Ok(ConnectReport {
            host: host.host.to_string(),
            role: host.role.to_string(),
            server_version: host.server_version,
            elapsed_ms,
        })
    })
}

fn secs(value: Option<u64>) -> String {
    value.map_or_else(|| "none".to_owned(), |s| format!("{s} s"))
}

fn print_human(report: &Report) {
    let e = &report.explanation;
    println!("syntax:      {}", e.syntax);
    for (i, host) in e.hosts.iter().enumerate() {
        let label = if i == 0 { "hosts:" } else { "" };
        match &host.socket {
            Some(socket) => println!("{label:<12} {socket} (unix socket)"),
            None if host.host.contains(':') => println!("{label:<12} [{}]:{} (tcp)", host.host, host.port),
            None => println!("{label:<12} {}:{} (tcp)", host.host, host.port),
        }
    }
    println!(
        "database:    {}",
        e.database.as_deref().unwrap_or("(same as the user name)")
    );
    println!(
        "user:        {}",
        e.user.as_deref().unwrap_or("(operating-system user)")
    );
    println!("password:    {}", e.password);
    let tls = &e.tls;
    let meaning = match (tls.encryption_required, tls.verifies_chain, tls.verifies_host_name) {
        (_, true, true) => "encrypted; certificate chain and host name verified",
        (_, true, false) => "encrypted; certificate chain verified, host name not checked",
        (true, false, _) => "encrypted; certificate NOT verified",
        (false, ..) => "encryption optional; certificate NOT verified",
    };
    println!("tls:         {} ({meaning})", tls.mode);
    for (name, value) in [
        ("root cert", &tls.root_cert),
        ("client cert", &tls.client_cert),
        ("client key", &tls.client_key),
    ] {
        if let Some(path) = value {
            println!("             {name}: {path}");
        }
    }
    let s = &e.session;
    println!(
        "session:     target {}, load balancing {}, host state rechecked after {} s",
        s.target_session_attrs,
        if s.load_balance_hosts { "on" } else { "off" },
        s.host_recheck_seconds
    );
    println!(
        "timeouts:    connect {}, command {}",
        secs(e.timeouts.connect_seconds),
        secs(e.timeouts.command_seconds)
    );
    let p = &e.pool;
    println!(
        "pool:        {}, {}..{} connections, idle {} s, pruning every {} s, lifetime {}",
        if p.pooling { "pooling on" } else { "pooling off" },
        p.min_size,
        p.max_size,
        p.idle_lifetime_seconds,
        p.pruning_interval_seconds,
        secs(p.connection_lifetime_seconds)
    );
    let startup: Vec<String> = [
        ("application_name", &e.application_name),
        ("search_path", &e.search_path),
        ("timezone", &e.timezone),
        ("client_encoding", &e.client_encoding),
        ("options", &e.options),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
    .collect();
    if !startup.is_empty() {
        println!("startup:     {}", startup.join(", "));
    }
    println!("uri:         {}", report.redacted_uri);
    println!("npgsql:      {}", report.redacted_npgsql);
    if let Some(c) = &report.connected {
        println!(
            "connected:   {} ({}, PostgreSQL {}) in {} ms",
            c.host,
            c.role,
            c.server_version.as_deref().unwrap_or("?"),
            c.elapsed_ms
        );
    }
    if !e.notes.is_empty() {
        println!("notes:");
        for note in &e.notes {
            println!("  - {note}");
        }
    }
}
