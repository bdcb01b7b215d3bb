//! The `SecretStore` trait every backend implements, and the values it returns.
//!
//! The model is Secret Manager's: a secret has numbered, immutable versions, each enabled or
//! disabled, and named aliases that point at one version. `latest` is the newest enabled
//! version. Rotation adds a version, then moves the `current` alias that services read; a
//! backend that cannot hold versions (environment variables, a plain mounted file) answers
//! `latest` and aliases with its one value and refuses writes with
//! [`SecretError::Unsupported`].
//!
//! The trait returns boxed futures so that `Arc<dyn SecretStore>` works: the connection layer
//! and the CLI pick the backend at run time from configuration.

use std::collections::BTreeMap;
use std::fmt;

use futures_util::future::BoxFuture;
use secrecy::SecretString;
use time::OffsetDateTime;

use crate::error::SecretError;
use crate::name::{AliasName, SecretName, VersionId, VersionRef};

/// The value of one version of a secret.
pub struct SecretVersion {
    /// The version number; `None` for backends without versions (env, a plain mounted file).
    pub version: Option<VersionId>,
    /// The payload.
    pub value: SecretString,
}

impl fmt::Debug for SecretVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretVersion")
            .field("version", &self.version)
            .field("value", &"[REDACTED]")
            .finish()
    }
}

/// Whether a version can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionState {
    /// Readable.
    Enabled,
    /// Kept, but reads fail until it is enabled again.
    Disabled,
    /// Gone for good (or, in Secret Manager with delayed destruction, disabled and scheduled
    /// to be destroyed).
    Destroyed,
}

impl fmt::Display for VersionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
            Self::Destroyed => "destroyed",
        })
    }
}

/// Metadata of one version (never its value).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VersionInfo {
    /// The version number.
    pub version: VersionId,
    /// Enabled, disabled or destroyed.
    pub state: VersionState,
    /// When it was added, when the backend records it.
    #[serde(with = "time::serde::rfc3339::option")]
    pub created: Option<OffsetDateTime>,
}

/// A place secrets live: Secret Manager, mounted files, environment variables, memory.
///
/// Every method is safe to retry: reads have no effect, `disable_version`, `destroy_version`
/// and `set_alias` are idempotent, and `add_version` is the one call that is not (callers that must converge after
/// a crash look for their payload among existing versions first; see `provision::rotate`).
pub trait SecretStore: Send + Sync + fmt::Debug {
    /// A short description for messages (`gcp:projects/pcc-devtest`, `file:/var/run/secrets/pcc`).
    fn describe(&self) -> String;

    /// Reads one version (`latest`, a number, or an alias) of a secret.
    ///
    /// # Errors
    /// Not found, disabled, unreachable backend, corrupted payload.
    fn access<'a>(
        &'a self,
        name: &'a SecretName,
        version: &'a VersionRef,
    ) -> BoxFuture<'a, Result<SecretVersion, SecretError>>;

    /// Adds a new enabled version holding `value` and returns its number. The secret is created
    /// when the backend allows it (file, memory); Secret Manager needs the secret to exist.
    ///
    /// # Errors
    /// Read-only backend, missing secret, unreachable backend.
    fn add_version<'a>(
        &'a self,
        name: &'a SecretName,
        value: &'a SecretString,
    ) -> BoxFuture<'a, Result<VersionId, SecretError>>;

    /// Lists the versions of a secret, oldest first.
    ///
    /// # Errors
    /// Missing secret, backend without versions, unreachable backend.
    fn list_versions<'a>(&'a self, name: &'a SecretName) -> BoxFuture<'a, Result<Vec<VersionInfo>, SecretError>>;

    /// Disables one version; disabling a disabled version succeeds.
    ///
    /// # Errors
    /// Missing secret or version, read-only backend, unreachable backend.
    fn disable_version<'a>(
        &'a self,
        name: &'a SecretName,
        version: VersionId,
    ) -> BoxFuture<'a, Result<(), SecretError>>;

    /// Destroys one version: its payload is gone for good, it can never be read or enabled
    /// again, and its number stays taken. Destroying a destroyed version succeeds. Callers
    /// decide which versions may go (rotation keeps the current, the pending and aliased ones).
    ///
    /// # Errors
    /// Missing secret or version, read-only backend, unreachable backend.
    fn destroy_version<'a>(
        &'a self,
        name: &'a SecretName,
        version: VersionId,
    ) -> BoxFuture<'a, Result<(), SecretError>>;

    /// The aliases of a secret and the versions they point to.
    ///
    /// # Errors
    /// Missing secret, unreachable backend.
    fn aliases<'a>(
        &'a self,
        name: &'a SecretName,
    ) -> BoxFuture<'a, Result<BTreeMap<AliasName, VersionId>, SecretError>>;

    /// Points `alias` at `version` (creating the alias if needed); setting it to where it
    /// already points succeeds.
    ///
    /// # Errors
    /// Missing secret or version, read-only backend, unreachable backend.
    fn set_alias<'a>(
        &'a self,
        name: &'a SecretName,
        alias: &'a AliasName,
        version: VersionId,
    ) -> BoxFuture<'a, Result<(), SecretError>>;
}
