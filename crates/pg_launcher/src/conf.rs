//! Server configuration written by the launcher: `pcc.conf` (this node's settings, included from
//! postgresql.conf) and `pg_hba.conf`.
//!
//! Each node gets its own `pcc.conf`, rewritten on every start, so a replica copied from the
//! primary by pg_basebackup does not inherit the primary's port.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{Result, io_err};
use crate::layout::{ClusterState, NodeName};

/// The include line appended to postgresql.conf once.
const INCLUDE_LINE: &str = "include_if_exists = 'pcc.conf'\t# written by pg_launcher";

/// Writes the node's `pcc.conf` and makes sure postgresql.conf includes it.
///
/// # Errors
/// [`crate::LauncherError::Io`] naming the file.
pub fn write_node_conf(data_dir: &Path, state: &ClusterState, node: NodeName) -> Result<()> {
    let main = data_dir.join("postgresql.conf");
    let text = std::fs::read_to_string(&main).map_err(io_err("reading", &main))?;
    if !text.contains(INCLUDE_LINE) {
        std::fs::write(&main, format!("{text}\n{INCLUDE_LINE}\n")).map_err(io_err("writing", &main))?;
    }
    let path = data_dir.join("pcc.conf");
    std::fs::write(&path, node_settings(state, node)).map_err(io_err("writing", &path))
}

/// The settings of one node, as postgresql.conf text.
pub fn node_settings(state: &ClusterState, node: NodeName) -> String {
    let options = &state.options;
    let port = state.port(node).unwrap_or(state.primary_port);
    let mut s = String::from("# Written by pg_launcher on every start; edit cluster options instead.\n");
    let mut set = |key: &str, value: &str| {
        let _ = writeln!(s, "{key} = {value}");
    };
    set("listen_addresses", "'127.0.0.1'");
    set("port", &port.to_string());
    set(
        "unix_socket_directories",
        &quote(&state.socket_dir.display().to_string()),
    );
    set("max_connections", &options.max_connections.to_string());
    set("password_encryption", "'scram-sha-256'");
    set("ssl", "on");
    set("ssl_cert_file", "'server.crt'");
    set("ssl_key_file", "'server.key'");
    set("ssl_min_protocol_version", "'TLSv1.2'");
    // Replication: a physical slot keeps WAL for the replica while it is down.
    set("wal_level", "replica");
    set("max_wal_senders", "10");
    set("max_replication_slots", "10");
    set("hot_standby", "on");
    set("hot_standby_feedback", "on");
    // Short status intervals make replay positions visible to lag tracking quickly.
    set("wal_receiver_status_interval", "'1s'");
    set("wal_sender_timeout", "'10s'");
    set("wal_receiver_timeout", "'10s'");
    set("shared_buffers", "'128MB'");
    set("log_line_prefix", "'%m [%p] %q%u@%d '");
    set("log_min_messages", "warning");
    if !options.durable {
        // Test clusters: losing data on an OS crash is fine, speed matters. A server crash
        // (kill -9) is still recovered from WAL, because the OS keeps the written pages; for
        // that, a commit's WAL must reach the OS before the commit is acknowledged, so
        // synchronous_commit stays on (with fsync off it costs a write(), not a flush).
        // synchronous_commit=off would acknowledge commits a crash then loses (fault tests
        // compare what a service acknowledged with what survives: tests/crash.rs).
        set("fsync", "off");
        set("full_page_writes", "off");
    }
    let delay = match node {
        NodeName::Primary => None,
        NodeName::Replica if state.replica_promoted => None,
        NodeName::Replica => options.recovery_min_apply_delay_ms,
        NodeName::Replica2 => options.replica2_apply_delay_ms,
    };
    if let Some(delay) = delay.filter(|ms| *ms > 0) {
        set("recovery_min_apply_delay", &format!("'{delay}ms'"));
    }
    for (key, value) in &options.extra_conf {
        set(key, value);
    }
    s
}

/// Writes pg_hba.conf: trust over the (0700) unix socket directory, scram-sha-256 over TCP, and TLS
/// required for TCP when `require_tls` (as AlloyDB does).
///
/// # Errors
/// [`crate::LauncherError::Io`] naming the file.
pub fn write_hba(data_dir: &Path, require_tls: bool) -> Result<()> {
    let tcp = if require_tls { "hostssl" } else { "host" };
    let mut hba = String::from(
        "# Written by pg_launcher.\n\
         # The unix socket directory is private (0700) to the cluster's owner, so local connections are trusted.\n\
         local   all           all                    trust\n\
         local   replication   all                    trust\n",
    );
    for net in ["127.0.0.1/32", "::1/128"] {
        let _ = writeln!(hba, "{tcp:<7} all           all      {net:<14} scram-sha-256");
        let _ = writeln!(hba, "{tcp:<7} replication   all      {net:<14} scram-sha-256");
    }
    let path = data_dir.join("pg_hba.conf");
    std::fs::write(&path, hba).map_err(io_err("writing", &path))
}

/// Quotes a postgresql.conf string value.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::PersistedOptions;
    use std::path::PathBuf;

    fn state() -> ClusterState {
        ClusterState {
            format: 1,
            superuser: "postgres".into(),
            bin_dir: PathBuf::from("/usr/lib/postgresql/15/bin"),
            server_version: "15.18".into(),
            socket_dir: PathBuf::from("/tmp/x/run"),
            primary_port: 5001,
            replica_port: Some(5002),
            replica2_port: Some(5003),
            replica_promoted: false,
            options: PersistedOptions {
                durable: false,
                require_tls: true,
                max_connections: 500,
                recovery_min_apply_delay_ms: Some(2000),
                replica2_apply_delay_ms: Some(500),
                extra_conf: vec![("work_mem".into(), "'8MB'".into())],
            },
        }
    }

    #[test]
    fn replica_gets_its_own_port_and_the_apply_delay() {
        let s = state();
        let primary = node_settings(&s, NodeName::Primary);
        let replica = node_settings(&s, NodeName::Replica);
        assert!(primary.contains("port = 5001\n") && !primary.contains("recovery_min_apply_delay"));
        assert!(replica.contains("port = 5002\n") && replica.contains("recovery_min_apply_delay = '2000ms'"));
        assert!(replica.contains("work_mem = '8MB'"));
    }

    #[test]
    fn the_second_replica_has_its_own_port_and_delay() {
        let second = node_settings(&state(), NodeName::Replica2);
        assert!(second.contains("port = 5003\n") && second.contains("recovery_min_apply_delay = '500ms'"));
    }

    #[test]
    fn promoted_replica_drops_the_apply_delay() {
        let mut s = state();
        s.replica_promoted = true;
        assert!(!node_settings(&s, NodeName::Replica).contains("recovery_min_apply_delay"));
    }
}
