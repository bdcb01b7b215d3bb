//! `platform`: the one path from the platform manifest (deploy/pcc.toml) to provisioned, migrated service
//! databases. Everything that needs "a database for this service, set up the way production sets it up"
//! calls [`up`]: `pccdb dev up`, the service's embedded default, the test harness (test_support), the
//! benchmarks and the fault suite. Each of the six services to come gets the same path by adding a manifest
//! entry and a migrations directory; nobody writes a copy.
//!
//! [`up`] does, for one environment:
//! 1. a `local_cluster` environment: start (or create) the pg_launcher primary + streaming replica;
//! 2. provision (crates/provision): databases, roles, grants, default privileges, first credentials in
//!    the environment's secret store, exactly as `pccdb apply` does;
//! 3. migrate every selected service (crates/migrate): as the migration login with `SET ROLE <owner>`,
//!    from `migrations/<schema>` or from files compiled into the program ([`Migrations`]), then restrict
//!    the service's access to its history table, exactly as `pccdb migrate --env --service` does;
//! 4. resolve each service's runtime connections (primary and replica specs as the service's login).
//!
//! [`clone_database`] copies a provisioned database with everything `CREATE DATABASE ... TEMPLATE` leaves
//! behind (owner, privileges, connection limit), so tests can give each test its own copy of one template
//! built through [`up`].

mod clone;
mod error;
mod local;
mod migrations;
mod up;

pub use clone::clone_database;
pub use error::PlatformError;
pub use local::{superuser, superuser_spec};
pub use migrations::{
    Migrations, SOURCE, flyway_layer, migrate_service, migrate_target, migration_config, secure_history,
};
pub use up::{LocalCluster, ServiceUp, UpOptions, UpReport, up};
