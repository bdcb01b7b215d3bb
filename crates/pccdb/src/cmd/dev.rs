//! `pccdb dev`: the local development cluster (placeholder until pg_launcher lands).
use clap::Subcommand;

use crate::cli::GlobalArgs;
use crate::outcome::Outcome;

/// Manage the local development cluster.
#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Create (if needed) and start the local primary and replica.
    Up,
}

/// Runs a `pccdb dev` command.
pub fn run(command: DevCommand, _global: &GlobalArgs) -> anyhow::Result<Outcome> {
    match command {
        DevCommand::Up => anyhow::bail!("not implemented yet"),
    }
}
