//! A local cluster: a primary created by initdb and, optionally, a streaming replica created by
//! pg_basebackup, both on 127.0.0.1 with TLS, scram-sha-256 and a generated superuser password.
//!
//! [`Cluster::up`] is idempotent: it creates what is missing, starts what is stopped, and returns
//! once the replica streams. Every operation a fault test needs (stop, kill -9, restart, promote)
//! takes `&self`, so one cluster can be shared with the tasks that drive load against it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use secrecy::SecretString;

use crate::binaries::PgBinaries;
use crate::conf;
use crate::error::{LauncherError, Result, io_err};
use crate::layout::{ClusterState, Layout, NodeName};
use crate::node::{Node, StartFailure};
use crate::options::{ClusterOptions, Endpoint, UpAction};
use crate::os_user::ServerUser;
use crate::run::{psql, run};
use crate::watchdog::Watchdog;

/// A running (or stopped) local cluster.
#[derive(Debug)]
pub struct Cluster {
    pub(crate) layout: Layout,
    pub(crate) bins: PgBinaries,
    pub(crate) user: ServerUser,
    pub(crate) password: SecretString,
    pub(crate) state: Mutex<ClusterState>,
    pub(crate) watchdog: Option<Watchdog>,
}

impl Cluster {
    /// Creates the cluster in `dir` if it does not exist, starts whatever is stopped, and returns
    /// once the replica (if any) is streaming.
    ///
    /// # Errors
    /// Any [`LauncherError`]: missing binaries or OS user, failed initdb/pg_basebackup/start,
    /// timeouts.
    pub fn up(dir: &Path, options: &ClusterOptions) -> Result<(Self, UpAction)> {
        let layout = Layout::new(dir)?;
        if layout.state_file().is_file() {
            let mut cluster = Self::open(dir)?;
            if options.ephemeral {
                cluster.arm_watchdog()?;
            }
            let started = cluster.start_all()?;
            let action = if started {
                UpAction::Started
            } else {
                UpAction::AlreadyRunning
            };
            return Ok((cluster, action));
        }
        let cluster = Self::create(layout, options)?;
        Ok((cluster, UpAction::Created))
    }

    /// Opens an existing cluster without starting anything.
    ///
    /// # Errors
    /// [`LauncherError::NotACluster`] when `dir` holds none; binaries/user errors as in [`Cluster::up`].
    pub fn open(dir: &Path) -> Result<Self> {
        let layout = Layout::new(dir)?;
        let state = layout.read_state()?;
        let bins = PgBinaries::from_dir(state.bin_dir.clone()).or_else(|_| PgBinaries::locate())?;
        let user = ServerUser::detect()?;
        let password_path = layout.password_file();
        let password = std::fs::read_to_string(&password_path)
            .map_err(io_err("reading the superuser password from", &password_path))?;
        Ok(Self {
            layout,
            bins,
            user,
            password: SecretString::from(password.trim().to_owned()),
            state: Mutex::new(state),
            watchdog: None,
        })
    }

