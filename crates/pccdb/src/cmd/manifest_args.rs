//! What the provisioning commands share: `--manifest` and `--env`, an async runtime for the
//! library calls, and JSON printing.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use provision::Manifest;

/// The manifest and environment a provisioning command works on.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The platform manifest.
    #[arg(long, default_value = "deploy/pcc.toml", env = "PCC_MANIFEST")]
    pub manifest: PathBuf,
    /// The environment (a key of `[environments]` in the manifest, e.g. devtest).
    #[arg(long = "env", env = "PCC_ENV")]
    pub env: String,
}

impl TargetArgs {
    /// Loads and validates the manifest, and checks that the environment exists.
    ///
    /// # Errors
    /// The manifest's problems, all of them.
    pub fn load(&self) -> anyhow::Result<Manifest> {
        let manifest = Manifest::load(&self.manifest)?;
        manifest.environment(&self.env)?;
        Ok(manifest)
    }
}

/// A runtime for one command (the library is async; the CLI is not).
///
/// # Errors
/// When the operating system refuses threads or an I/O driver.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Prints one JSON document on stdout.
///
/// # Errors
/// Serialization failures (none for our reports).
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
