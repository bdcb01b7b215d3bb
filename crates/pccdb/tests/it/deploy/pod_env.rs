//! The rendered pod environment runs: the real `pcc-client-api` binary started with the variables of the
//! committed devtest Deployment (deploy/k8s/pcc-client-api-devtest/deployment.yaml, which the render tests
//! hold equal to a fresh render) reports, on `/metrics`, the pool sizes and connection lifetimes of
//! deploy/pcc.toml's devtest service pools, and becomes ready against a real primary and replica.
//!
//! Rewritten, because they name things that exist only in the cluster, and nothing else:
//! - in `PCC_DB_PRIMARY` / `PCC_DB_REPLICA`, `Host`, `Port` and `Root Certificate` become the local test
//!   cluster's (the AlloyDB addresses and the mounted CA path do not exist here); the database, TLS mode
//!   (`VerifyCA`), pool size, lifetime, session attributes, read pool, application name and search path stay
//!   as rendered. The database `client_api_db_devtest` and a login for it are created on the test cluster;
//! - `PCC_DB_CREDENTIALS_FILE` points at a file holding that login (the pod's is the mounted secret);
//! - `PCC_HTTP_ADDR` listens on a free loopback port instead of the pod's `0.0.0.0:8080`;
//! - `PCC_AUTH_JWKS_URL` (fetched at start, from the identity provider) becomes `PCC_AUTH_JWKS_FILE` with a
//!   key made here; issuer and audience stay as rendered.
//!
//! Every other variable (pool maxima, fallback gate, credential refresh, logging) is passed as rendered.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_yaml_ng::Value;
use test_support::repo_root;

/// Kills the service whatever the outcome.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The container's variables in the committed devtest Deployment.
fn rendered_env() -> BTreeMap<String, String> {
    let path = repo_root().join("deploy/k8s/pcc-client-api-devtest/deployment.yaml");
    let doc: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let containers = doc["spec"]["template"]["spec"]["containers"].as_sequence().unwrap();
    assert_eq!(containers.len(), 1, "{}", path.display());
    containers[0]["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_owned(),
                v["value"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{v:?} has no value"))
                    .to_owned(),
            )
        })
        .collect()
}

/// `rendered` (an Npgsql string) with `Host`, `Port` and `Root Certificate` replaced, every other key kept.
fn point_at(rendered: &str, host: &str, port: u16, ca: &str) -> String {
    let mut seen = Vec::new();
    let out: Vec<String> = rendered
        .split(';')
        .map(|pair| {
            let (key, _) = pair.split_once('=').unwrap_or_else(|| panic!("{pair:?} in {rendered}"));
            seen.push(key.to_owned());
            match key {
                "Host" => format!("Host={host}"),
                "Port" => format!("Port={port}"),
                "Root Certificate" => format!("Root Certificate={ca}"),
                _ => pair.to_owned(),
            }
        })
        .collect();
    for key in ["Host", "Port", "Root Certificate"] {
        assert!(seen.iter().any(|k| k == key), "{key} not in the rendered {rendered}");
    }
    out.join(";")
}

/// One HTTP/1.1 GET on loopback: status and body.
fn get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text}"));
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    Ok((status, body))
}

/// The value of the sample `name{labels}` in Prometheus text (labels as the exporter sorts them).
fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (n, rest) = series.split_once('{')?;
        let rest = rest.strip_suffix('}')?;
        let mut have: Vec<(&str, &str)> = rest
            .split(',')
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                Some((k, v.trim_matches('"')))
            })
            .collect();
        have.sort_unstable();
        let mut want = labels.to_vec();
        want.sort_unstable();
        (n == name && have == want).then(|| value.parse().ok()).flatten()
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

