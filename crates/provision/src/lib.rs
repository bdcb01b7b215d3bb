//! Provisioning for the PCC database platform: the manifest and its naming
//! convention, the live catalog, a pure diff to an ordered SQL plan, apply under an advisory
//! lock, zero-downtime credential rotation, check, capacity, and the connection targets other
//! tools resolve from the manifest. The design is in README.md.
//!
//! - [`manifest`], [`naming`], [`units`], [`budget`]: what the manifest says, validated.
//! - [`catalog`] (reader), [`desired`], [`acl`], [`diff`] (pure): what is, what should be, the plan.
//! - [`apply`]: plan, apply, provision (apply + credentials); [`target`]: endpoints, stores, sessions.
//! - [`rotate`]: the rotation state machine and its runner.
//! - [`check`], [`capacity`], [`resolve`]; [`terraform`]: endpoint hosts from `terraform output -json`.

pub mod acl;
pub mod apply;
pub mod budget;
pub mod capacity;
pub mod catalog;
pub mod check;
pub mod desired;
pub mod diff;
mod error;
mod ident;
pub mod manifest;
pub mod naming;
pub mod resolve;
pub mod rotate;
pub mod target;
pub mod terraform;
pub mod units;

pub use error::{ManifestError, NameError, ProvisionError};
pub use ident::{Ident, MAX_IDENT_BYTES, quote_ident, quote_literal};
pub use manifest::Manifest;
