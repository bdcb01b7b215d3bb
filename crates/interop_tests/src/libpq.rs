//! libpq as the referee for connection strings: `interop/libpq/conninfo_referee.py` run with
//! psycopg (PyPI), whose binary wheel bundles libpq itself.
//!
//! The venv is created on first use under `.pcc/venv-interop` (git-ignored), with the pinned
//! [`PSYCOPG`], under a file lock; later runs reuse it. Needs `python3` with `venv`
//! (scripts/lib/ensure-deps.sh --interop installs it).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::lock::FileLock;

/// The psycopg release whose bundled libpq is the referee.
pub const PSYCOPG: &str = "psycopg[binary]==3.3.9";

/// libpq's parse of one string.
#[derive(Debug, Clone, Deserialize)]
pub struct Parsed {
    /// Whether `PQconninfoParse` accepted it.
    pub ok: bool,
    /// The parameters it produced (only those the string set).
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, String>,
    /// libpq's error message.
    #[serde(default)]
    pub error: Option<String>,
}

/// What `PQconnectStart` said about the options.
#[derive(Debug, Clone, Deserialize)]
pub struct Started {
    /// `false` when libpq refused the option values before connecting.
    pub options_ok: bool,
    /// libpq's message.
    pub error: String,
}

/// libpq's verdict on one case.
#[derive(Debug, Clone, Deserialize)]
pub struct Verdict {
    /// The parse.
    pub parse: Parsed,
    /// The option check, when asked for.
    pub connect: Option<Started>,
}

/// All verdicts, with the versions that gave them.
#[derive(Debug, Clone, Deserialize)]
pub struct Verdicts {
    /// `PQlibVersion()` of the bundled libpq (e.g. 180000 for 18.0).
    pub libpq: u32,
    /// psycopg's version.
    pub psycopg: String,
    /// One per case, in order.
    pub results: Vec<Verdict>,
}

fn venv() -> &'static PathBuf {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let dir = test_support::repo_root().join(".pcc").join("venv-interop");
        let _lock = FileLock::acquire(&test_support::repo_root().join(".pcc").join("venv-interop.lock"));
        let marker = dir.join("pcc-requirement");
        if std::fs::read_to_string(&marker).is_ok_and(|m| m == PSYCOPG) {
            return dir;
        }
        let _ = std::fs::remove_dir_all(&dir);
        let step = |command: &mut Command| {
            let output = command.output().unwrap_or_else(|e| {
                panic!("running {command:?}: {e} (python3 with venv is needed: scripts/lib/ensure-deps.sh --interop)")
            });
            assert!(
                output.status.success(),
                "{command:?} failed:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        };
        step(Command::new("python3").arg("-m").arg("venv").arg(&dir));
        step(
            Command::new(dir.join("bin").join("pip"))
                .args(["install", "-q", "--disable-pip-version-check"])
                .arg(PSYCOPG),
        );
        std::fs::write(&marker, PSYCOPG).unwrap_or_else(|e| panic!("writing {}: {e}", marker.display()));
        dir
    })
}

/// One case for libpq: the string, and whether to ask `PQconnectStart` about its options too
/// (only for strings whose hosts are IP literals or socket paths: no name lookups).
#[derive(Debug, Clone, Copy)]
pub struct Case<'a> {
    /// The connection string.
    pub conninfo: &'a str,
    /// Ask about option values too.
    pub connect: bool,
}

/// libpq's verdicts on every case, from one run of the referee.
///
/// # Panics
/// When the venv cannot be made or the referee fails.
pub fn judge(cases: &[Case<'_>]) -> Verdicts {
    let script = test_support::repo_root()
        .join("interop")
        .join("libpq")
        .join("conninfo_referee.py");
    let input: Vec<Value> = cases
        .iter()
        .map(|c| json!({"conninfo": c.conninfo, "connect": c.connect}))
        .collect();
    let mut child = Command::new(venv().join("bin").join("python"))
        .arg(&script)
        // libpq reads PG* variables only when connecting, but nothing from this machine should count.
        .env_remove("PGHOST")
        .env_remove("PGPORT")
        .env_remove("PGSERVICE")
        .env("PGPASSFILE", "/nonexistent/pgpass")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(Value::Array(input).to_string().as_bytes())
        .expect("writing the cases");
    let output = child.wait_with_output().expect("waiting for the libpq referee");
    assert!(
        output.status.success(),
        "the libpq referee failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let verdicts: Verdicts = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "the libpq referee printed no verdicts ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    assert_eq!(verdicts.results.len(), cases.len(), "one verdict per case");
    verdicts
}
