//! `pccdb dev up|down|status|destroy|psql`: the local development cluster (a real PostgreSQL primary
//! and streaming replica run by `pg_launcher`, by default under ./.pcc/dev). `up` brings the manifest's
//! `dev` environment up through the platform library (cluster, provisioning, every service's migrations),
//! the same path as the service's embedded default and the tests; `--cluster-only` starts a bare cluster.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use pg_launcher::{Cluster, ClusterOptions, ClusterStatus, NodeName, UpAction};
use platform::{Migrations, UpOptions};
use provision::Manifest;
use provision::manifest::{Endpoints, SecretsBackend};
use secrecy::ExposeSecret as _;
use serde::Serialize;

use crate::cli::{GlobalArgs, OutputFormat};
use crate::cmd::dev_strings::{self, NodeStrings};
use crate::cmd::manifest_args::runtime;
use crate::outcome::Outcome;

/// Manage the local development cluster.
#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Create the cluster if needed, start whatever is stopped, wait for the replica to stream,
    /// provision the manifest's `dev` environment and migrate every service deployed to it, and print
    /// the connection strings. On a running, provisioned cluster it changes nothing and prints the same.
    Up(UpArgs),
    /// Stop both servers (fast shutdown); the data stays.
    Down(DirArgs),
    /// Show which servers run, their roles, ports and the replication state.
    Status(DirArgs),
    /// Stop both servers and delete the cluster directory with all its data.
    Destroy(DestroyArgs),
    /// Open psql on the primary (or the replica) as the superuser, over the private unix socket.
    Psql(PsqlArgs),
}

/// The cluster directory option shared by every `dev` command.
#[derive(Debug, Args)]
pub struct DirArgs {
    /// Directory of the development cluster.
    #[arg(long, env = "PCCDB_DEV_DIR", default_value = ".pcc/dev")]
    pub dir: PathBuf,
}

/// Options of `pccdb dev up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Directory of the cluster [default: the environment's `local_cluster` (.pcc/dev), or .pcc/dev with
    /// --cluster-only]. A directory other than the manifest's keeps its own credentials, in DIR/secrets.
    #[arg(long, env = "PCCDB_DEV_DIR")]
    dir: Option<PathBuf>,
    /// Only the cluster: no manifest, no provisioning, no migrations.
    #[arg(long)]
    cluster_only: bool,
    /// The platform manifest.
    #[arg(long, default_value = "deploy/pcc.toml", env = "PCC_MANIFEST")]
    manifest: PathBuf,
    /// Its environment to bring up (must have a `local_cluster`).
    #[arg(long = "env", default_value = "dev")]
    env: String,
    /// Where the migrations are: one directory per service schema (migrations/client_api).
    #[arg(long, default_value = "migrations")]
    migrations: PathBuf,
    /// Create the cluster without a streaming replica (ignored when the cluster exists).
    #[arg(long)]
    no_replica: bool,
    /// Delay replay on the replica by this many milliseconds, to see replication lag (creation only).
    #[arg(long, value_name = "MS")]
    apply_delay_ms: Option<u64>,
    /// Extra postgresql.conf setting for both servers, as KEY=VALUE; repeatable (creation only).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    settings: Vec<(String, String)>,
    /// max_connections of both servers (creation only; AlloyDB's default is 500).
    #[arg(long, default_value_t = 500)]
    max_connections: u32,
}

/// Options of `pccdb dev destroy`.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    dir: DirArgs,
}

/// Options of `pccdb dev psql`.
#[derive(Debug, Args)]
pub struct PsqlArgs {
    #[command(flatten)]
    dir: DirArgs,
    /// Connect to the replica instead of the primary.
    #[arg(long)]
    replica: bool,
    /// Database to connect to.
    #[arg(long, short = 'd', default_value = "postgres")]
    database: String,
    /// Further arguments passed to psql unchanged (after `--`).
    #[arg(last = true)]
    psql_args: Vec<String>,
}

fn parse_setting(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))?;
    let key = key.trim();
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
        return Err(format!("`{key}` is not a postgresql.conf setting name"));
    }
    Ok((key.to_owned(), value.trim().to_owned()))
}

