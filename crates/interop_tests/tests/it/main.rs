//! Interoperability tests: real Flyway, pgjdbc and libpq as referees (docs/INTEROP.md).

mod common;

mod concurrent;
mod corpus;
mod failed;
mod handoff;
mod jdbc;
mod libpq;
mod maintenance;
mod service;
