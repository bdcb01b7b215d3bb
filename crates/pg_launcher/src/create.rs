//! Creating a cluster: initdb with the generated password and TLS material, the primary's first
//! start (moving to another port if one was taken meanwhile), pg_basebackup for the replica.

use std::net::TcpListener;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rand::distr::{Alphanumeric, SampleString};
use secrecy::{ExposeSecret, SecretString};

use crate::binaries::PgBinaries;
use crate::cluster::Cluster;
use crate::conf;
use crate::error::{Result, io_err};
use crate::layout::{ClusterState, Layout, NodeName, PersistedOptions};
use crate::node::StartFailure;
use crate::options::ClusterOptions;
use crate::os_user::ServerUser;
use crate::run::run;
use crate::tls;
use crate::watchdog::Watchdog;

/// The physical replication slot that keeps WAL for a replica node (one per node).
fn slot(node: NodeName) -> &'static str {
    match node {
        NodeName::Replica2 => "pcc_replica2",
        NodeName::Primary | NodeName::Replica => "pcc_replica",
    }
}
/// The superuser created by initdb.
const SUPERUSER: &str = "postgres";
/// Port allocation attempts when another process grabs a port between our probe and the bind.
const PORT_ATTEMPTS: usize = 5;

impl Cluster {
    pub(crate) fn create(layout: Layout, options: &ClusterOptions) -> Result<Self> {
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
        let replicas: Vec<NodeName> = [
            (options.replica, NodeName::Replica),
            (options.replica && options.second_replica.is_some(), NodeName::Replica2),
        ]
        .into_iter()
        .filter_map(|(wanted, node)| wanted.then_some(node))
        .collect();
        for node in &replicas {
            private_dirs.push(layout.data_dir(*node));
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
            replica2_port: if replicas.contains(&NodeName::Replica2) {
                Some(free_port()?)
            } else {
                None
            },
            replica_promoted: false,
            options: PersistedOptions {
                durable: options.durable,
                require_tls: options.require_tls,
                max_connections: options.max_connections,
                recovery_min_apply_delay_ms: options
                    .recovery_min_apply_delay
                    .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                replica2_apply_delay_ms: options
                    .second_replica
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
        for node in &replicas {
            cluster.basebackup(*node)?;
            cluster.start_with_port_retry(*node)?;
        }
        if !replicas.is_empty() {
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

    fn basebackup(&self, node: NodeName) -> Result<()> {
        let data = self.layout.data_dir(node);
        let slot = slot(node);
        let (socket_dir, port, durable) = {
            let s = self.state();
            (s.socket_dir.clone(), s.primary_port, s.options.durable)
        };
        // A slot left by an earlier replica of this primary would make -C fail.
        self.query(
            NodeName::Primary,
            "postgres",
            &format!("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{slot}'"),
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
                slot,
            ])
            .args(["-c", "fast"]);
        if !durable {
            command.arg("--no-sync");
        }
        run(command, &format!("copying the primary into the {node}"))?;
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
                    self.state().set_port(node, port);
                    attempt += 1;
                }
                Err(StartFailure::PortInUse(err) | StartFailure::Other(err)) => return Err(err),
            }
        }
    }
}

/// Writes a file readable only by its owner.
pub(crate) fn write_private(path: &Path, contents: &str) -> Result<()> {
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
