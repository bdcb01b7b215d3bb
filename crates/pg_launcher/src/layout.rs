//! Where a cluster keeps its files, and the small JSON state file that lets a later process (or
//! `pccdb dev status`) find the same servers again.
//!
//! ```text
//! <dir>/cluster.json        ports, socket directory, options, server version (no secrets)
//! <dir>/superuser.password  generated superuser password, mode 0600, owned by the invoking user
//! <dir>/ca.crt              the CA that signed the servers' TLS certificate (for VerifyCA/VerifyFull)
//! <dir>/primary/            data directory of the primary (owned by the server user, 0700)
//! <dir>/replica/            data directory of the streaming replica
//! <dir>/replica2/           data directory of the optional second replica (a read pool's second node)
//! <dir>/run/                unix sockets of both servers (0700), unless the path would be too long
//! <dir>/log/                server logs
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{LauncherError, Result, io_err};

/// Unix socket paths are limited to 107 bytes (sun_path); `.s.PGSQL.65535` needs 15 of them.
const MAX_SOCKET_DIR_LEN: usize = 90;

/// A node of the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeName {
    /// The server created by initdb (a primary unless it was demoted by hand).
    Primary,
    /// The server created by pg_basebackup (a standby until promoted).
    Replica,
    /// An optional second standby of the primary, with its own slot, port and apply delay: with the first it
    /// makes two nodes that replay WAL independently, as the nodes of an AlloyDB read pool do.
    Replica2,
}

impl NodeName {
    /// `primary` or `replica`.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeName::Primary => "primary",
            NodeName::Replica => "replica",
            NodeName::Replica2 => "replica2",
        }
    }
}

impl std::fmt::Display for NodeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The persisted description of a cluster (`cluster.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterState {
    /// State file format version.
    pub format: u32,
    /// The superuser's name.
    pub superuser: String,
    /// The directory of the server programs that created the cluster.
    pub bin_dir: PathBuf,
    /// The server version that created the cluster.
    pub server_version: String,
    /// Where both servers put their unix sockets.
    pub socket_dir: PathBuf,
    /// TCP port of the primary (on 127.0.0.1).
    pub primary_port: u16,
    /// TCP port of the replica, when there is one.
    pub replica_port: Option<u16>,
    /// TCP port of the second replica, when there is one.
    #[serde(default)]
    pub replica2_port: Option<u16>,
    /// Whether the replica has been promoted (it then runs as a second primary).
    #[serde(default)]
    pub replica_promoted: bool,
    /// The options the cluster was created with.
    pub options: PersistedOptions,
}

impl ClusterState {
    /// The TCP port of `node`, if the cluster has it.
    pub fn port(&self, node: NodeName) -> Option<u16> {
        match node {
            NodeName::Primary => Some(self.primary_port),
            NodeName::Replica => self.replica_port,
            NodeName::Replica2 => self.replica2_port,
        }
    }

    /// Moves `node` to `port` (before the cluster is in use).
    pub(crate) fn set_port(&mut self, node: NodeName, port: u16) {
        match node {
            NodeName::Primary => self.primary_port = port,
            NodeName::Replica => self.replica_port = Some(port),
            NodeName::Replica2 => self.replica2_port = Some(port),
        }
    }
}

/// The creation options that matter after creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedOptions {
    /// fsync and full_page_writes stay on (development clusters) or are off (test clusters).
    pub durable: bool,
    /// Only TLS connections are accepted over TCP (as on AlloyDB).
    pub require_tls: bool,
    /// max_connections of both servers.
    pub max_connections: u32,
    /// recovery_min_apply_delay of the replica, in milliseconds.
    pub recovery_min_apply_delay_ms: Option<u64>,
    /// recovery_min_apply_delay of the second replica, in milliseconds.
    #[serde(default)]
    pub replica2_apply_delay_ms: Option<u64>,
    /// Extra postgresql.conf settings, applied to both servers.
    pub extra_conf: Vec<(String, String)>,
}

/// Paths of one cluster directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// The layout rooted at `dir` (made absolute, so servers started elsewhere find it).
    ///
    /// # Errors
    /// [`LauncherError::Io`] when the current directory cannot be read.
    pub fn new(dir: &Path) -> Result<Self> {
        let dir = if dir.is_absolute() {
            dir.to_owned()
        } else {
            std::env::current_dir()
                .map_err(io_err("reading", "current directory"))?
                .join(dir)
        };
        Ok(Self { dir })
    }

    /// The cluster directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// `cluster.json`.
    pub fn state_file(&self) -> PathBuf {
        self.dir.join("cluster.json")
    }
    /// `superuser.password`.
    pub fn password_file(&self) -> PathBuf {
        self.dir.join("superuser.password")
    }
    /// `ca.crt`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }
    /// A node's data directory.
    pub fn data_dir(&self, node: NodeName) -> PathBuf {
        self.dir.join(node.as_str())
    }
    /// A node's server log.
    pub fn log_file(&self, node: NodeName) -> PathBuf {
        self.dir.join("log").join(format!("{node}.log"))
    }
    /// The log directory.
    pub fn log_dir(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// The socket directory to use for a new cluster: `<dir>/run` when short enough for a unix
    /// socket path, else a directory under /tmp named after the cluster path.
    pub fn preferred_socket_dir(&self) -> PathBuf {
        let inside = self.dir.join("run");
        if inside.as_os_str().len() <= MAX_SOCKET_DIR_LEN {
            return inside;
        }
        // Stable for the same cluster directory, distinct for different ones.
        let hash = self
            .dir
            .as_os_str()
            .as_encoded_bytes()
            .iter()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
            });
        std::env::temp_dir().join(format!("pcc-sock-{hash:016x}"))
    }

    /// Reads `cluster.json`.
    ///
    /// # Errors
    /// [`LauncherError::NotACluster`] when absent, [`LauncherError::BadState`] when unreadable.
    pub fn read_state(&self) -> Result<ClusterState> {
        let path = self.state_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(LauncherError::NotACluster { dir: self.dir.clone() });
            }
            Err(e) => return Err(io_err("reading", &path)(e)),
        };
        serde_json::from_str(&text).map_err(|e| LauncherError::BadState {
            path,
            reason: e.to_string(),
        })
    }

    /// Writes `cluster.json` atomically (write a sibling, then rename).
    ///
    /// # Errors
    /// [`LauncherError::Io`] naming the file.
    pub fn write_state(&self, state: &ClusterState) -> Result<()> {
        let path = self.state_file();
        let tmp = self.dir.join("cluster.json.tmp");
        let text = serde_json::to_string_pretty(state).map_err(|e| LauncherError::BadState {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        std::fs::write(&tmp, text + "\n").map_err(io_err("writing", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err("renaming", &path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_cluster_paths_get_a_short_socket_directory() {
        let long = Layout::new(&PathBuf::from(format!("/tmp/{}", "x".repeat(120)))).expect("layout");
        let socket = long.preferred_socket_dir();
        assert!(socket.as_os_str().len() <= MAX_SOCKET_DIR_LEN, "{}", socket.display());
        assert_eq!(socket, long.preferred_socket_dir(), "stable for the same cluster");
    }

    #[test]
    fn short_cluster_paths_keep_sockets_inside() {
        let short = Layout::new(Path::new("/tmp/c")).expect("layout");
        assert_eq!(short.preferred_socket_dir(), PathBuf::from("/tmp/c/run"));
    }
}
