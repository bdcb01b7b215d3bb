//! The migration engine against real PostgreSQL, one test binary sharing one launcher cluster: Flyway's
//! history table, the lock, migrate in all its forms, and every parser case run on the server.

mod common;
mod history_ddl;
mod lock_on_server;
mod migrate_on_server;
mod parser_cases_on_server;
