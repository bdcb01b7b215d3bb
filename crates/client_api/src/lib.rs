//! `pcc-client-api`: the client portfolio service (issue 6).
//!
//! - [`config`]: configuration from environment variables, one module per concern.
//! - [`db`]: typed database intent (write / read with a consistency) over the primary and replica pools.
//! - [`auth`]: bearer JWT verification (RS256/ES256, JWKS file or URL), scopes, development keys.
//! - [`domain`]: representations, writable fields, ETags, cursors, JSON Merge Patch.
//! - [`http`]: the router (every route in `http/router.rs`), one file per action, problems (RFC 9457).
//! - [`server`]: serving with graceful drain; [`embedded`]: the zero-configuration local default.

pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod embedded;
pub mod error;
pub mod http;
pub mod purge;
pub mod run;
pub mod server;

pub use app::AppState;
pub use error::{ApiError, ProblemKind};
