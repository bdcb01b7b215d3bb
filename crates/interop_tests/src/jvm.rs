//! The harness JVM (`pcc.interop.Harness`): one process per test binary, started on first use,
//! answering JSON requests concurrently (one line each way, matched by `id`).
//!
//! Credentials travel in requests on its stdin, never as arguments. Flyway's and the driver's
//! logging goes to `<target>/interop/jvm-<pid>.log`, named in every failure. The JVM exits when
//! its stdin closes, i.e. when the test binary exits however it exits.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::jvm_build;

/// What the JVM answered for a request that failed: the Java exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaError {
    /// The exception class (`org.flywaydb.core.api.exception.FlywayValidateException`).
    pub class: String,
    /// Flyway's error code, when it has one (`VALIDATE_ERROR`, `FAILED_VERSIONED_MIGRATION`, ...).
    pub code: Option<String>,
    /// The message, with its causes.
    pub message: String,
}

impl std::fmt::Display for JavaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} [{}]: {}",
            self.class,
            self.code.as_deref().unwrap_or("-"),
            self.message
        )
    }
}

impl JavaError {
    pub(crate) fn from_json(error: &Value) -> Self {
        Self {
            class: error["class"].as_str().unwrap_or_default().to_owned(),
            code: error["code"].as_str().map(str::to_owned),
            message: error["message"].as_str().unwrap_or_default().to_owned(),
        }
    }
}

/// How long a request may take before the test fails as hung.
const HANG: std::time::Duration = std::time::Duration::from_secs(300);

type Waiting = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// The running harness.
pub struct Jvm {
    stdin: Mutex<ChildStdin>,
    waiting: Waiting,
    gone: Arc<AtomicBool>,
    next: AtomicU64,
    log: PathBuf,
    _child: Mutex<Child>,
}

impl std::fmt::Debug for Jvm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jvm").field("log", &self.log).finish_non_exhaustive()
    }
}

/// JVM options for a short-lived, single-core-friendly process: quick start, little memory.
pub const JAVA_OPTIONS: &[&str] = &["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xss1m", "-Xmx512m"];

/// The environment every referee JVM gets: UTF-8 file names (Java 17 takes them from the locale),
/// and no `.pgpass` or service file from the machine.
pub fn java_command(main: &str) -> Command {
    let mut command = Command::new("java");
    command
        .args(JAVA_OPTIONS)
        .arg("-cp")
        .arg(&jvm_build::classpath().0)
        .arg(main)
        .env("LC_ALL", "C.UTF-8")
        .env("PGPASSFILE", "/nonexistent/pgpass")
        .env_remove("PGSERVICEFILE")
        .env_remove("PGSYSCONFDIR");
    command
}

/// The harness of this test binary, started on first use.
///
/// # Panics
/// When it cannot be built or started.
pub fn jvm() -> &'static Jvm {
    static JVM: OnceLock<Jvm> = OnceLock::new();
    JVM.get_or_init(Jvm::start)
}

impl Jvm {
    fn start() -> Self {
        jvm_build::classpath();
        let log = crate::work_dir().join(format!("jvm-{}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
        let mut child = java_command("pcc.interop.Harness")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting the harness JVM: {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let waiting: Waiting = Arc::default();
        let readers = waiting.clone();
        let gone = Arc::new(AtomicBool::new(false));
        let reader_gone = gone.clone();
        std::thread::Builder::new()
            .name("jvm-replies".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let Ok(reply) = serde_json::from_str::<Value>(&line) else {
                        continue;
                    };
                    let Some(id) = reply["id"].as_u64() else { continue };
                    let sender = readers
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .remove(&id);
                    if let Some(sender) = sender {
                        let _ = sender.send(reply);
                    }
                }
                // The JVM is gone: fail every request still waiting (dropping their senders), and
                // (flag first) every later one.
                reader_gone.store(true, Ordering::SeqCst);
                readers
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clear();
            })
            .unwrap_or_else(|e| panic!("starting the reply reader: {e}"));
        Self {
            stdin: Mutex::new(stdin),
            waiting,
            gone,
            next: AtomicU64::new(1),
            log,
            _child: Mutex::new(child),
        }
    }

    /// The JVM's log file (Flyway's output).
    pub fn log(&self) -> &std::path::Path {
        &self.log
    }

    /// Sends `request` (an object; `id` is added) and waits for the answer.
    ///
    /// # Errors
    /// The Java exception the request ended with.
    ///
    /// # Panics
    /// When the JVM is gone.
    pub async fn call(&self, mut request: Value) -> Result<Value, JavaError> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        // Only op and action in messages: requests carry passwords.
        let what = format!("{} {}", request["op"], request["action"]);
        request["id"] = json!(id);
        let (tx, rx) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, tx);
        assert!(
            !self.gone.load(Ordering::SeqCst),
            "the harness JVM exited; see {}",
            self.log.display()
        );
        {
            let mut stdin = self.stdin.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let line = format!("{request}\n");
            stdin
                .write_all(line.as_bytes())
                .and_then(|()| stdin.flush())
                .unwrap_or_else(|e| {
                    panic!(
                        "the harness JVM does not read requests ({e}); see {}",
                        self.log.display()
                    )
                });
        }
        // A hang detector, far above what any request needs (real Flyway hangs for good on
        // CREATE INDEX CONCURRENTLY under its default transactional lock, for example).
        let reply = tokio::time::timeout(HANG, rx)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no answer from the harness JVM within {HANG:?} to {what}; see {}",
                    self.log.display()
                )
            })
            .unwrap_or_else(|_| panic!("the harness JVM exited; see {}", self.log.display()));
        if reply["ok"] == json!(true) {
            Ok(reply["result"].clone())
        } else {
            Err(JavaError::from_json(&reply["error"]))
        }
    }
}
