//! Every invariant of the client_api schema, proved on a real PostgreSQL server (one shared launcher cluster for
//! this binary; each test in its own copy of a database provisioned like production and migrated as the owner).
//! Tests act with the service's privileges (`SET ROLE client_api_app`) unless they need the owner's.

mod audit;
mod catalog;
mod concurrency;
mod contacts;
mod hierarchy;
mod idempotency;
mod lei;
mod read_paths;
mod reference;
mod reference_files;
mod risk;
mod soft_delete;
mod support;
