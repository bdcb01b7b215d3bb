//! Each hot path against the machine's own limit for it. With the load generator, the service and
//! PostgreSQL on the same cores, the costs of one request add up, so the most a service could serve is
//! `limit = 1 / (1/R_http + 1/R_sql)`:
//! - `R_http`: wrk against `pcc-http-floor`, a minimal axum server answering the response the service gave
//!   for the same request (same status, headers and body), under the same wrk command and script;
//! - `R_sql`: pgbench running exactly the SQL the service sent for those requests ([`super::capture`]),
//!   prepared with the same parameters bound, the same number of clients, one statement per transaction,
//!   on the server the service reads from.
//!
//! The three are measured in alternating order, `runs` times, and the medians reported. Reads and writes
//! alike: a write's request and its transaction are prepared by [`super::writes`].

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
use super::writes::{self, Write};

/// Connections for every hot path (the targets are stated at 32).
pub const CONNECTIONS: u32 = 32;
/// Point reads cycle through this many clients: pgbench takes at most 128 scripts, one per id.
pub const POINT_IDS: usize = 128;

/// What a hot path sends.
pub enum Requests {
    /// GETs of these paths with query (wrk cycles through them; pgbench picks their SQL at random).
    Get(Vec<String>),
    /// A write ([`writes`]).
    Write(Write),
}

/// One hot path.
pub struct HotPath {
    /// Short name for the report.
    pub name: String,
    /// Its requests.
    pub requests: Requests,
    /// The server the service reads from for it.
    pub node: NodeName,
    /// Target: throughput at least this share of the limit.
    pub target: Option<f64>,
    /// Also run its SQL with this many pgbench clients: the transactions the service's pool lets run at
    /// once (a write holds a connection for its whole transaction), for comparison.
    pub pool_clients: Option<u32>,
}

