//! The platform CLI as a pipeline runs it: `pccdb <command> --manifest <m> --env fault` from the
//! repository root (where the migration files are), with a clean environment.

use std::process::Stdio;

use tokio::io::AsyncWriteExt as _;

use super::{ENV, Platform, SERVICE};
use crate::binaries::{binaries, workspace_root};

/// What a `pccdb` run printed and how it ended.
#[derive(Debug)]
pub struct CliRun {
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// stdout.
    pub stdout: String,
    /// stderr.
    pub stderr: String,
}

impl CliRun {
    /// Panics with the output unless the exit code is 0.
    ///
    /// # Panics
    /// On a non-zero exit.
    pub fn expect_success(self, what: &str) -> Self {
        assert_eq!(self.code, Some(0), "{what} failed:\n{}\n{}", self.stdout, self.stderr);
        self
    }
}

impl Platform {
    /// A `pccdb` command with `--manifest` and `--env` appended, run from the repository root
    /// (where the migration files live, as in CI), with a clean environment.
    pub fn pccdb_command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&binaries().pccdb);
        command
            .current_dir(workspace_root())
            .env_clear()
            .envs(std::env::vars_os().filter(|(k, _)| k == "PATH" || k == "HOME" || k == "LANG"))
            .args(args)
            .arg("--manifest")
            .arg(&self.manifest)
            .args(["--env", ENV])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs `pccdb <args> --manifest <m> --env fault` with `stdin`.
    ///
    /// # Panics
    /// When the process cannot be started.
    pub async fn pccdb(&self, args: &[&str], stdin: Option<&str>) -> CliRun {
        let mut child = self
            .pccdb_command(args)
            .spawn()
            .unwrap_or_else(|e| panic!("starting pccdb: {e}"));
        if let Some(mut input) = child.stdin.take()
            && let Some(text) = stdin
        {
            input
                .write_all(text.as_bytes())
                .await
                .unwrap_or_else(|e| panic!("writing to pccdb: {e}"));
        }
        let out = child
            .wait_with_output()
            .await
            .unwrap_or_else(|e| panic!("waiting for pccdb: {e}"));
        CliRun {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `pccdb migrate --env fault --service pcc-client-api`.
    pub async fn migrate(&self) -> CliRun {
        self.pccdb(&["migrate", "--service", SERVICE], None).await
    }
}
