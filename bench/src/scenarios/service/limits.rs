//! Each hot path against the machine's own limit for it. With the load generator, the service and
//! PostgreSQL on the same cores, the costs of one request add up, so the most a service could serve is
//! `limit = 1 / (1/R_http + 1/R_sql)`:
//! - `R_http`: wrk against `pcc-http-floor`, a minimal axum server answering the response the service gave
//!   for the same request (same status, headers and body), under the same wrk command and script;
//! - `R_sql`: pgbench running exactly the SQL the service sent for those requests ([`super::capture`]),
//!   prepared with the same parameters bound, the same number of clients, one statement per transaction,
//!   on the server the service reads from.
//!
//! The three are measured in alternating order, `runs` times, and the medians reported.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use pg_launcher::NodeName;
use secrecy::ExposeSecret as _;

use super::capture;
use super::measure::Tools;
use super::setup::World;
use super::tools::{PgbenchResult, WrkResult, pgbench, wrk};

/// Connections for every hot path (the targets are stated at 32).
pub const CONNECTIONS: u32 = 32;
/// Point reads cycle through this many clients: pgbench takes at most 128 scripts, one per id.
pub const POINT_IDS: usize = 128;

/// One hot path: its requests (wrk cycles through them; pgbench picks their SQL at random).
pub struct HotPath {
    /// Short name for the report.
    pub name: String,
    /// Request paths with query.
    pub requests: Vec<String>,
    /// The server the service reads from for it.
    pub node: NodeName,
    /// Target: throughput at least this share of the limit.
    pub target: Option<f64>,
}

/// A hot path's figures (medians).
pub struct LimitResult {
    /// The service under wrk.
    pub service: WrkResult,
    /// The HTTP floor under the same wrk command.
    pub floor: WrkResult,
    /// The service's SQL under pgbench.
    pub sql: PgbenchResult,
}

impl LimitResult {
    /// `1 / (1/R_http + 1/R_sql)`.
    pub fn limit(&self) -> f64 {
        1.0 / (1.0 / self.floor.rps + 1.0 / self.sql.tps)
    }
}

/// What was captured for a hot path: the service's response to its first request (for the floor) and one
/// pgbench script per request.
struct Captured {
    response: PathBuf,
    scripts: Vec<PathBuf>,
    /// pgbench `-D` definitions of the scripts' parameters.
    defines: Vec<String>,
}

/// Switches `log_statement` on both servers (`'all'` or back to the default).
fn log_statements(world: &World, on: bool) -> anyhow::Result<()> {
    let setting = if on {
        "ALTER SYSTEM SET log_statement = 'all'"
    } else {
        "ALTER SYSTEM RESET log_statement"
    };
    for node in [NodeName::Primary, NodeName::Replica] {
        for sql in [setting, "SELECT pg_catalog.pg_reload_conf()"] {
            world.cluster.query(node, &world.database, sql)?;
        }
    }
    // Idle backends re-read the configuration before their next command; give the reload a moment.
    std::thread::sleep(Duration::from_millis(300));
    Ok(())
}

/// One GET with the bearer token: (status, headers, body).
async fn fetch(
    http: &reqwest::Client,
    tools: &Tools,
    path: &str,
) -> anyhow::Result<(u16, Vec<(String, String)>, String)> {
    let response = http
        .get(format!("{}{path}", tools.base))
        .bearer_auth(tools.token.expose_secret())
        .send()
        .await
        .with_context(|| format!("GET {path}"))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let body = response.text().await?;
    if status != 200 {
        bail!("GET {path} answered {status}: {body}");
    }
    Ok((status, headers, body))
}

