//! One module per command group; each exposes its clap arguments and a `run` function.

pub mod apply;
pub mod capacity;
pub mod check;
pub mod conninfo;
pub mod dev;
mod dev_strings;
mod flyway_config;
mod manifest_args;
pub mod migrate;
mod migrate_output;
mod migrate_platform;
pub mod plan;
pub mod render;
pub mod rotate;
pub mod secrets;
