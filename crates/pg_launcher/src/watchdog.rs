//! Cleanup of throwaway (test) clusters even when their owner never gets to run a destructor:
//! a static shared cluster is never dropped, and a test binary may be killed.
//!
//! A small `sh` process is spawned in its own process group with its stdin connected to a pipe
//! whose only writer is the owning process. When the owner exits for any reason, the kernel closes
//! the pipe, `cat` sees end of file, and the script stops both servers (SIGQUIT: immediate
//! shutdown, allowed to any user that owns or is root) and removes the cluster directory.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

use crate::error::{Result, io_err};

const SCRIPT: &str = r#"
cat >/dev/null
pids=""
for d in "$1/primary" "$1/replica" "$1/replica2"; do
  if [ -f "$d/postmaster.pid" ]; then
    pid=$(head -n 1 "$d/postmaster.pid")
    kill -QUIT "$pid" 2>/dev/null && pids="$pids $pid"
  fi
done
i=0
while [ $i -lt 100 ]; do
  alive=0
  for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ $alive = 0 ] && break
  sleep 0.1
  i=$((i+1))
done
rm -rf "$1"
[ -n "$2" ] && rm -rf "$2"
exit 0
"#;

/// The owner's end of the watchdog pipe; dropping it (or exiting) triggers the cleanup.
#[derive(Debug)]
pub struct Watchdog {
    // Kept only for its file descriptor: closing it is the signal.
    _stdin: ChildStdin,
    _child: Child,
}

impl Watchdog {
    /// Arms a watchdog for the cluster in `dir` (and a socket directory outside it, if any).
    ///
    /// # Errors
    /// [`crate::LauncherError::Io`] when `sh` cannot be started.
    pub fn arm(dir: &Path, outside_socket_dir: Option<&Path>) -> Result<Self> {
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(SCRIPT)
            .arg("pcc-cluster-watchdog")
            .arg(dir)
            .arg(outside_socket_dir.map(Path::as_os_str).unwrap_or_default())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Not in the owner's process group: a Ctrl-C that kills the tests must not kill the cleanup.
            .process_group(0);
        let mut child = command
            .spawn()
            .map_err(io_err("starting the cleanup watchdog for", dir))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| io_err("starting the cleanup watchdog for", dir)(std::io::Error::other("no stdin pipe")))?;
        Ok(Self {
            _stdin: stdin,
            _child: child,
        })
    }
}
