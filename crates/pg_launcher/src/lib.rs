//! `pg_launcher` runs a real PostgreSQL cluster on this machine: a primary created by initdb
//! (UTF8, C collation, data checksums, scram-sha-256 over TCP, TLS on, a generated superuser
//! password) and an optional streaming replica created by pg_basebackup, both listening on
//! 127.0.0.1 with unix sockets in a private directory.
//!
//! It is synchronous on purpose: it is used from `pccdb dev`, from test harnesses that share one
//! cluster across many tokio runtimes, and from benchmarks. Everything it runs is a PostgreSQL
//! program (initdb, pg_ctl, pg_basebackup, psql); no password is ever passed as an argument.
//!
//! When the caller is root, the servers run as the `postgres` OS user (or `$PCC_PG_OS_USER`),
//! because initdb and postgres refuse to run as root.
//!
//! ```no_run
//! use pg_launcher::{Cluster, ClusterOptions, NodeName};
//! let (cluster, _action) = Cluster::up("/tmp/demo".as_ref(), &ClusterOptions::ephemeral())?;
//! cluster.query(NodeName::Primary, "postgres", "CREATE TABLE t (id int)")?;
//! cluster.kill(NodeName::Primary)?; // a crash
//! cluster.start(NodeName::Primary)?; // crash recovery
//! # Ok::<(), pg_launcher::LauncherError>(())
//! ```

mod binaries;
mod certificate;
mod cluster;
mod conf;
mod create;
mod error;
mod layout;
mod node;
mod options;
mod os_user;
mod run;
mod status;
mod tls;
mod watchdog;

pub use binaries::PgBinaries;
pub use cluster::Cluster;
pub use error::{LauncherError, Result};
pub use layout::NodeName;
pub use options::{ClusterOptions, Endpoint, UpAction};
pub use os_user::ServerUser;
pub use status::{ClusterStatus, NodeStatus};
