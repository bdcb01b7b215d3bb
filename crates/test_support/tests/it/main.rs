//! The test harness's own promises: one cluster per test binary (and per process), isolated databases,
//! the foundation's server behaviour.

mod cluster;
mod isolation;
