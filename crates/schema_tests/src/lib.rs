//! `schema_tests`: the proof that the `client_api` schema (migrations/client_api/) holds its invariants.
//!
//! Test-only (never published, never linked into the service). The library part is small and shared by the
//! tests and the generator binary:
//! - [`migrations`]: the migration files in the engine's order, resolved and parsed by the `migrate` crate
//!   itself (so a file the engine could not run fails here first).
//! - [`reference`]: generates the repeatable reference-data migrations from reference/*.csv.
//!
//! The invariant tests live in `tests/invariants/` (one test binary, one shared cluster); `tests/reference_files.rs`
//! checks that the generated migrations are up to date and that every file parses as Flyway would parse it.

pub mod migrations;
pub mod reference;

use std::path::PathBuf;

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(std::path::Path::parent)
        .map_or_else(|| manifest.clone(), std::path::Path::to_path_buf)
}

/// The directory of the client_api migrations.
pub fn migrations_dir() -> PathBuf {
    repo_root().join("migrations").join("client_api")
}

/// The directory of the reference-data CSV files.
pub fn reference_dir() -> PathBuf {
    repo_root().join("reference")
}
