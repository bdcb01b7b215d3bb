//! Every invariant of the client_api schema, proved on a real PostgreSQL server (one shared launcher cluster for
//! this binary; each test in its own copy of the service database, provisioned and migrated by the platform
//! library exactly as production's pipeline does). Tests act as the service's own login unless they need the
//! owner's privileges. `reference_files` needs no database: the migration files and their generation.

mod audit;
mod catalog;
mod concurrency;
mod contacts;
mod erasure;
mod hierarchy;
mod history;
mod idempotency;
mod lei;
mod ownership;
mod read_paths;
mod reference;
mod reference_files;
mod risk;
mod soft_delete;
mod support;
