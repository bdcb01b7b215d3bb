//! The embedded default as a new user meets it: the real `pcc-client-api` binary started with no
//! configuration in an empty directory outside the checkout brings up its own primary + replica, provisions
//! and migrates from the manifest and migrations built into it, loads a demo portfolio, prints a token that
//! works, and logs JSON lines (stderr is not a terminal) that carry neither the token nor a password.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Stops the service and removes the cluster it created, whatever the test's outcome.
struct Started {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Ok(cluster) = pg_launcher::Cluster::open(&self.dir.path().join(".pcc/dev")) {
            let _ = cluster.destroy();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test]
async fn runs_from_an_empty_directory_with_everything_built_in() {
    let dir = tempfile::Builder::new()
        .prefix("pcc-empty-")
        .tempdir()
        .expect("tempdir");
    // The servers run as the `postgres` OS user when we are root: it must reach the cluster below.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_pcc-client-api"));
    command
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PCC_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("PCC_DEV_DEMO_CLIENTS", "25")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in ["PCC_PG_BIN", "PCC_PG_OS_USER", "HOME"] {
        if let Some(value) = std::env::var_os(var) {
            command.env(var, value);
        }
    }
    let mut child = command.spawn().expect("starting pcc-client-api");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let started = Started { child, dir };

    // The banner comes once the service serves; the token is on its `export PCC_TOKEN=` line.
    let banner = tokio::task::spawn_blocking(move || {
        let mut reader = BufReader::new(stdout).lines();
        let mut lines = Vec::new();
        for line in reader.by_ref() {
            let line = line.expect("stdout line");
            let done = line.contains("curl -H");
            lines.push(line);
            if done {
                break;
            }
        }
        // Keep the pipe open and drained: the service may print after the banner, and a write to a pipe
        // whose reader is gone fails (EPIPE), which would end it while the test still talks to it.
        std::thread::spawn(move || reader.for_each(drop));
        lines
    });
    let banner = tokio::time::timeout(Duration::from_secs(180), banner)
        .await
        .expect("the banner within 3 minutes")
        .expect("reading stdout");
    let token = banner
        .iter()
        .find_map(|l| l.trim().strip_prefix("export PCC_TOKEN='")?.strip_suffix('\''))
        .unwrap_or_else(|| panic!("no token in the banner: {banner:#?}"))
        .to_owned();
    assert!(
        banner
            .iter()
            .any(|l| l.contains("new local primary + replica in .pcc/dev, 25 clients")),
        "{banner:#?}"
    );

    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let ready = http.get(format!("{base}/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 200);
    let list = http
        .get(format!("{base}/v1/clients?limit=5"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list");
    assert_eq!(list.status(), 200);
    let body: serde_json::Value = list.json().await.expect("json");
    assert_eq!(body["items"].as_array().map(Vec::len), Some(5), "{body}");

    // The migrations came from the binary: the history names the built-in location's scripts.
    assert!(
        !started.dir.path().join("migrations").exists(),
        "nothing was read from a checkout"
    );

    // The service's credential, as the platform stored it in the file secret store.
    let store = secrets::FileStore::new(started.dir.path().join(".pcc/secrets/dev"));
    let credential = secrets::SecretStore::access(
        &store,
        &secrets::SecretName::parse("pcc-client-api-dev-db").unwrap(),
        &secrets::VersionRef::current(),
    )
    .await
    .expect("the service's credential in .pcc/secrets/dev");
    let password = secrets::DbCredential::from_json(&credential.value)
        .expect("a credential")
        .password;

    drop(started);
    let logs: Vec<String> = BufReader::new(stderr).lines().map_while(Result::ok).collect();
    assert!(!logs.is_empty());
    for line in &logs {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(!line.contains(&token), "the token was logged: {line}");
        assert!(
            !line.contains(secrecy::ExposeSecret::expose_secret(&password)),
            "the service's password was logged: {line}"
        );
    }
}
