//! The real peers as referees (docs/INTEROP.md): real Flyway 13 and pgjdbc in one JVM per test
//! binary, libpq through psycopg, each driven by the tests under `tests/it/`.
//!
//! - [`jvm`]: the long-running harness JVM of `interop/jvm` (built by [`jvm_build`] on first use,
//!   under a file lock, with Maven), answering JSON requests; [`flyway`] and [`jdbc`] are its typed
//!   front ends, [`flyway::toml_run`] the cold-JVM run of a `flyway.toml` a team would use.
//! - [`libpq`]: `interop/libpq/conninfo_referee.py` in a venv with psycopg (which bundles libpq).
//! - [`db`]: what both tools are compared by: history rows and normalized `pg_dump` schemas.
//! - [`pccdb`]: the real `pccdb` binary, run as a pipeline would.
//!
//! Harness failures (no Java, Maven cannot fetch, the JVM died) panic with what to do: every test
//! here needs the referee, and a test that silently skipped would prove nothing.

pub mod db;
pub mod flyway;
pub mod jdbc;
pub mod jvm;
pub mod jvm_build;
pub mod libpq;
pub mod lock;
pub mod pccdb;

use std::path::PathBuf;

/// Where the harness builds and caches live: `<target>/interop` (Cargo's target directory).
pub fn work_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| test_support::repo_root().join("target"));
    let target = if target.is_relative() {
        test_support::repo_root().join(target)
    } else {
        target
    };
    target.join("interop")
}
