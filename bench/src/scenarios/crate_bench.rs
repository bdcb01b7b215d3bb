//! Benchmarks that live in their crates (`crates/migrate/benches`, `crates/db_router/benches`): built with
//! cargo (`cargo bench --no-run`, which names the executable), run as child processes with their documented
//! environment variables, and their printed summaries parsed. The crates stay the owners of their logic;
//! this harness only puts their figures into the report next to everything else.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context as _, bail};

use super::workspace_root;

/// Builds the bench target `bench` of `package` with `profile` and returns its executable.
///
/// # Errors
/// cargo failing, or no executable in its output.
pub fn build(package: &str, bench: &str, profile: &str) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "bench",
            "--no-run",
            "--message-format=json",
            "-p",
            package,
            "--bench",
            bench,
            "--profile",
            profile,
        ])
        .output()
        .context("running cargo")?;
    if !output.status.success() {
        bail!(
            "cargo bench --no-run -p {package} --bench {bench} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    executable(&String::from_utf8_lossy(&output.stdout), bench)
        .with_context(|| format!("cargo named no executable for the bench {bench} of {package}"))
}

/// The executable of bench target `bench` in cargo's JSON messages.
fn executable(messages: &str, bench: &str) -> Option<PathBuf> {
    messages.lines().rev().find_map(|line| {
        let message: serde_json::Value = serde_json::from_str(line).ok()?;
        let target = message.get("target")?;
        let is_bench = target.get("kind")?.as_array()?.iter().any(|k| k == "bench");
        if message.get("reason")? != "compiler-artifact" || target.get("name")? != bench || !is_bench {
            return None;
        }
        message.get("executable")?.as_str().map(PathBuf::from)
    })
}

/// Runs a built bench with `--bench` and `env`; its stdout. Its stderr goes to ours (progress).
///
/// # Errors
/// The bench failing.
pub fn run(executable: &std::path::Path, env: &[(&str, String)]) -> anyhow::Result<String> {
    let output = Command::new(executable)
        .current_dir(workspace_root())
        .arg("--bench")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", executable.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!("{} failed ({}):\n{stdout}", executable.display(), output.status);
    }
    Ok(stdout)
}

/// The number before `unit` in `text` ("psql 1234.5 ms" with unit "ms" after "psql").
pub fn number_after(text: &str, label: &str) -> Option<f64> {
    let rest = &text[text.find(label)? + label.len()..];
    rest.split_whitespace()
        .next()?
        .trim_end_matches([',', ')', '('])
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bench_executable_is_found_in_cargo_messages() {
        let messages = concat!(
            "{\"reason\":\"compiler-artifact\",\"target\":{\"name\":\"migrate\",\"kind\":[\"lib\"]},\"executable\":null}\n",
            "{\"reason\":\"compiler-artifact\",\"target\":{\"name\":\"migrate_1000\",\"kind\":[\"bench\"]},",
            "\"executable\":\"/t/release/deps/migrate_1000-abc\"}\n",
            "{\"reason\":\"build-finished\",\"success\":true}\n"
        );
        assert_eq!(
            executable(messages, "migrate_1000"),
            Some(PathBuf::from("/t/release/deps/migrate_1000-abc"))
        );
        assert_eq!(executable(messages, "router_overhead"), None);
    }

    #[test]
    fn numbers_are_read_after_their_labels() {
        let line = "median: psql 812.4 ms  engine 901.7 ms  ratio engine/psql 1.11 (target <= 1.30) OK";
        assert_eq!(number_after(line, "psql"), Some(812.4));
        assert_eq!(number_after(line, "engine"), Some(901.7));
        assert_eq!(number_after(line, "engine/psql"), Some(1.11));
        assert_eq!(number_after(line, "nothing"), None);
    }
}
