//! The command-line grammar of `pccdb` (clap derive) and the dispatch to `cmd/*`.
//!
//! Every flag carries a doc comment: clap turns it into `--help`, which is the reference.

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::cmd;
use crate::outcome::Outcome;

/// pccdb: the PCC database platform tool (local cluster, provisioning, migrations, secrets, checks).
#[derive(Debug, Parser)]
#[command(name = "pccdb", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Options every command understands.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by all commands.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Output format: `human` (tables and sentences) or `json` (one JSON document on stdout).
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Human, env = "PCCDB_OUTPUT")]
    pub output: OutputFormat,
    /// More log detail on stderr (-v: debug, -vv: trace). RUST_LOG overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Readable text for a terminal.
    Human,
    /// One JSON document on stdout, for scripts and pipelines.
    Json,
}

/// The commands of `pccdb`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Local development cluster: a real PostgreSQL primary and streaming replica under ./.pcc/dev.
    #[command(subcommand)]
    Dev(cmd::dev::DevCommand),
    /// Explain a connection string (Npgsql, libpq keyword/URI or JDBC), password redacted.
    Conninfo(cmd::conninfo::ConninfoArgs),
    /// Show the SQL `apply` would run for an environment of the manifest (reads only).
    Plan(cmd::plan::PlanArgs),
    /// Provision roles, databases, schemas, privileges and credentials from the manifest.
    Apply(cmd::apply::ApplyArgs),
    /// Validate a live environment against the manifest and the seed plan's criteria (exit 2 on failure).
    Check(cmd::check::CheckArgs),
    /// Sizes, growth, months until the storage limit, and the connection budget.
    Capacity(cmd::capacity::CapacityArgs),
    /// Rotate database credentials with zero downtime.
    Rotate(cmd::rotate::RotateArgs),
    /// Render deployment files from the manifest (Kubernetes objects of a service in an environment).
    #[command(subcommand)]
    Render(cmd::render::RenderCommand),
    /// Inspect or seed the credentials of an environment (never prints a password).
    #[command(subcommand)]
    Secrets(cmd::secrets::SecretsCommand),
    /// Apply pending migrations (Flyway-compatible; exit 2 when validation fails).
    Migrate(cmd::migrate::FlywayArgs),
    /// Show every migration with its state, as a table like Flyway's.
    Info(cmd::migrate::FlywayArgs),
    /// Compare the schema history with the migration files (exit 2 on findings).
    Validate(cmd::migrate::FlywayArgs),
    /// Fix the schema history: remove failed rows, mark missing migrations deleted, realign checksums.
    Repair(cmd::migrate::FlywayArgs),
    /// Adopt an existing database: record a baseline so older migrations never run.
    Baseline(cmd::migrate::FlywayArgs),
    /// Drop every object in the managed schemas (refused unless cleanDisabled=false).
    Clean(cmd::migrate::FlywayArgs),
}

impl Cli {
    /// Runs the selected command.
    ///
    /// # Errors
    /// Whatever the command reports; `main` prints it and exits with code 1.
    pub fn run(self) -> anyhow::Result<Outcome> {
        match self.command {
            Command::Dev(command) => cmd::dev::run(command, &self.global),
            Command::Conninfo(args) => cmd::conninfo::run(&args, &self.global),
            Command::Plan(args) => cmd::plan::run(&args, &self.global),
            Command::Apply(args) => cmd::apply::run(&args, &self.global),
            Command::Check(args) => cmd::check::run(&args, &self.global),
            Command::Capacity(args) => cmd::capacity::run(&args, &self.global),
            Command::Rotate(args) => cmd::rotate::run(&args, &self.global),
            Command::Render(command) => cmd::render::run(&command, &self.global),
            Command::Secrets(command) => cmd::secrets::run(&command, &self.global),
            Command::Migrate(args) => cmd::migrate::run(cmd::migrate::Action::Migrate, &args, &self.global),
            Command::Info(args) => cmd::migrate::run(cmd::migrate::Action::Info, &args, &self.global),
            Command::Validate(args) => cmd::migrate::run(cmd::migrate::Action::Validate, &args, &self.global),
            Command::Repair(args) => cmd::migrate::run(cmd::migrate::Action::Repair, &args, &self.global),
            Command::Baseline(args) => cmd::migrate::run(cmd::migrate::Action::Baseline, &args, &self.global),
            Command::Clean(args) => cmd::migrate::run(cmd::migrate::Action::Clean, &args, &self.global),
        }
    }
}

/// Sends `tracing` output to stderr, so stdout stays clean for results (and JSON).
pub fn init_logging(global: &GlobalArgs) {
    let default = match global.verbose {
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
