//! What a caller chooses when creating a cluster, and what it gets to reach a server.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

/// How to create a cluster. Ignored (except `ephemeral`) when the directory already holds one.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Create a streaming replica.
    pub replica: bool,
    /// `recovery_min_apply_delay` of the replica (for lag tests).
    pub recovery_min_apply_delay: Option<Duration>,
    /// Also create a second streaming replica ([`crate::NodeName::Replica2`]) with this
    /// `recovery_min_apply_delay` (`Some(Duration::ZERO)` for none): two standbys replaying on their
    /// own, like the nodes behind a load-balanced read pool. `None`: no second replica.
    pub second_replica: Option<Duration>,
    /// Extra postgresql.conf settings for both servers, e.g. `("work_mem", "'8MB'")`.
    pub extra_conf: Vec<(String, String)>,
    /// Keep fsync on (development) or trade durability against OS crashes for speed (tests).
    pub durable: bool,
    /// Accept only TLS connections over TCP, as AlloyDB does.
    pub require_tls: bool,
    /// max_connections of both servers (AlloyDB's default in the seed plan: 500).
    pub max_connections: u32,
    /// Stop the servers and delete the directory when the [`Cluster`] is dropped or the process exits.
    pub ephemeral: bool,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            replica: true,
            recovery_min_apply_delay: None,
            second_replica: None,
            extra_conf: Vec::new(),
            durable: true,
            require_tls: true,
            max_connections: 500,
            ephemeral: false,
        }
    }
}

impl ClusterOptions {
    /// Options for a throwaway test cluster: not durable, removed when dropped or at process exit.
    pub fn ephemeral() -> Self {
        Self {
            durable: false,
            ephemeral: true,
            max_connections: 300,
            ..Self::default()
        }
    }
}

/// Where and as whom to reach one server.
#[derive(Clone)]
pub struct Endpoint {
    /// Always `127.0.0.1`.
    pub host: String,
    /// The TCP port.
    pub port: u16,
    /// The unix socket directory (trust authentication; reachable by root and the cluster owner).
    pub socket_dir: PathBuf,
    /// The superuser name.
    pub user: String,
    /// The superuser password.
    pub password: SecretString,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("socket_dir", &self.socket_dir)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What [`Cluster::up`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpAction {
    /// The cluster was created.
    Created,
    /// It existed; one or more servers were started.
    Started,
    /// Everything was already running; nothing changed.
    AlreadyRunning,
}
