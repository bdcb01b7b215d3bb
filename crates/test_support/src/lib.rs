//! Test harness for every crate that talks to PostgreSQL.
//!
//! - [`cluster()`]: one real primary + streaming replica per test binary (a `pg_launcher` cluster in
//!   a temporary directory, started on first use, removed when the process exits however it exits).
//!   With `PCC_TEST_DATABASE_URL` set (and optionally `PCC_TEST_REPLICA_URL`), tests use that server
//!   instead.
//! - [`database()`] / [`database_from()`]: a fresh database per test, created with
//!   `CREATE DATABASE ... TEMPLATE`, dropped when the test passes, kept (name printed) when it fails.
//!   Tests therefore run in parallel without seeing each other's data.
//! - [`service_database()`]: a test's own copy of a service's database as production has it: the
//!   repository's manifest brought up by the platform library once per binary (roles, grants,
//!   credentials, the migrate engine with its history table), cloned per test, reached as the
//!   service's real login.
//! - [`dedicated_cluster()`]: a private cluster for tests that kill, restart, promote or slow down
//!   servers, so they never disturb the shared one.
//! - [`eventually()`]: polls a condition with a deadline (a hang detector, not a measurement);
//!   [`replica_caught_up()`]: waits until the replica has replayed the primary's WAL.
//! - [`create_platform_admin()`]: the non-superuser admin role Terraform creates on AlloyDB.
//!
//! Cargo runs a test binary's tests as threads of one process, each `#[tokio::test]` with its own
//! runtime; the shared cluster is therefore started synchronously and holds no runtime objects.

mod admin;
mod cluster;
mod database;
mod names;
mod service;
mod tls;
mod wait;

pub use admin::create_platform_admin;
pub use cluster::{Server, TestCluster, cluster, dedicated_cluster};
pub use database::{Target, Template, TestDatabase, database, database_from};
pub use names::unique_name;
pub use service::{ServiceDatabase, TEST_ENVIRONMENT, repo_root, service_database};
pub use tls::{connect, tls_connector};
pub use wait::{eventually, replica_caught_up};
