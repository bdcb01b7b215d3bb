//! The real `pccdb` binary, run as a pipeline step runs it: its own process, configuration from a
//! file and `FLYWAY_*` variables, the password only in `FLYWAY_PASSWORD`, a clean environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use secrecy::ExposeSecret as _;

use crate::flyway::FlywayConfig;

/// What a run printed and how it ended.
#[derive(Debug, Clone)]
pub struct Run {
    /// The exit code (0 success, 1 error, 2 validation findings).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Panics with the output unless the exit code is `expected`.
    #[track_caller]
    pub fn expect(self, expected: i32) -> Self {
        assert_eq!(
            self.code, expected,
            "pccdb exited {} (expected {expected})\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// stdout parsed as JSON (for `--output json`).
    ///
    /// # Panics
    /// When it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("pccdb printed no JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

/// The binary (built on first use).
pub fn binary() -> PathBuf {
    test_support::workspace_binary("pccdb", "pccdb")
}

/// Runs `pccdb <args>` in `cwd` with only `PATH`, `HOME=cwd` and `env` in its environment.
///
/// # Panics
/// When it cannot be run.
pub fn run(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Run {
    run_with_input(args, cwd, env, None)
}

/// [`run`], writing `input` to its stdin (how `pccdb secrets set` takes a password).
///
/// # Panics
/// When it cannot be run.
pub fn run_with_input(args: &[&str], cwd: &Path, env: &[(&str, &str)], input: Option<&str>) -> Run {
    use std::io::Write as _;
    let mut command = Command::new(binary());
    command
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", cwd)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("running pccdb {args:?}: {e}"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    if let Some(input) = input {
        stdin.write_all(input.as_bytes()).expect("writing pccdb's stdin");
    }
    drop(stdin);
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for pccdb {args:?}: {e}"));
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `pccdb <action> --config-file <the settings of config as flyway.conf> <extra>`, password in
/// `FLYWAY_PASSWORD`: the same settings a Flyway run got, read by pccdb from Flyway's own format.
pub fn with_config(action: &str, config: &FlywayConfig, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("temporary directory");
    let conf = dir.path().join("flyway.conf");
    std::fs::write(&conf, config.to_conf()).expect("writing flyway.conf");
    let conf = conf.display().to_string();
    let mut args = vec![action, "--config-file", conf.as_str()];
    args.extend_from_slice(extra);
    run(
        &args,
        dir.path(),
        &[("FLYWAY_PASSWORD", config.password().expose_secret())],
    )
}
