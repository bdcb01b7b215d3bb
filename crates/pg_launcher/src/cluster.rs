//! A local cluster: a primary created by initdb and, optionally, a streaming replica created by
//! pg_basebackup, both on 127.0.0.1 with TLS, scram-sha-256 and a generated superuser password.
//!
//! [`Cluster::up`] is idempotent: it creates what is missing, starts what is stopped, and returns
//! once the replica streams. Every operation a fault test needs (stop, kill -9, restart, promote)
//! takes `&self`, so one cluster can be shared with the tasks that drive load against it.

use std::net::TcpListener;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rand::distr::{Alphanumeric, SampleString};
use secrecy::{ExposeSecret, SecretString};

use crate::binaries::PgBinaries;
use crate::conf;
use crate::error::{LauncherError, Result, io_err};
use crate::layout::{ClusterState, Layout, NodeName, PersistedOptions};
use crate::node::{Node, StartFailure};
use crate::os_user::ServerUser;
use crate::run::{psql, run};
use crate::tls;
use crate::watchdog::Watchdog;

/// The physical replication slot that keeps WAL for the replica.
const SLOT: &str = "pcc_replica";
/// The superuser created by initdb.
const SUPERUSER: &str = "postgres";
/// Port allocation attempts when another process grabs a port between our probe and the bind.
const PORT_ATTEMPTS: usize = 5;

/// How to create a cluster. Ignored (except `ephemeral`) when the directory already holds one.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Create a streaming replica.
    pub replica: bool,
    /// `recovery_min_apply_delay` of the replica (for lag tests).
    pub recovery_min_apply_delay: Option<Duration>,
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

/// A running (or stopped) local cluster.
#[derive(Debug)]
pub struct Cluster {
    layout: Layout,
    bins: PgBinaries,
    user: ServerUser,
    password: SecretString,
    state: Mutex<ClusterState>,
    watchdog: Option<Watchdog>,
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

