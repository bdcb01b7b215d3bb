//! Interoperability tests: real Flyway, pgjdbc and libpq as referees (docs/INTEROP.md).

mod common;

mod jdbc;
mod libpq;
mod corpus;
mod concurrent;
mod failed;
mod handoff;
mod maintenance;
mod service;
