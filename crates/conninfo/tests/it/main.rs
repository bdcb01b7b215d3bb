//! conninfo's integration tests, one binary (one shared launcher cluster; promotion runs on its own):
//! parsers of every syntax, golden Npgsql cases, rendering, round trips, and connecting to real servers.

mod connect;
mod libpq_jdbc;
mod npgsql_golden;
mod promotion;
mod render_forms;
mod round_trip;
mod server_certificates;
