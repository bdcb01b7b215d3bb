//! The executables under test: `pcc-client-api` (the service) and `pccdb` (the platform CLI).
//!
//! Cargo only gives a test the binaries of its own package (`CARGO_BIN_EXE_*`), and these live in
//! other crates, so the suite builds them itself, once per test process, with the same cargo,
//! profile and target directory as the test run:
//! `cargo build -p client_api --bin pcc-client-api -p pccdb --bin pccdb --message-format=json`,
//! and takes each executable's path from cargo's `compiler-artifact` messages (never guessed from
//! the target layout, so `CARGO_TARGET_DIR`, `--release` and cross targets all work on a clean
//! clone). Cargo releases its build lock before running tests, so this nested build only waits
//! for builds that other processes run meanwhile.
//!
//! CI that builds the binaries in an earlier step can point the suite at them instead:
//! `PCC_FAULT_CLIENT_API_BIN` and `PCC_FAULT_PCCDB_BIN`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The two executables.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `pcc-client-api`.
    pub client_api: PathBuf,
    /// `pccdb`.
    pub pccdb: PathBuf,
}

static BINARIES: OnceLock<Binaries> = OnceLock::new();

/// The repository root (where `deploy/`, `migrations/` and the workspace manifest are).
pub fn workspace_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .unwrap_or_else(|| panic!("crates/fault_suite has no workspace two levels up"))
            .to_owned()
    })
}

/// The built executables (built on first call; later calls wait for that build).
///
/// # Panics
/// When cargo cannot build them, with cargo's diagnostics.
pub fn binaries() -> &'static Binaries {
    BINARIES.get_or_init(|| {
        let from_env = |var: &str| std::env::var_os(var).map(PathBuf::from);
        match (from_env("PCC_FAULT_CLIENT_API_BIN"), from_env("PCC_FAULT_PCCDB_BIN")) {
            (Some(client_api), Some(pccdb)) => Binaries { client_api, pccdb },
            _ => build(),
        }
    })
}

/// Uses `binaries` instead of building (a caller that built them already, such as the benchmarks with
/// their release binaries). False when the executables were already chosen.
pub fn use_binaries(binaries: Binaries) -> bool {
    BINARIES.set(binaries).is_ok()
}

fn cargo() -> PathBuf {
    // Cargo sets CARGO for the processes it runs; the compile-time value is the fallback.
    std::env::var_os("CARGO")
        .or_else(|| option_env!("CARGO").map(Into::into))
        .map_or_else(|| PathBuf::from("cargo"), PathBuf::from)
}

fn build() -> Binaries {
    let mut command = Command::new(cargo());
    // Cargo gives the test process its package's variables (CARGO_MANIFEST_DIR, CARGO_PKG_NAME,
    // ...). Build scripts that watch them (ring's does) would see a different environment than
    // in the outer build and rebuild, twice per run: the nested build gets the outer one's.
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
        .current_dir(workspace_root())
        .args(["build", "--message-format=json-render-diagnostics"])
        .args([
            "-p",
            "client_api",
            "--bin",
            "pcc-client-api",
            "-p",
            "pccdb",
            "--bin",
            "pccdb",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if !cfg!(debug_assertions) {
        command.arg("--release");
    }
    let output = command.output().unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    assert!(
        output.status.success(),
        "building the binaries under test failed ({command:?}); cargo's messages are above"
    );
    let mut client_api = None;
    let mut pccdb = None;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let Some(executable) = message["executable"].as_str() else {
            continue;
        };
        match message["target"]["name"].as_str() {
            Some("pcc-client-api") => client_api = Some(PathBuf::from(executable)),
            Some("pccdb") => pccdb = Some(PathBuf::from(executable)),
            _ => {}
        }
    }
    Binaries {
        client_api: client_api.unwrap_or_else(|| panic!("cargo reported no pcc-client-api executable")),
        pccdb: pccdb.unwrap_or_else(|| panic!("cargo reported no pccdb executable")),
    }
}
