//! Secrets for the PCC database platform: where credentials live and how services read them.
//!
//! - [`SecretStore`]: the one trait (async, object safe) with Secret Manager's model of
//!   numbered versions, `latest` and movable aliases. Backends: [`EnvStore`] (environment
//!   variables), [`FileStore`] (Kubernetes-mounted files, re-read on every access, plus a
//!   versioned layout for local rotation), [`GcpSecretManager`] (REST, CRC32C, Application
//!   Default Credentials, retry budgets, errors that say what to do; see the crate README) and
//!   [`MemoryStore`] (tests).
//! - [`DbCredential`]: user name + password, stored as JSON in a secret.
//! - [`CachedCredential`]: what a connection pool holds; `current()` and the single-flight
//!   `reload_after()` that runs after the server rejects a password (SQLSTATE 28P01).
//! - [`generate_password`]: 256 bits from the OS CSPRNG.
//! - [`IamCredentials`]: IAM database authentication (AlloyDB `ALLOYDB_IAM_USER`): the service
//!   account's database user with an OAuth 2.0 access token as its password, kept fresh in the
//!   background (with feature `db-router`, a db_router credential provider).
//!
//! Rotation itself (which needs the database) lives in `provision::rotate`.

mod cached;
mod credential;
mod env;
mod error;
mod file;
pub mod gcp;
pub mod iam;
mod memory;
mod name;
mod password;
#[cfg(feature = "db-router")]
mod router;
mod store;

pub use cached::{CachedCredential, CurrentCredential, Reloaded};
pub use credential::{CredentialFormatError, DbCredential};
pub use env::EnvStore;
pub use error::{NameError, SecretError};
pub use file::FileStore;
pub use gcp::{GcpConfig, GcpSecretManager, TokenSource};
pub use iam::{IamConfig, IamCredentials};
pub use memory::MemoryStore;
pub use name::{AliasName, SecretName, VersionId, VersionRef};
pub use password::{PASSWORD_BYTES, generate_password};
pub use store::{SecretStore, SecretVersion, VersionInfo, VersionState};