#[tokio::test]
async fn the_service_started_with_the_rendered_env_reports_the_manifests_pools() {
    let manifest = super::repo_manifest();
    let d = manifest.deployment("devtest", "pcc-client-api").unwrap();
    let primary_pool = d.sizing.pool;
    let replica_pool = d.sizing.replica_pool.expect("devtest reads the replica");
    let database = d.names.database.as_str().to_owned();

    let cluster = test_support::cluster();
    let primary = cluster.primary();
    let replica = cluster.replica().expect("the test cluster has a streaming replica");
    let ca = cluster
        .ca_cert()
        .expect("the test cluster has a CA (the rendered strings verify the server: VerifyCA)")
        .display()
        .to_string();

    // The rendered database, and a login for it, on the test cluster.
    let su = test_support::connect(&primary.config("postgres"), cluster.ca_cert())
        .await
        .unwrap();
    let tok = format!("{:06x}", (std::process::id() ^ 0x2d6b19) % 0xff_ffff);
    let login = format!("podenv_{tok}");
    let password = format!("pw-{tok}-{}", std::process::id());
    su.batch_execute(&format!("CREATE ROLE {login} LOGIN PASSWORD '{password}'"))
        .await
        .unwrap();
    match su.batch_execute(&format!("CREATE DATABASE {database}")).await {
        Ok(()) => {}
        // Another run of this test on the same cluster made it already.
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
        Err(e) => panic!("CREATE DATABASE {database}: {e}"),
    }
    su.batch_execute(&format!("GRANT CONNECT ON DATABASE {database} TO {login}"))
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let credential = dir.path().join("pcc-client-api-devtest-db");
    std::fs::write(
        &credential,
        serde_json::json!({ "username": login, "password": password }).to_string(),
    )
    .unwrap();
    let signer = client_api::auth::dev::Signer::generate("pod-env-test").unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, signer.jwks().unwrap()).unwrap();

    let mut env = rendered_env();
    let rendered = env.clone();
    let port = free_port();
    let rewrite = |env: &mut BTreeMap<String, String>, key: &str, value: String| {
        assert!(env.insert(key.to_owned(), value).is_some(), "{key} is rendered");
    };
    rewrite(
        &mut env,
        "PCC_DB_PRIMARY",
        point_at(&rendered["PCC_DB_PRIMARY"], &primary.host, primary.port, &ca),
    );
    rewrite(
        &mut env,
        "PCC_DB_REPLICA",
        point_at(&rendered["PCC_DB_REPLICA"], &replica.host, replica.port, &ca),
    );
    rewrite(&mut env, "PCC_DB_CREDENTIALS_FILE", credential.display().to_string());
    rewrite(&mut env, "PCC_HTTP_ADDR", format!("127.0.0.1:{port}"));
    env.remove("PCC_AUTH_JWKS_URL").expect("PCC_AUTH_JWKS_URL is rendered");
    env.insert("PCC_AUTH_JWKS_FILE".to_owned(), jwks.display().to_string());
    // The pool variables reach the service exactly as rendered.
    for key in [
        "PCC_DB_POOL_MAX",
        "PCC_DB_REPLICA_POOL_MAX",
        "PCC_DB_CREDENTIALS_REFRESH_MS",
    ] {
        assert_eq!(env.get(key), rendered.get(key), "{key}");
    }

    let binary = test_support::workspace_binary("client_api", "pcc-client-api");
    let mut command = Command::new(binary);
    command
        .current_dir(dir.path())
        .env_clear()
        .envs(&env)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("starting pcc-client-api");
    let stderr = child.stderr.take().unwrap();
    let mut running = Running(child);
    let logs = std::thread::spawn(move || BufReader::new(stderr).lines().map_while(Result::ok).collect::<Vec<_>>());

    // Ready: the primary and the replica answered the rendered (re-pointed) strings with VerifyCA.
    let deadline = Instant::now() + Duration::from_secs(120);
    let readiness = loop {
        if let Ok((200, body)) = get(port, "/readyz") {
            let body: serde_json::Value = serde_json::from_str(&body).unwrap();
            if body["replica"] == true {
                break body;
            }
        }
        let exited = running.0.try_wait().unwrap();
        if exited.is_some() || Instant::now() >= deadline {
            drop(running);
            let logs = logs.join().unwrap();
            panic!(
                "pcc-client-api {} with the rendered env; its log:\n{}",
                exited.map_or_else(|| "not ready within 2 minutes".to_owned(), |s| format!("exited ({s})")),
                logs.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(readiness["primary"], true, "{readiness}");

    let (status, metrics) = get(port, "/metrics").unwrap();
    assert_eq!(status, 200, "{metrics}");
    drop(running);
    let logs = logs.join().unwrap();
    for line in &logs {
        assert!(!line.contains(&password), "the password was logged: {line}");
    }
    for (target, pool) in [("primary", primary_pool), ("replica", replica_pool)] {
        let size = |bound| sample(&metrics, "db_router_pool_size", &[("target", target), ("bound", bound)]);
        assert_eq!(size("max"), Some(f64::from(pool.max)), "{target} max:\n{metrics}");
        assert_eq!(size("min"), Some(f64::from(pool.min)), "{target} min:\n{metrics}");
        let lifetime = sample(&metrics, "db_router_pool_max_lifetime_seconds", &[("target", target)]);
        #[allow(clippy::cast_precision_loss)]
        let want = pool.max_lifetime.0 as f64 / 1000.0;
        assert_eq!(lifetime, Some(want), "{target} max_lifetime:\n{metrics}");
    }
    su.batch_execute(&format!(
        "REVOKE CONNECT ON DATABASE {database} FROM {login}; DROP ROLE {login}"
    ))
    .await
    .unwrap();
}
