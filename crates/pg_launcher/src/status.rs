//! Observing a cluster: which servers run, in which role, and whether the replica streams.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::cluster::Cluster;
use crate::error::{LauncherError, Result};
use crate::layout::NodeName;

/// Observed state of one server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeStatus {
    /// Which node.
    pub node: NodeName,
    /// TCP port.
    pub port: u16,
    /// Postmaster pid, when running.
    pub pid: Option<i32>,
    /// `primary` or `standby`, when running and reachable.
    pub role: Option<String>,
}

/// Observed state of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClusterStatus {
    /// The cluster directory.
    pub dir: PathBuf,
    /// Server version.
    pub server_version: String,
    /// Each node.
    pub nodes: Vec<NodeStatus>,
    /// `pg_stat_replication.state` of the replica's connection, as seen by the primary.
    pub replication_state: Option<String>,
    /// Replay lag reported by the primary, in milliseconds.
    pub replay_lag_ms: Option<u64>,
}

impl Cluster {
    /// Waits until the primary reports every (unpromoted) replica as streaming.
    ///
    /// # Errors
    /// [`LauncherError::Timeout`] after `timeout`.
    pub fn wait_for_streaming(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let expected = {
            let state = self.state();
            usize::from(state.replica_port.is_some() && !state.replica_promoted)
                + usize::from(state.replica2_port.is_some())
        }
        .max(1);
        loop {
            let streaming = self
                .query(
                    NodeName::Primary,
                    "postgres",
                    "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
                )
                .ok()
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| n >= expected);
            if streaming {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(LauncherError::Timeout {
                    what: "the replica to stream from the primary".into(),
                    seconds: timeout.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Reports which servers run, their roles and the replication state.
    pub fn status(&self) -> ClusterStatus {
        let nodes = self
            .nodes()
            .into_iter()
            .map(|node| {
                let pid = self.node(node).running_pid();
                let role = pid.and_then(|_| {
                    self.query(node, "postgres", "SELECT pg_is_in_recovery()")
                        .ok()
                        .map(|r| {
                            if r == "t" {
                                "standby".to_owned()
                            } else {
                                "primary".to_owned()
                            }
                        })
                });
                let port = self.endpoint(node).map(|e| e.port).unwrap_or_default();
                NodeStatus { node, port, pid, role }
            })
            .collect();
        let replication = self
            .query(
                NodeName::Primary,
                "postgres",
                "SELECT state || ' ' || coalesce((extract(epoch from replay_lag) * 1000)::bigint::text, '') \
                 FROM pg_stat_replication LIMIT 1",
            )
            .ok()
            .filter(|s| !s.is_empty());
        let (replication_state, replay_lag_ms) = match replication {
            Some(row) => {
                let mut parts = row.split(' ');
                let state = parts.next().map(str::to_owned);
                let lag = parts.next().and_then(|l| l.parse().ok());
                (state, lag)
            }
            None => (None, None),
        };
        ClusterStatus {
            dir: self.layout.dir().to_owned(),
            server_version: self.server_version(),
            nodes,
            replication_state,
            replay_lag_ms,
        }
    }
}
