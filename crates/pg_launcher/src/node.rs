//! One server process: start, stop, kill -9, status, and recovery of a stale `postmaster.pid`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::binaries::PgBinaries;
use crate::error::{LauncherError, Result, io_err};
use crate::os_user::ServerUser;
use crate::run::{last_lines, run};

/// How long `pg_ctl` may take to start or stop a server.
const PG_CTL_TIMEOUT_S: u64 = 120;

/// Handle on one data directory and its server process.
#[derive(Debug, Clone)]
pub struct Node {
    pub(crate) data_dir: PathBuf,
    pub(crate) log_file: PathBuf,
    /// `<socket dir>/.s.PGSQL.<port>.lock`, which a crashed postmaster leaves behind too.
    pub(crate) socket_lock: PathBuf,
}

/// Why a start failed, when it matters to the caller.
#[derive(Debug)]
pub(crate) enum StartFailure {
    /// Another process listens on the port.
    PortInUse(LauncherError),
    /// Anything else.
    Other(LauncherError),
}

impl Node {
    /// The pid of the running postmaster, if one runs for this data directory.
    pub fn running_pid(&self) -> Option<i32> {
        let pid = read_pid(&self.data_dir)?;
        is_postmaster_of(pid, &self.data_dir).then_some(pid)
    }

    /// Starts the server (no-op when running). A `postmaster.pid` left by a crash is removed first;
    /// after a kill -9, orphaned backends may still hold the old shared memory for a moment, so
    /// that specific refusal is retried.
    pub(crate) fn start(&self, bins: &PgBinaries, user: &ServerUser) -> Result<(), StartFailure> {
        if self.running_pid().is_some() {
            return Ok(());
        }
        self.remove_stale_pid().map_err(StartFailure::Other)?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let log_len = std::fs::metadata(&self.log_file).map(|m| m.len()).unwrap_or(0);
            let mut command = user.command(&bins.program("pg_ctl"));
            command
                .args(["start", "-w", "-s", "-t", &PG_CTL_TIMEOUT_S.to_string(), "-D"])
                .arg(&self.data_dir)
                .arg("-l")
                .arg(&self.log_file)
                // Own process group: a Ctrl-C meant for the caller's terminal must not stop the server.
                .process_group(0);
            match run(command, &format!("starting the server in {}", self.data_dir.display())) {
                Ok(_) => return Ok(()),
                Err(err) => {
                    let log = self.log_since(log_len);
                    let err = with_log(err, &log);
                    if log.contains("could not bind") || log.contains("Address already in use") {
                        return Err(StartFailure::PortInUse(err));
                    }
                    if log.contains("is still in use") && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(200));
                        self.remove_stale_pid().map_err(StartFailure::Other)?;
                        continue;
                    }
                    return Err(StartFailure::Other(err));
                }
            }
        }
    }

    /// Stops the server with the given shutdown mode (`fast`, `immediate`, `smart`); no-op when stopped.
    pub(crate) fn stop(&self, bins: &PgBinaries, user: &ServerUser, mode: &str) -> Result<()> {
        if self.running_pid().is_none() {
            return Ok(());
        }
        let mut command = user.command(&bins.program("pg_ctl"));
        command
            .args([
                "stop",
                "-w",
                "-s",
                "-m",
                mode,
                "-t",
                &PG_CTL_TIMEOUT_S.to_string(),
                "-D",
            ])
            .arg(&self.data_dir);
        run(command, &format!("stopping the server in {}", self.data_dir.display())).map(|_| ())
    }

    /// Sends SIGKILL to the postmaster, as a crash would. Its backends notice and exit by themselves.
    pub(crate) fn kill9(&self) -> Result<bool> {
        let Some(pid) = self.running_pid() else {
            return Ok(false);
        };
        kill(Pid::from_raw(pid), Signal::SIGKILL)
            .map_err(|e| io_err("killing the postmaster of", &self.data_dir)(e.into()))?;
        // Wait until the process is gone, so "killed" means killed when we return.
        let deadline = Instant::now() + Duration::from_secs(10);
        while pid_alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(true)
    }

    /// Removes `postmaster.pid` and the socket lock file when no live postmaster owns them (after a
    /// crash or a reboot). PostgreSQL does this itself only when the recorded pid no longer exists;
    /// a killed postmaster can linger as a zombie until its new parent reaps it, and a recycled pid
    /// can belong to an unrelated process.
    fn remove_stale_pid(&self) -> Result<()> {
        let pid_file = self.data_dir.join("postmaster.pid");
        if let Some(pid) = read_pid(&self.data_dir)
            && !is_postmaster_of(pid, &self.data_dir)
        {
            tracing::info!(data_dir = %self.data_dir.display(), pid, "removing stale postmaster.pid");
            remove_if_present(&pid_file)?;
        }
        let socket_pid = std::fs::read_to_string(&self.socket_lock)
            .ok()
            .and_then(|t| t.lines().next().and_then(|l| l.trim().parse::<i32>().ok()));
        if let Some(pid) = socket_pid
            && !is_postmaster_of(pid, &self.data_dir)
        {
            remove_if_present(&self.socket_lock)?;
        }
        Ok(())
    }

    fn log_since(&self, offset: u64) -> String {
        let text = std::fs::read(&self.log_file).unwrap_or_default();
        let start = usize::try_from(offset).unwrap_or(0).min(text.len());
        String::from_utf8_lossy(&text[start..]).into_owned()
    }
}

/// Adds the new server log lines to a pg_ctl failure: pg_ctl itself only says "could not start server".
fn with_log(err: LauncherError, log: &str) -> LauncherError {
    match err {
        LauncherError::CommandFailed {
            program,
            action,
            status,
            output,
        } => LauncherError::CommandFailed {
            program,
            action,
            status,
            output: format!("{output} | server log: {}", last_lines(log, 6)),
        },
        other => other,
    }
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("removing", path)(e)),
    }
}

fn read_pid(data_dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

fn pid_alive(pid: i32) -> bool {
    // Signal 0 checks existence; EPERM means it exists but belongs to another user.
    match kill(Pid::from_raw(pid), None) {
        Ok(()) => !is_zombie(pid),
        Err(nix::errno::Errno::EPERM) => true,
        Err(_) => false,
    }
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(')').next().map(|rest| rest.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// True when `pid` is alive and is a postgres process serving `data_dir` (not a recycled pid).
fn is_postmaster_of(pid: i32, data_dir: &Path) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        // No procfs: trust the liveness check.
        return true;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let is_postgres = args
        .first()
        .is_some_and(|a| Path::new(OsStr::from_bytes(a)).ends_with("postgres"));
    let canonical = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_owned());
    let mentions_dir = args.iter().any(|a| {
        let p = Path::new(OsStr::from_bytes(a));
        p == data_dir || p == canonical
    });
    is_postgres && mentions_dir
}
