//! Provisioning for the PCC database platform (issue 4).
//!
//! Work in progress: manifest, naming, budget.

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
pub mod units;

pub use error::{ManifestError, NameError, ProvisionError};
pub use ident::{Ident, MAX_IDENT_BYTES, quote_ident, quote_literal};
pub use manifest::Manifest;
