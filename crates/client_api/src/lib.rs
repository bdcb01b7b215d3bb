//! `pcc-client-api`: the client portfolio service.
//!
//! - [`config`]: configuration from environment variables, one module per concern.
//! - [`db`]: typed database intent (write / read with a consistency) over the primary and replica pools.
//! - [`auth`]: bearer JWT verification (RS256/ES256, JWKS file or URL), scopes, development keys.
//! - [`domain`]: representations, writable fields, ETags, wire formats, JSON Merge Patch.
//! - [`http`]: the router (every route in `http/router.rs`), one file per action, keyset paging, problems
//!   (RFC 9457).
//! - [`imports`]: bulk import of clients as a job (parse, plan, write, job row and upkeep).
//! - [`server`]: serving with graceful drain; `embedded` (cargo feature `embedded`, on by default): the
//!   zero-configuration local default.

pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod error;
pub mod http;
pub mod imports;
pub mod purge;
pub mod run;
pub mod server;

pub use app::AppState;
pub use error::{ApiError, ProblemKind};
