//! Executables of other workspace packages, for tests that run the real binary (Cargo's
//! `CARGO_BIN_EXE_*` only covers the test's own package).
//!
//! The binary is built once per test process with the same cargo, profile and target directory
//! as the test run (`cargo build -p <package> --bin <bin> --message-format=json`), and its path
//! is taken from cargo's `compiler-artifact` message, never guessed from the target layout. In a
//! `cargo test --workspace` run the binary is already up to date and the nested build is a
//! no-op; run alone (`cargo test -p x`), it can never test a stale binary. Cargo releases its
//! build lock before running tests, so the nested build only waits for other processes' builds.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

type Built = Mutex<HashMap<(String, String), Arc<OnceLock<PathBuf>>>>;

/// The path of binary `bin` of workspace package `package`, built on first use.
///
/// # Panics
/// When cargo cannot build it (cargo's diagnostics are on stderr).
pub fn workspace_binary(package: &str, bin: &str) -> PathBuf {
    static BUILT: OnceLock<Built> = OnceLock::new();
    let cell = BUILT
        .get_or_init(Built::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry((package.to_owned(), bin.to_owned()))
        .or_default()
        .clone();
    cell.get_or_init(|| build(package, bin)).clone()
}

fn cargo() -> PathBuf {
    // Cargo sets CARGO for the processes it runs; the compile-time value is the fallback.
    std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(Into::into))
        .map_or_else(|| PathBuf::from("cargo"), PathBuf::from)
}

fn build(package: &str, bin: &str) -> PathBuf {
    let mut command = Command::new(cargo());
    // Cargo gives the test process its package's variables; build scripts that watch them (ring's
    // does) would see another environment than in the outer build and rebuild every time.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_BIN_",
            "CARGO_CRATE_",
            "CARGO_PRIMARY_",
            "CARGO_TARGET_TMPDIR",
            "CARGO_RUSTC_CURRENT_DIR",
            "OUT_DIR",
        ]
        .iter()
        .any(|prefix| key.starts_with(prefix))
        {
            command.env_remove(key.as_ref());
        }
    }
    command
        .current_dir(crate::service::repo_root())
        .args([
            "build",
            "--message-format=json-render-diagnostics",
            "-p",
            package,
            "--bin",
            bin,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let output = command.output().unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    assert!(
        output.status.success(),
        "building {package}/{bin} failed ({command:?}); cargo's messages are above"
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo reported no executable for {package}/{bin}"))
}
