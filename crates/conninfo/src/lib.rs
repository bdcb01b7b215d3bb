//! PostgreSQL connection strings in every common syntax, parsed into one typed [`ConnSpec`],
//! and a multi-host [`connect()`] that honors TLS modes and target session attributes.
//!
//! (Crate documentation, including every deliberate difference from Npgsql, is in README.md.)
#![doc = include_str!("../README.md")]

mod connect;
mod env;
mod error;
mod explain;
mod host;
mod jdbc;
mod libpq;
mod modes;
mod npgsql;
mod parse;
mod render;
mod render_jdbc;
mod spec;
mod tls;
mod values;

pub use connect::{
    ConnectError, ConnectedHost, Connector, FALLBACK_CONNECT_TIMEOUT, FailureReason, HostFailure, SessionWatch,
    connect, connect_with_password,
};
pub use env::{EnvSource, NoEnv, ProcessEnv};
pub use error::ParseError;
pub use explain::{Explanation, PoolView, SessionView, TimeoutsView, TlsView};
pub use host::{DEFAULT_PORT, Host, HostSpec, HostView};
pub use libpq::DEFAULT_SOCKET_DIR;
pub use modes::{ChannelBinding, ServerRole, SslMode, SslNegotiation, Syntax, TargetSessionAttrs, choose_host};
pub use parse::detect;
pub use render::REDACTED;
pub use render_jdbc::RenderError;
pub use spec::{ConnSpec, Keepalives, PoolSettings};
pub use tls::{TlsError, tls_connector};