/// A hot path's figures (medians).
pub struct LimitResult {
    /// The service under wrk.
    pub service: WrkResult,
    /// The HTTP floor under the same wrk command.
    pub floor: WrkResult,
    /// The service's SQL under pgbench.
    pub sql: PgbenchResult,
    /// The same SQL with as many pgbench clients as the service has transaction connections (writes).
    pub sql_at_pool: Option<(u32, PgbenchResult)>,
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

/// One request with the bearer token: (status, headers, body); anything but 2xx is an error.
async fn send(
    http: &reqwest::Client,
    tools: &Tools,
    request: &writes::Request,
) -> anyhow::Result<(u16, Vec<(String, String)>, String)> {
    let mut builder = http
        .request(request.method.clone(), format!("{}{}", tools.base, request.path))
        .bearer_auth(tools.token.expose_secret());
    for (name, value) in &request.headers {
        builder = builder.header(*name, value);
    }
    if !request.body.is_empty() {
        builder = builder.body(request.body.clone());
    }
    let what = format!("{} {}", request.method, request.path);
    let response = builder.send().await.with_context(|| what.clone())?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let body = response.text().await?;
    if !(200..300).contains(&status) {
        bail!("{what} answered {status}: {body}");
    }
    Ok((status, headers, body))
}

/// One GET.
async fn fetch(
    http: &reqwest::Client,
    tools: &Tools,
    path: &str,
) -> anyhow::Result<(u16, Vec<(String, String)>, String)> {
    let request = writes::Request {
        method: reqwest::Method::GET,
        path: path.to_owned(),
        headers: Vec::new(),
        body: String::new(),
    };
    send(http, tools, &request).await
}

/// The ETag header of a response.
fn etag_of(headers: &[(String, String)]) -> anyhow::Result<String> {
    headers
        .iter()
        .find(|(k, _)| k == "etag")
        .map(|(_, v)| v.clone())
        .context("a client read without an ETag")
}

/// The current ETags of a write path's clients, read over HTTP as a caller would.
fn current_etags(
    http: &reqwest::Client,
    tools: &Tools,
    write: Write,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<Vec<String>> {
    runtime.block_on(async {
        let mut tags = Vec::new();
        for path in writes::etag_paths(write) {
            tags.push(etag_of(&fetch(http, tools, &path).await?.1)?);
        }
        Ok(tags)
    })
}

/// Sends a write path's sample request with `log_statement = 'all'` on and builds its pgbench script from
/// the transaction the service ran: (response, script, defines).
#[allow(clippy::type_complexity)]
fn capture_write(
    world: &World,
    tools: &Tools,
    http: &reqwest::Client,
    write: Write,
    user: &str,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<((u16, Vec<(String, String)>, String), String, Vec<String>)> {
    let (mut etag, mut version, mut parent) = (None, None, None);
    let sample = write.sample_client();
    if let Some(id) = &sample {
        let (_, headers, body) = runtime.block_on(fetch(http, tools, &format!("/v1/clients/{id}")))?;
        let json: serde_json::Value = serde_json::from_str(&body)?;
        version = json["version"].as_i64();
        parent = json["parent_id"].as_str().map(str::to_owned);
        etag = Some(etag_of(&headers)?);
    }
    let request = write.sample(etag.as_deref(), parent.as_deref());
    let log = world.cluster.log_file(NodeName::Primary);
    let from = capture::offset(&log);
    let answer = runtime.block_on(send(http, tools, &request))?;
    std::thread::sleep(Duration::from_millis(20));
    let statements = capture::transaction_since(&log, from, user, write.marker())?;
    let (script, defines) = writes::pgbench_script(
        write,
        &statements,
        sample.as_deref().unwrap_or_default(),
        version,
        parent.as_deref(),
    )?;
    Ok((answer, script, defines))
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
            let gets = match &path.requests {
                Requests::Get(gets) => gets.as_slice(),
                Requests::Write(write) => {
                    let (answer, text, names) = capture_write(world, tools, &http, *write, &user, runtime)?;
                    let script = tools.dir.join(format!("limit-{p}-0.sql"));
                    std::fs::write(&script, text)?;
                    scripts.push(script);
                    defines.extend(names);
                    response = Some(answer);
                    &[]
                }
            };
            for (r, request) in gets.iter().enumerate() {
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
    let http = reqwest::Client::new();
    let seconds = tools.seconds.to_string();
    let connections = CONNECTIONS.to_string();
    let mut out = Vec::new();
    let mut nonce = 0u32;
    for (p, (path, captured)) in paths.iter().zip(&captured).enumerate() {
        // A write's script starts from the clients' current ETags and gets fresh idempotency keys, so
        // it is written again before every run of the service.
        let mut script_now = || -> anyhow::Result<PathBuf> {
            let text = match &path.requests {
                Requests::Get(gets) => cycle_script(gets),
                Requests::Write(write) => {
                    nonce += 1;
                    let tags = match write {
                        Write::Create => Vec::new(),
                        _ => current_etags(&http, tools, *write, runtime)?,
                    };
                    let run = format!("run-{}-{p}-{nonce}", std::process::id());
                    writes::wrk_script(*write, &tags, &run)
                }
            };
            tools.wrk_script(&format!("limit-{p}.lua"), &text)
        };
        let script = script_now()?;
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
        let writes = matches!(path.requests, Requests::Write(_));
        let (mut ours, mut floors, mut sqls, mut at_pool) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for run in 0..tools.runs {
            // Rotate the order so drift on a shared machine hits all three alike.
            for step in 0..3 {
                match (run + step) % 3 {
                    0 => {
                        // Failed requests are a figure of the path (reported, target 0), not the end of
                        // a run that took half an hour to reach this size.
                        let script = if writes { script_now()? } else { script.clone() };
                        ours.push(wrk(&service_url, CONNECTIONS, tools.seconds, &script)?);
                    }
                    1 => floors.push(wrk(&floor_url, CONNECTIONS, tools.seconds, &script)?),
                    _ => {
                        sqls.push(pgbench(&tools.pgbench, env, &tools.dir, &args)?);
                        if let Some(clients) = path.pool_clients {
                            let clients = clients.to_string();
                            let mut fewer = args.clone();
                            if let Some(at) = fewer.iter().position(|a| *a == "-c") {
                                fewer[at + 1] = &clients;
                            }
                            at_pool.push(pgbench(&tools.pgbench, env, &tools.dir, &fewer)?);
                        }
                    }
                }
            }
        }
        drop(floor);
        out.push(LimitResult {
            service: super::measure::wrk_median(&ours),
            floor: super::measure::wrk_median(&floors),
            sql: super::measure::pgbench_median(&sqls),
            sql_at_pool: path.pool_clients.map(|c| (c, super::measure::pgbench_median(&at_pool))),
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
            sql_at_pool: None,
        };
        assert!((result.limit() - 20_000.0).abs() < 1e-6);
        let script = cycle_script(&["/v1/clients/a".into(), "/v1/clients/b".into()]);
        assert!(
            script.contains("paths = { \"/v1/clients/a\", \"/v1/clients/b\" }"),
            "{script}"
        );
    }
}
