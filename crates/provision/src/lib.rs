//! Provisioning for the PCC database platform (issue 4).
//!
//! Work in progress: manifest, naming, budget.

pub mod acl;
pub mod budget;
pub mod catalog;
pub mod desired;
pub mod diff;
mod error;
mod ident;
pub mod manifest;
pub mod naming;
pub mod units;

pub use error::{ManifestError, NameError};
pub use ident::{Ident, MAX_IDENT_BYTES, quote_ident, quote_literal};
pub use manifest::Manifest;
