//! The fault suite: each scenario is one test that starts its own primary + replica,
//! provisions and migrates it with `pccdb`, runs the real `pcc-client-api` under steady load,
//! injects one fault, prints what it injected, measured and whether each guarantee held, writes
//! `<target>/fault-report/<scenario>.json`, and fails if a guarantee did not hold.
//!
//! Run: `cargo test -p fault_suite -- --nocapture` (docs/RELIABILITY.md has the results).

mod common;
mod s10_saturated_primary;
mod s11_replica_behind;
mod s1_replica_restart;
mod s2_primary_kill;
mod s3_promotion;
mod s4_lag;
mod s5_rotation;
mod s6_service_kill;
mod s7_migrate_race;
mod s8_overload;
mod s9_bad_input;