/// Sends each request of every path once with `log_statement = 'all'` and keeps what the service's role
/// executed for it; the response to each path's first request becomes its floor's answer.
fn capture_all(
    world: &World,
    tools: &Tools,
    paths: &[HotPath],
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<Vec<Captured>> {
    let user = world
        .runtime
        .primary
        .username
        .clone()
        .context("the service's connection names no user")?;
    // reqwest is built without a default TLS provider (the workspace picks ring once, here as elsewhere).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    log_statements(world, true)?;
    let result = (|| {
        let mut out = Vec::new();
        for (p, path) in paths.iter().enumerate() {
            let log = world.cluster.log_file(path.node);
            let (mut scripts, mut defines) = (Vec::new(), Vec::new());
            let mut response = None;
            for (r, request) in path.requests.iter().enumerate() {
                let from = capture::offset(&log);
                let answer = runtime.block_on(fetch(&http, tools, request))?;
                response.get_or_insert(answer);
                // The server writes its log line before it sends the result; a moment for the write.
                std::thread::sleep(Duration::from_millis(20));
                let statements = capture::statements_since(&log, from, &user, "client_api.")?;
                if statements.is_empty() {
                    bail!("no SQL of {user} in {} for GET {request}", log.display());
                }
                let mut text = String::new();
                for (k, statement) in statements.iter().enumerate() {
                    let (sql, names) = statement.for_pgbench(&format!("p{p}r{r}s{k}"));
                    text.push_str(&sql);
                    text.push_str(";\n");
                    defines.extend(names);
                }
                let script = tools.dir.join(format!("limit-{p}-{r}.sql"));
                std::fs::write(&script, text)?;
                scripts.push(script);
            }
            let (status, headers, body) = response.context("a hot path without requests")?;
            let file = tools.dir.join(format!("limit-{p}-response.json"));
            std::fs::write(
                &file,
                serde_json::to_vec(&serde_json::json!({"status": status, "headers": headers, "body": body}))?,
            )?;
            out.push(Captured {
                response: file,
                scripts,
                defines,
            });
        }
        Ok(out)
    })();
    log_statements(world, false)?;
    result
}

/// The floor server, stopped on drop.
struct Floor {
    child: Child,
    base: String,
}

impl Floor {
    fn start(binary: &Path, response: &Path, dir: &Path) -> anyhow::Result<Self> {
        let address = dir.join("floor.addr");
        let _ = std::fs::remove_file(&address);
        let child = Command::new(binary)
            .arg(response)
            .arg(&address)
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut floor = Floor {
            child,
            base: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(text) = std::fs::read_to_string(&address)
                && !text.is_empty()
            {
                floor.base = format!("http://{text}");
                return Ok(floor);
            }
            if Instant::now() > deadline {
                bail!("{} did not start listening", binary.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A wrk script cycling through `paths` from a random start (requests formatted once, in `init`).
pub fn cycle_script(paths: &[String]) -> String {
    let quoted: Vec<String> = paths.iter().map(|p| format!("\"{p}\"")).collect();
    format!(
        "paths = {{ {} }}\ninit = function(args)\n  requests = {{}}\n  for i, p in ipairs(paths) do\n    requests[i] = wrk.format(\"GET\", p)\n  end\n  counter = math.random(#requests)\nend\nrequest = function()\n  counter = counter % #requests + 1\n  return requests[counter]\nend\n",
        quoted.join(", ")
    )
}

/// Measures every hot path against its limit.
///
/// # Errors
/// A tool failing, a failed request, or SQL that could not be captured.
pub fn measure(
    world: &World,
    tools: &Tools,
    floor_binary: &Path,
    paths: &[HotPath],
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<Vec<LimitResult>> {
    let captured = capture_all(world, tools, paths, runtime)?;
    let seconds = tools.seconds.to_string();
    let connections = CONNECTIONS.to_string();
    let mut out = Vec::new();
    for (p, (path, captured)) in paths.iter().zip(&captured).enumerate() {
        let script = tools.wrk_script(&format!("limit-{p}.lua"), &cycle_script(&path.requests))?;
        let env = match path.node {
            NodeName::Primary => &tools.primary_env,
            _ => &tools.replica_env,
        };
        let mut args: Vec<String> = ["-n", "-M", "prepared", "-c", &connections, "-j", "2", "-T", &seconds]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        for file in &captured.scripts {
            args.push("-f".into());
            args.push(file.display().to_string());
        }
        for define in &captured.defines {
            args.push("-D".into());
            args.push(define.clone());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let floor = Floor::start(floor_binary, &captured.response, &tools.dir)?;
        let service_url = format!("{}/", tools.base);
        let floor_url = format!("{}/", floor.base);
        // Warm-up, not counted: connections, caches, prepared statements.
        wrk(&service_url, CONNECTIONS, 1, &script)?;
        wrk(&floor_url, CONNECTIONS, 1, &script)?;
        let (mut ours, mut floors, mut sqls) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..tools.runs {
            // Rotate the order so drift on a shared machine hits all three alike.
            for step in 0..3 {
                match (run + step) % 3 {
                    0 => {
                        // Failed requests are a figure of the path (reported, target 0), not the end of
                        // a run that took half an hour to reach this size.
                        ours.push(wrk(&service_url, CONNECTIONS, tools.seconds, &script)?);
                    }
                    1 => floors.push(wrk(&floor_url, CONNECTIONS, tools.seconds, &script)?),
                    _ => sqls.push(pgbench(&tools.pgbench, env, &tools.dir, &args)?),
                }
            }
        }
        drop(floor);
        out.push(LimitResult {
            service: super::measure::wrk_median(&ours),
            floor: super::measure::wrk_median(&floors),
            sql: super::measure::pgbench_median(&sqls),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_adds_the_costs_of_http_and_sql() {
        let zero = WrkResult {
            rps: 0.0,
            mean_ms: 0.0,
            p50_ms: 0.0,
            p99_ms: 0.0,
            errors: 0,
        };
        let result = LimitResult {
            service: zero,
            floor: WrkResult { rps: 60_000.0, ..zero },
            sql: PgbenchResult {
                tps: 30_000.0,
                mean_ms: 0.0,
                p50_ms: 0.0,
                p99_ms: 0.0,
            },
        };
        assert!((result.limit() - 20_000.0).abs() < 1e-6);
        let script = cycle_script(&["/v1/clients/a".into(), "/v1/clients/b".into()]);
        assert!(
            script.contains("paths = { \"/v1/clients/a\", \"/v1/clients/b\" }"),
            "{script}"
        );
    }
}