    fn create(layout: Layout, options: &ClusterOptions) -> Result<Self> {
        let bins = PgBinaries::locate()?;
        let user = ServerUser::detect()?;
        let dir = layout.dir().to_owned();
        // 0755 when servers run as another user (it must traverse); secrets inside are 0600.
        let mode = if user.switches() { 0o755 } else { 0o700 };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(&dir)
            .map_err(io_err("creating directory", &dir))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))
            .map_err(io_err("setting permissions of", &dir))?;
        user.check_reachable(&dir.join("primary"))?;

        let socket_dir = layout.preferred_socket_dir();
        let outside_socket = (!socket_dir.starts_with(&dir)).then(|| socket_dir.clone());
        let watchdog = if options.ephemeral {
            Some(Watchdog::arm(&dir, outside_socket.as_deref())?)
        } else {
            None
        };
        // The data directories are created here, empty, so the server user (not us) owns them.
        let mut private_dirs = vec![socket_dir.clone(), layout.log_dir(), layout.data_dir(NodeName::Primary)];
        if options.replica {
            private_dirs.push(layout.data_dir(NodeName::Replica));
        }
        for private in &private_dirs {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(private)
                .map_err(io_err("creating directory", private))?;
            user.own(private, false)?;
        }

        let password = SecretString::from(Alphanumeric.sample_string(&mut rand::rng(), 32));
        write_private(&layout.password_file(), password.expose_secret())?;

        let state = ClusterState {
            format: 1,
            superuser: SUPERUSER.to_owned(),
            bin_dir: bins.dir().to_owned(),
            server_version: bins.version().to_owned(),
            socket_dir,
            primary_port: free_port()?,
            replica_port: if options.replica { Some(free_port()?) } else { None },
            replica_promoted: false,
            options: PersistedOptions {
                durable: options.durable,
                require_tls: options.require_tls,
                max_connections: options.max_connections,
                recovery_min_apply_delay_ms: options
                    .recovery_min_apply_delay
                    .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                extra_conf: options.extra_conf.clone(),
            },
        };
        let cluster = Self {
            layout,
            bins,
            user,
            password,
            state: Mutex::new(state),
            watchdog,
        };
        cluster.initdb()?;
        cluster.start_with_port_retry(NodeName::Primary)?;
        if options.replica {
            cluster.basebackup()?;
            cluster.start_with_port_retry(NodeName::Replica)?;
            cluster.wait_for_streaming(Duration::from_secs(60))?;
        }
        Ok(cluster)
    }

    fn initdb(&self) -> Result<()> {
        let data = self.layout.data_dir(NodeName::Primary);
        // initdb reads the password from a file the server user can read; removed right after.
        let pwfile = self.layout.dir().join("initdb.pwfile");
        write_private(&pwfile, self.password.expose_secret())?;
        self.user.own(&pwfile, false)?;
        let durable = self.state().options.durable;
        let mut command = self.user.command(&self.bins.program("initdb"));
        command
            .arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--data-checksums"])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()));
        if !durable {
            command.arg("--no-sync");
        }
        let result = run(command, "creating the primary's data directory");
        let _ = std::fs::remove_file(&pwfile);
        result?;

        let material = tls::generate()?;
        write_private(&data.join("server.key"), &material.server_key_pem)?;
        std::fs::write(data.join("server.crt"), &material.server_cert_pem)
            .map_err(io_err("writing", data.join("server.crt")))?;
        std::fs::write(self.layout.ca_file(), &material.ca_cert_pem)
            .map_err(io_err("writing", self.layout.ca_file()))?;
        self.user.own(&data, true)?;
        conf::write_hba(&data, self.state().options.require_tls)?;
        self.user.own(&data, true)
    }

    fn basebackup(&self) -> Result<()> {
        let data = self.layout.data_dir(NodeName::Replica);
        let (socket_dir, port, durable) = {
            let s = self.state();
            (s.socket_dir.clone(), s.primary_port, s.options.durable)
        };
        // A slot left by an earlier replica of this primary would make -C fail.
        self.query(
            NodeName::Primary,
            "postgres",
            &format!("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{SLOT}'"),
        )?;
        let mut command = self.user.command(&self.bins.program("pg_basebackup"));
        command
            .arg("-D")
            .arg(&data)
            .arg("-h")
            .arg(&socket_dir)
            .args([
                "-p",
                &port.to_string(),
                "-U",
                SUPERUSER,
                "-X",
                "stream",
                "-R",
                "-C",
                "-S",
                SLOT,
            ])
            .args(["-c", "fast"]);
        if !durable {
            command.arg("--no-sync");
        }
        run(command, "copying the primary into the replica")?;
        Ok(())
    }

    /// Starts a node, moving it to a fresh port if another process took its port in the meantime
    /// (only before the cluster is in use: afterwards a port change would break connection strings).
    fn start_with_port_retry(&self, node: NodeName) -> Result<()> {
        let mut attempt = 1;
        loop {
            self.write_conf(node)?;
            match self.node(node).start(&self.bins, &self.user) {
                Ok(()) => {
                    self.layout.write_state(&self.state())?;
                    return Ok(());
                }
                Err(StartFailure::PortInUse(err)) if attempt < PORT_ATTEMPTS => {
                    tracing::debug!(%node, error = %err, "port taken, trying another");
                    let port = free_port()?;
                    let mut state = self.state();
                    match node {
                        NodeName::Primary => state.primary_port = port,
                        NodeName::Replica => state.replica_port = Some(port),
                    }
                    attempt += 1;
                }
                Err(StartFailure::PortInUse(err) | StartFailure::Other(err)) => return Err(err),
            }
        }
    }

    fn write_conf(&self, node: NodeName) -> Result<()> {
        let data = self.layout.data_dir(node);
        let state = self.state().clone();
        conf::write_node_conf(&data, &state, node)?;
        self.user.own(&data.join("pcc.conf"), false)?;
        self.user.own(&data.join("postgresql.conf"), false)
    }

    fn state(&self) -> MutexGuard<'_, ClusterState> {
        // A panic while holding the lock cannot leave the state half-written (plain data), so
        // recovering from poisoning is safe.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn node(&self, node: NodeName) -> Node {
        let (socket_dir, port) = {
            let state = self.state();
            let port = match node {
                NodeName::Primary => state.primary_port,
                NodeName::Replica => state.replica_port.unwrap_or_default(),
            };
            (state.socket_dir.clone(), port)
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
        if self.has_replica() && !self.state().replica_promoted {
            self.wait_for_streaming(Duration::from_secs(60))?;
        }
        Ok(started)
    }

    /// The nodes this cluster has.
    pub fn nodes(&self) -> Vec<NodeName> {
        if self.has_replica() {
            vec![NodeName::Primary, NodeName::Replica]
        } else {
            vec![NodeName::Primary]
        }
    }

    /// Whether a replica was created.
    pub fn has_replica(&self) -> bool {
        self.state().replica_port.is_some()
    }

    /// The cluster directory.
    pub fn dir(&self) -> &Path {
        self.layout.dir()
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
        let port = {
            let state = self.state();
            match node {
                NodeName::Primary => state.primary_port,
                NodeName::Replica => state.replica_port.ok_or(LauncherError::NoReplica)?,
            }
        };
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

    /// Waits until the primary reports a streaming replica.
    ///
    /// # Errors
    /// [`LauncherError::Timeout`] after `timeout`.
    pub fn wait_for_streaming(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let streaming = self
                .query(
                    NodeName::Primary,
                    "postgres",
                    "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
                )
                .map(|n| n != "0")
                .unwrap_or(false);
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
        if node == NodeName::Replica && !self.has_replica() {
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

/// Writes a file readable only by its owner.
fn write_private(path: &Path, contents: &str) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err("creating", path))?;
    file.write_all(contents.as_bytes()).map_err(io_err("writing", path))?;
    // An existing file keeps its old mode on open; make sure.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(io_err("setting permissions of", path))
}

/// A TCP port on 127.0.0.1 that was free a moment ago. The server may still lose it to another
/// process before binding; callers retry with another port.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(io_err("probing a free port on", "127.0.0.1"))?;
    let port = listener
        .local_addr()
        .map_err(io_err("probing a free port on", "127.0.0.1"))?
        .port();
    Ok(port)
}
