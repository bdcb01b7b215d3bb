//! The real `pcc-client-api` executable as a child process, configured only through environment
//! variables (docs/API.md "Configuration"): the primary and replica strings resolved from the
//! manifest, the credential file of the secret store, the JWKS of the test issuer. It listens on
//! a port the OS picks (`PCC_HTTP_ADDR=127.0.0.1:0`); the address is read from its `serving` log
//! line. Its JSON log goes to a file in the scenario directory, kept when a test fails.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::binaries::binaries;
use crate::issuer::{ISSUER, Issuer};
use crate::platform::Platform;

/// A running (or killed) service process.
#[derive(Debug)]
pub struct Service {
    child: Option<tokio::process::Child>,
    env: Vec<(OsString, OsString)>,
    dir: PathBuf,
    addr: String,
    starts: u32,
}

/// How long the service may take to start before the harness gives up (a hang detector, not a
/// measurement: a healthy start takes well under a second).
const START_LIMIT: Duration = Duration::from_secs(60);

impl Service {
    /// The environment a deployment would give the service for `platform`; `extra` overrides or
    /// adds variables (pool sizes, timeouts, a multi-host primary string).
    pub async fn env_for(platform: &Platform, issuer: &Issuer, extra: &[(&str, String)]) -> Vec<(String, String)> {
        let (primary, replica) = platform.connection_strings().await;
        let mut env = vec![
            ("PCC_DB_PRIMARY".to_owned(), primary),
            (
                "PCC_DB_CREDENTIALS_FILE".to_owned(),
                platform.credentials_file().display().to_string(),
            ),
            (
                "PCC_AUTH_JWKS_FILE".to_owned(),
                issuer.jwks_path().display().to_string(),
            ),
            ("PCC_AUTH_ISSUER".to_owned(), ISSUER.to_owned()),
            ("PCC_HTTP_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
            ("PCC_LOG".to_owned(), "info".to_owned()),
        ];
        if let Some(replica) = replica {
            env.push(("PCC_DB_REPLICA".to_owned(), replica));
        }
        for (key, value) in extra {
            env.retain(|(k, _)| k != key);
            env.push(((*key).to_owned(), value.clone()));
        }
        env
    }

    /// Starts the service with `env` and waits until `/readyz` says the primary is reachable.
    ///
    /// # Panics
    /// When it exits or does not get ready within a minute, with its log's tail.
    pub async fn start(dir: &Path, env: Vec<(String, String)>) -> Self {
        let mut service = Self {
            child: None,
            env: env.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            dir: dir.to_owned(),
            addr: String::new(),
            starts: 0,
        };
        service.spawn().await;
        service
    }

    /// The base URL (`http://127.0.0.1:port`).
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The current log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join(format!("service-{}.log", self.starts))
    }

    /// The process id of the running instance.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(tokio::process::Child::id)
    }

    async fn spawn(&mut self) {
        self.starts += 1;
        let log_path = self.log_path();
        let log = std::fs::File::create(&log_path).unwrap_or_else(|e| panic!("{}: {e}", log_path.display()));
        let mut command = tokio::process::Command::new(&binaries().client_api);
        command
            .current_dir(&self.dir)
            .env_clear()
            .envs(std::env::vars_os().filter(|(k, _)| k == "PATH" || k == "HOME" || k == "LANG"))
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        if !self.addr.is_empty() {
            // A restart keeps its address, as a pod keeps its service name.
            command.env("PCC_HTTP_ADDR", &self.addr);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binaries().client_api.display()));
        self.child = Some(child);
        self.addr = self.wait_for_address(&log_path).await;
        self.wait_ready().await;
    }

    async fn wait_for_address(&mut self, log_path: &Path) -> String {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let text = std::fs::read_to_string(log_path).unwrap_or_default();
            for line in text.lines() {
                if let Ok(event) = serde_json::from_str::<serde_json::Value>(line)
                    && event["message"] == "serving"
                    && let Some(addr) = event["http.addr"].as_str()
                {
                    return addr.to_owned();
                }
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("pcc-client-api exited during start ({status}):\n{text}");
            }
            assert!(
                Instant::now() < deadline,
                "pcc-client-api did not start within {START_LIMIT:?}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn wait_ready(&self) {
        let http = crate::api::http_client();
        let deadline = Instant::now() + START_LIMIT;
        loop {
            if let Ok(r) = http.get(format!("{}/readyz", self.base())).send().await
                && r.status().is_success()
            {
                return;
            }
            assert!(Instant::now() < deadline, "pcc-client-api never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGKILL (a pod killed mid-request: no drain, no cleanup) and reaps the process.
    ///
    /// # Panics
    /// When the process is not running.
    pub async fn kill9(&mut self) {
        let mut child = self
            .child
            .take()
            .unwrap_or_else(|| panic!("the service is not running"));
        child
            .start_kill()
            .unwrap_or_else(|e| panic!("kill -9 pcc-client-api: {e}"));
        let _ = child.wait().await;
    }

    /// Starts the service again with the same environment and address.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "restart after kill9 or stop");
        self.spawn().await;
    }

    /// SIGTERM (graceful drain) and wait for the exit.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
            }
            if tokio::time::timeout(Duration::from_secs(30), child.wait())
                .await
                .is_err()
            {
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
        }
    }

    /// The log lines of every instance so far containing `needle`.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        (1..=self.starts)
            .flat_map(|n| {
                std::fs::read_to_string(self.dir.join(format!("service-{n}.log")))
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| l.contains(needle))
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}
