//! Provisioning against real servers, one test binary sharing one launcher cluster (private clusters where a
//! test needs one): manifest loading, plan/apply/check, a managed platform's role shapes, resolution of
//! targets, capacity and rotation.

mod apply;
mod capacity;
mod common;
mod iam;
mod manifest;
mod platform;
mod resolve;
mod rotate;
mod transport;
