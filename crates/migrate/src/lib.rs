//! `migrate`: a Flyway-compatible migration engine for PostgreSQL (work in progress).

pub mod callback;
pub mod checksum;
pub mod config;
pub mod model;
pub mod name;
pub mod placeholder;
pub mod plan;
pub mod resolve;
pub mod sql;
pub mod version;
