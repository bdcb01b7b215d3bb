//! Helpers shared by the CLI tests: running the built `pccdb` as a pipeline would, and the
//! non-superuser admin role the provisioning tests start from.

#![allow(dead_code)]

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs the built `pccdb` with `args` (in `cwd` when given, with the extra environment `vars`),
/// writes `stdin` to it and closes it; returns the exit code and stdout followed by stderr.
/// `PCCDB_OUTPUT` is removed so the tests see the human output unless they ask otherwise.
pub fn pccdb(args: &[&str], cwd: Option<&Path>, vars: &[(String, String)], stdin: Option<&str>) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pccdb"));
    command
        .args(args)
        .env_remove("PCCDB_OUTPUT")
        .envs(vars.iter().cloned())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let mut child = command.spawn().expect("run pccdb");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("wait for pccdb");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// The TLS part of a manifest's connection string for the test cluster: verify-full against its
/// CA when it has one.
pub fn tls_settings(cluster: &test_support::TestCluster) -> String {
    match cluster.ca_cert() {
        Some(ca) => format!("SSL Mode=VerifyFull;Root Certificate={}", ca.display()),
        None => "SSL Mode=Require".to_owned(),
    }
}
