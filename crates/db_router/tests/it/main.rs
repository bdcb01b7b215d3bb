//! db_router against real primary + replica pairs, one test binary (the shared cluster for routing, private
//! clusters for faults). metrics.rs stays its own binary: it installs the process-wide metrics recorder.

mod common;
mod faults;
mod read_pool;
mod routing;