    pub(crate) fn write_conf(&self, node: NodeName) -> Result<()> {
        let data = self.layout.data_dir(node);
        let state = self.state().clone();
        conf::write_node_conf(&data, &state, node)?;
        self.user.own(&data.join("pcc.conf"), false)?;
        self.user.own(&data.join("postgresql.conf"), false)
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, ClusterState> {
        // A panic while holding the lock cannot leave the state half-written (plain data), so
        // recovering from poisoning is safe.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn node(&self, node: NodeName) -> Node {
        let (socket_dir, port) = {
            let state = self.state();
            (state.socket_dir.clone(), state.port(node).unwrap_or_default())
        };
        Node {
            data_dir: self.layout.data_dir(node),
            log_file: self.layout.log_file(node),
            socket_lock: socket_dir.join(format!(".s.PGSQL.{port}.lock")),
        }
    }

    fn arm_watchdog(&mut self) -> Result<()> {
        let socket_dir = self.state().socket_dir.clone();
        let outside = (!socket_dir.starts_with(self.layout.dir())).then_some(socket_dir);
        self.watchdog = Some(Watchdog::arm(self.layout.dir(), outside.as_deref())?);
        Ok(())
    }

    /// Starts every stopped node; true when something was started.
    fn start_all(&self) -> Result<bool> {
        let mut started = false;
        for node in self.nodes() {
            if self.node(node).running_pid().is_none() {
                self.start(node)?;
                started = true;
            }
        }
        let streams = {
            let state = self.state();
            (state.replica_port.is_some() && !state.replica_promoted) || state.replica2_port.is_some()
        };
        if streams {
            self.wait_for_streaming(Duration::from_secs(60))?;
        }
        Ok(started)
    }

    /// The nodes this cluster has.
    pub fn nodes(&self) -> Vec<NodeName> {
        let state = self.state();
        [NodeName::Primary, NodeName::Replica, NodeName::Replica2]
            .into_iter()
            .filter(|node| state.port(*node).is_some())
            .collect()
    }

    /// Whether a replica was created.
    pub fn has_replica(&self) -> bool {
        self.state().replica_port.is_some()
    }

    /// The cluster directory.
    pub fn dir(&self) -> &Path {
        self.layout.dir()
    }

    /// A node's server log (what `log_statement` and friends write to).
    pub fn log_file(&self, node: NodeName) -> PathBuf {
        self.layout.log_file(node)
    }

    /// The CA certificate that signed the servers' certificate (trust it for VerifyCA/VerifyFull).
    pub fn ca_cert_path(&self) -> PathBuf {
        self.layout.ca_file()
    }

    /// The binaries this cluster runs with.
    pub fn binaries(&self) -> &PgBinaries {
        &self.bins
    }

    /// The server version, e.g. `15.18`.
    pub fn server_version(&self) -> String {
        self.state().server_version.clone()
    }

    /// The superuser password.
    pub fn password(&self) -> &SecretString {
        &self.password
    }

    /// How to reach a node.
    ///
    /// # Errors
    /// [`LauncherError::NoReplica`] for the replica of a cluster created without one.
    pub fn endpoint(&self, node: NodeName) -> Result<Endpoint> {
        let port = self.state().port(node).ok_or(LauncherError::NoReplica)?;
        Ok(self.endpoint_at(port))
    }

    fn endpoint_at(&self, port: u16) -> Endpoint {
        let state = self.state();
        Endpoint {
            host: "127.0.0.1".to_owned(),
            port,
            socket_dir: state.socket_dir.clone(),
            user: state.superuser.clone(),
            password: self.password.clone(),
        }
    }

    /// The primary's endpoint.
    pub fn primary(&self) -> Endpoint {
        let port = self.state().primary_port;
        self.endpoint_at(port)
    }

    /// The replica's endpoint, if the cluster has one.
    pub fn replica(&self) -> Option<Endpoint> {
        self.endpoint(NodeName::Replica).ok()
    }

    /// Starts a node (no-op when running; recovers a stale postmaster.pid left by a crash).
    ///
    /// # Errors
    /// [`LauncherError::CommandFailed`] with the server log's last lines.
    pub fn start(&self, node: NodeName) -> Result<()> {
        self.ensure_node(node)?;
        self.write_conf(node)?;
        self.node(node).start(&self.bins, &self.user).map_err(|f| match f {
            StartFailure::PortInUse(e) | StartFailure::Other(e) => e,
        })
    }

    /// Stops a node with a fast shutdown (no-op when stopped).
    ///
    /// # Errors
    /// [`LauncherError::CommandFailed`] if pg_ctl fails.
    pub fn stop(&self, node: NodeName) -> Result<()> {
        self.ensure_node(node)?;
        self.node(node).stop(&self.bins, &self.user, "fast")
    }

    /// Stops every node (replica first, so it does not log a lost primary).
    ///
    /// # Errors
    /// As [`Cluster::stop`].
    pub fn stop_all(&self) -> Result<()> {
        for node in self.nodes().into_iter().rev() {
            self.stop(node)?;
        }
        Ok(())
    }

    /// Stops then starts a node.
    ///
    /// # Errors
    /// As [`Cluster::stop`] and [`Cluster::start`].
    pub fn restart(&self, node: NodeName) -> Result<()> {
        self.stop(node)?;
        self.start(node)
    }

    /// Kills a node's postmaster with SIGKILL, as a crash would. Returns false if it was not running.
    ///
    /// # Errors
    /// [`LauncherError::Io`] when the signal cannot be sent.
    pub fn kill(&self, node: NodeName) -> Result<bool> {
        self.ensure_node(node)?;
        self.node(node).kill9()
    }

    /// Promotes the replica to a primary and waits until it accepts writes.
    ///
    /// # Errors
    /// [`LauncherError::NoReplica`], or pg_ctl's failure.
    pub fn promote(&self) -> Result<()> {
        self.ensure_node(NodeName::Replica)?;
        let mut command = self.user.command(&self.bins.program("pg_ctl"));
        command
            .args(["promote", "-w", "-s", "-t", "60", "-D"])
            .arg(self.layout.data_dir(NodeName::Replica));
        run(command, "promoting the replica")?;
        {
            let mut state = self.state();
            state.replica_promoted = true;
        }
        self.layout.write_state(&self.state())?;
        // The apply delay setting is meaningless on a primary; rewrite the conf for later restarts.
        self.write_conf(NodeName::Replica)
    }

    /// Runs `sql` on a node as the superuser over the unix socket and returns psql's unaligned output.
    ///
    /// # Errors
    /// [`LauncherError::CommandFailed`] with the server's message.
    pub fn query(&self, node: NodeName, db: &str, sql: &str) -> Result<String> {
        let endpoint = self.endpoint(node)?;
        psql(
            &self.bins.program("psql"),
            &endpoint.socket_dir,
            endpoint.port,
            &endpoint.user,
            db,
            sql,
        )
    }

    /// Stops every server immediately and deletes the cluster directory.
    ///
    /// # Errors
    /// [`LauncherError::Io`] if the directory cannot be removed.
    pub fn destroy(mut self) -> Result<()> {
        self.teardown()
    }

    fn teardown(&mut self) -> Result<()> {
        for node in self.nodes().into_iter().rev() {
            let handle = self.node(node);
            if handle.stop(&self.bins, &self.user, "immediate").is_err() {
                let _ = handle.kill9();
            }
        }
        let socket_dir = self.state().socket_dir.clone();
        if !socket_dir.starts_with(self.layout.dir()) {
            let _ = std::fs::remove_dir_all(&socket_dir);
        }
        let dir = self.layout.dir().to_owned();
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("removing", &dir)(e)),
        }
    }

    fn ensure_node(&self, node: NodeName) -> Result<()> {
        if self.state().port(node).is_none() {
            return Err(LauncherError::NoReplica);
        }
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.watchdog.is_some()
            && let Err(err) = self.teardown()
        {
            tracing::warn!(error = %err, "could not clean up the test cluster");
        }
    }
}
