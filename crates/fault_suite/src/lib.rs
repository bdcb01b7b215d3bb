//! The fault-injection suite: the real `pcc-client-api` executable under steady HTTP
//! load on a real PostgreSQL primary + streaming replica, while the suite kills, restarts,
//! promotes or slows servers, rotates the service's password, kills the service itself, races
//! migrations and floods the API with slow or malformed requests, and then checks what users saw.
//!
//! This library is the harness; the scenarios are the test target `tests/faults/` (one
//! `#[tokio::test]` per scenario, run with `cargo test -p fault_suite -- --nocapture`; results in
//! docs/RELIABILITY.md):
//! - [`binaries`]: builds and locates `pcc-client-api` and `pccdb`;
//! - [`platform`]: a private cluster provisioned and migrated with `pccdb`, as a pipeline does;
//! - [`issuer`]: the JWKS the service trusts and the tokens the load presents;
//! - [`service`]: the service as a child process (start, kill -9, restart, drain);
//! - [`api`] and [`load`]: HTTP requests and a load generator, open loop at fixed rates or closed loop
//!   (each worker's next request when the last returned), that records every reply;
//! - [`calibrate`]: what the service sustains on this machine now (scenarios' production rate);
//! - [`procnet`]: which child process owns a database session (by its TCP port);
//! - [`fuzz`]: malformed and hostile requests from a seed;
//! - [`metrics`]: the service's `/metrics`, read back as evidence;
//! - [`report`]: what was injected, measured and held, printed and written as JSON.
//!
//! Waits with a deadline (hang detectors, not measurements) use [`test_support::eventually`].

pub mod api;
pub mod binaries;
pub mod calibrate;
pub mod fuzz;
pub mod issuer;
pub mod load;
pub mod metrics;
pub mod platform;
pub mod procnet;
pub mod report;
pub mod service;

pub use api::{Api, Reply};
pub use issuer::Issuer;
pub use load::{Drive, Load, LoadOptions, Op, Rates, Sample};
pub use metrics::Metrics;
pub use platform::{Platform, PlatformOptions};
pub use report::Report;
pub use service::Service;