/// Runs a `pccdb dev` command.
///
/// # Errors
/// The launcher's error (missing binaries, failed start, ...), with the directory in context.
pub fn run(command: DevCommand, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    match command {
        DevCommand::Up(args) => up(&args, global),
        DevCommand::Down(args) => {
            let cluster = open(&args)?;
            cluster.stop_all().context("stopping the development cluster")?;
            report_status(&cluster.status(), global);
            Ok(Outcome::Success)
        }
        DevCommand::Status(args) => {
            let cluster = open(&args)?;
            report_status(&cluster.status(), global);
            Ok(Outcome::Success)
        }
        DevCommand::Destroy(args) => {
            let cluster = open(&args.dir)?;
            let dir = cluster.dir().to_owned();
            cluster.destroy().context("destroying the development cluster")?;
            match global.output {
                OutputFormat::Json => println!("{}", serde_json::json!({ "destroyed": dir })),
                OutputFormat::Human => println!("Destroyed the development cluster in {}", dir.display()),
            }
            Ok(Outcome::Success)
        }
        DevCommand::Psql(args) => psql(&args),
    }
}

fn open(args: &DirArgs) -> anyhow::Result<Cluster> {
    Cluster::open(&args.dir).with_context(|| format!("opening the development cluster in {}", args.dir.display()))
}

/// The JSON document printed by `pccdb dev up`.
#[derive(Debug, Serialize)]
struct UpReport {
    dir: PathBuf,
    action: &'static str,
    server_version: String,
    ca_cert: PathBuf,
    primary: NodeStrings,
    replica: Option<NodeStrings>,
    /// The environment provisioned (absent with --cluster-only).
    environment: Option<String>,
    /// Provisioning statements executed (0 when nothing had drifted).
    provisioning_statements: usize,
    services: Vec<ServiceReport>,
}

/// One service of the environment, provisioned and migrated.
#[derive(Debug, Serialize)]
struct ServiceReport {
    service: String,
    database: String,
    schema: String,
    login: String,
    secret: String,
    migrations_executed: usize,
    schema_version: Option<String>,
    /// The service's primary connection string (Npgsql form) without its password.
    npgsql: String,
}

/// The manifest with environment `name`'s cluster moved to `dir` (and its file secret stores with it, so
/// a second cluster never shares credentials with the first).
fn relocate(manifest: &mut Manifest, name: &str, dir: &Path) -> anyhow::Result<()> {
    let env = manifest
        .environments
        .values_mut()
        .find(|e| e.name.as_str() == name)
        .with_context(|| format!("the manifest has no environment `{name}`"))?;
    env.endpoints = Endpoints::LocalCluster(dir.to_owned());
    if matches!(env.secrets, SecretsBackend::File(_)) {
        env.secrets = SecretsBackend::File(dir.join("secrets"));
    }
    if matches!(env.admin_secrets, SecretsBackend::File(_)) {
        env.admin_secrets = env.secrets.clone();
    }
    env.capacity_history = dir.join("capacity.jsonl");
    Ok(())
}

fn up(args: &UpArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let options = ClusterOptions {
        replica: !args.no_replica,
        recovery_min_apply_delay: args.apply_delay_ms.map(Duration::from_millis),
        extra_conf: args.settings.clone(),
        max_connections: args.max_connections,
        ..ClusterOptions::default()
    };
    let (dir, action, environment, provisioning_statements, services) = if args.cluster_only {
        let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(".pcc/dev"));
        let (_, action) = Cluster::up(&dir, &options)
            .with_context(|| format!("bringing up the development cluster in {}", dir.display()))?;
        (dir, action, None, 0, Vec::new())
    } else {
        let mut manifest = Manifest::load(&args.manifest).with_context(|| {
            format!(
                "reading the manifest {} (run from the repository root, pass --manifest, or --cluster-only for a \
                 cluster without provisioning)",
                args.manifest.display()
            )
        })?;
        if let Some(dir) = &args.dir {
            relocate(&mut manifest, &args.env, dir)?;
        }
        let Endpoints::LocalCluster(dir) = manifest.environment(&args.env)?.endpoints.clone() else {
            bail!(
                "environment `{}` is not a local cluster; `pccdb dev up` runs local clusters (use `pccdb apply` and \
                 `pccdb migrate --env {} --service S` for it)",
                args.env,
                args.env
            );
        };
        let up = UpOptions {
            services: None,
            migrations: Migrations::Directory(args.migrations.clone()),
            cluster: options,
            lock_wait: Duration::from_secs(30),
        };
        let report = runtime()?
            .block_on(platform::up(&manifest, &args.env, &up))
            .with_context(|| format!("bringing environment `{}` up", args.env))?;
        let services = report
            .services
            .iter()
            .map(|s| {
                let mut spec = s.runtime.primary.clone();
                spec.password = None;
                ServiceReport {
                    service: s.service.clone(),
                    database: s.names.database.to_string(),
                    schema: s.names.schema.to_string(),
                    login: s.runtime.credential.username.clone(),
                    secret: s.names.secret.clone(),
                    migrations_executed: s.migrate.migrations_executed,
                    schema_version: s.migrate.target_schema_version.clone(),
                    npgsql: spec.to_npgsql_secret().expose_secret().to_owned(),
                }
            })
            .collect();
        let action = report
            .local_cluster
            .as_ref()
            .map_or(UpAction::AlreadyRunning, |c| c.action);
        (
            dir,
            action,
            Some(args.env.clone()),
            report.provision.apply.executed.len(),
            services,
        )
    };
    let cluster =
        Cluster::open(&dir).with_context(|| format!("opening the development cluster in {}", dir.display()))?;
    let report = UpReport {
        dir: cluster.dir().to_owned(),
        action: match action {
            UpAction::Created => "created",
            UpAction::Started => "started",
            UpAction::AlreadyRunning => "already running",
        },
        server_version: cluster.server_version(),
        ca_cert: cluster.ca_cert_path(),
        primary: dev_strings::for_node(&cluster.primary(), false),
        replica: cluster.replica().map(|r| dev_strings::for_node(&r, true)),
        environment,
        provisioning_statements,
        services,
    };
    match global.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Human => print_up(&report),
    }
    Ok(Outcome::Success)
}

