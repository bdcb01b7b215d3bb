//! Primary/replica routing for PostgreSQL (see README.md).
#![doc = include_str!("../README.md")]

mod backoff;
mod class;
mod config;
mod conn;
mod consistency;
mod credentials;
mod error;
mod fallback;
mod lag;
mod metrics;
mod pool;
mod read;
mod router;
mod shared;
mod side;
mod tx;
mod write;

pub use backoff::Backoff;
pub use class::{FailureClass, FallbackReason, Target, classify, classify_sqlstate};
pub use config::RouterConfig;
pub use consistency::{Consistency, ConsistencyToken, InvalidToken, Lsn};
pub use credentials::{CredentialError, CredentialProvider, Credentials, RefreshFuture, StaticCredentials};
pub use error::{DbFailure, RouterError};
pub use fallback::{FallbackConfig, FallbackStatus};
pub use metrics::RouterStats;
pub use read::{Params, Read, Route};
pub use router::{Router, RouterStatus, SessionLagStatus};
pub use side::TargetStatus;
pub use tx::{Isolation, ReadTx, WriteTx};
pub use write::{Committed, Write};

pub use tokio_postgres::Row;
pub use tokio_postgres::types::ToSql;
