//! Running PostgreSQL programs and turning their failures into errors that carry their output.
//!
//! No password is ever put on a command line: initdb reads a file, everything else connects over the
//! private unix socket with trust authentication.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::error::{LauncherError, Result};

/// Runs `command` to completion, capturing output.
///
/// # Errors
/// [`LauncherError::CommandFailed`] with the tail of stderr/stdout when it cannot start or exits non-zero.
pub fn run(mut command: Command, action: &str) -> Result<Output> {
    let program = program_name(&command);
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LauncherError::CommandFailed {
            program: program.clone(),
            action: action.to_owned(),
            status: "not started".into(),
            output: e.to_string(),
        })?;
    if output.status.success() {
        return Ok(output);
    }
    Err(LauncherError::CommandFailed {
        program,
        action: action.to_owned(),
        status: output.status.to_string(),
        output: tail(&output),
    })
}

/// Runs a query with psql over the unix socket as `user`, returning unaligned tuples-only output.
///
/// # Errors
/// [`LauncherError::CommandFailed`] with psql's message.
pub fn psql(psql: &Path, socket_dir: &Path, port: u16, user: &str, db: &str, sql: &str) -> Result<String> {
    let mut command = Command::new(psql);
    // A clean environment: PGPASSWORD, PGSSLMODE, PGHOST... from the caller must not leak in.
    command
        .env_clear()
        .env("PGCONNECT_TIMEOUT", "5")
        .env("PGAPPNAME", "pg_launcher")
        .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1"])
        .arg("-h")
        .arg(socket_dir)
        .arg("-p")
        .arg(port.to_string())
        .args(["-U", user, "-d", db, "-c", sql]);
    let output = run(command, "running a query")?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn program_name(command: &Command) -> String {
    Path::new(command.get_program())
        .file_name()
        .map_or_else(|| "program".to_owned(), |n| n.to_string_lossy().into_owned())
}

/// The last lines of a program's output, stderr first, for error messages.
fn tail(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    if text.trim().is_empty() {
        text = String::from_utf8_lossy(&output.stdout).into_owned();
    }
    last_lines(&text, 12)
}

/// The last `n` non-empty lines of `text`, joined with " | ".
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}