fn print_up(report: &UpReport) {
    println!(
        "Development cluster in {}: {} (PostgreSQL {})",
        report.dir.display(),
        report.action,
        report.server_version
    );
    println!();
    println!("Primary (read-write), {}:{}", report.primary.host, report.primary.port);
    println!("  Npgsql: {}", report.primary.npgsql);
    println!("  URI:    {}", report.primary.uri);
    if let Some(replica) = &report.replica {
        println!("Replica (read-only, streaming), {}:{}", replica.host, replica.port);
        println!("  Npgsql: {}", replica.npgsql);
        println!("  URI:    {}", replica.uri);
    }
    println!();
    println!("CA certificate (for SSL Mode=VerifyFull): {}", report.ca_cert.display());
    if let Some(env) = &report.environment {
        println!();
        let drift = match report.provisioning_statements {
            0 => "nothing to change".to_owned(),
            n => format!("{n} statements"),
        };
        println!("Environment `{env}` provisioned ({drift}):");
        for s in &report.services {
            let applied = match s.migrations_executed {
                0 => "up to date".to_owned(),
                n => format!("{n} migrations applied"),
            };
            println!(
                "  {}: database {}, schema version {} ({applied})",
                s.service,
                s.database,
                s.schema_version.as_deref().unwrap_or("none")
            );
            println!(
                "    as the service: {}  (login {}; password in secret {})",
                s.npgsql, s.login, s.secret
            );
        }
    }
    println!("These strings carry the local cluster's generated superuser password: for local development only.");
}

fn report_status(status: &ClusterStatus, global: &GlobalArgs) {
    if global.output == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(status).unwrap_or_default());
        return;
    }
    println!(
        "Development cluster in {} (PostgreSQL {})",
        status.dir.display(),
        status.server_version
    );
    for node in &status.nodes {
        let state = match (node.pid, &node.role) {
            (Some(pid), Some(role)) => format!("running as {role} (pid {pid})"),
            (Some(pid), None) => format!("running (pid {pid}), not answering"),
            (None, _) => "stopped".to_owned(),
        };
        println!("  {:<8} 127.0.0.1:{:<6} {state}", node.node.as_str(), node.port);
    }
    match (&status.replication_state, status.replay_lag_ms) {
        (Some(state), Some(lag)) => println!("  replication: {state}, replay lag {lag} ms"),
        (Some(state), None) => println!("  replication: {state}"),
        (None, _) if status.nodes.len() > 1 => println!("  replication: not connected"),
        _ => {}
    }
}

fn psql(args: &PsqlArgs) -> anyhow::Result<Outcome> {
    let cluster = open(&args.dir)?;
    let node = if args.replica {
        NodeName::Replica
    } else {
        NodeName::Primary
    };
    let endpoint = cluster.endpoint(node)?;
    // Over the private unix socket (trust): no password on the command line or in the environment.
    let err = std::process::Command::new(cluster.binaries().program("psql"))
        .arg("-h")
        .arg(&endpoint.socket_dir)
        .args([
            "-p",
            &endpoint.port.to_string(),
            "-U",
            &endpoint.user,
            "-d",
            &args.database,
        ])
        .args(&args.psql_args)
        .exec();
    Err(err).context("starting psql")
}
