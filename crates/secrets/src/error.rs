//! The errors of this crate. Messages name the secret, version, file or URL involved, and never
//! a secret value: every payload travels as `SecretString` and no variant carries one.

use std::path::PathBuf;

/// A secret, version or alias name that breaks the naming rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// A secret id outside `[A-Za-z0-9_-]{1,255}`.
    #[error("invalid secret name {0:?}: use 1-255 characters of A-Z, a-z, 0-9, '_' and '-'")]
    Secret(String),
    /// A version number that is not a positive integer.
    #[error("invalid secret version {0:?}: versions are numbered from 1")]
    Version(String),
    /// An alias outside `[a-z][a-z0-9_-]{0,62}`, or `latest`.
    #[error(
        "invalid version alias {0:?}: use 1-63 characters of a-z, 0-9, '_' and '-', starting with a letter, other than 'latest'"
    )]
    Alias(String),
}

/// Why a secret store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// A malformed secret, version or alias name.
    #[error(transparent)]
    Name(#[from] NameError),
    /// The secret does not exist in this store.
    #[error("secret {secret} not found in {store}")]
    SecretNotFound {
        /// The store that was asked (`file:/var/run/secrets/pcc`).
        store: String,
        /// The secret id.
        secret: String,
    },
    /// The secret exists but the requested version (or alias) does not.
    #[error("version {version} of secret {secret} not found in {store}")]
    VersionNotFound {
        /// The store that was asked.
        store: String,
        /// The secret id.
        secret: String,
        /// The version, alias or `latest`.
        version: String,
    },
    /// The version exists but is disabled or destroyed, so it cannot be read.
    #[error("version {version} of secret {secret} in {store} is {state}, so it cannot be read")]
    VersionNotEnabled {
        /// The store that was asked.
        store: String,
        /// The secret id.
        secret: String,
        /// The version number.
        version: String,
        /// `disabled` or `destroyed`.
        state: String,
    },
    /// The backend cannot do this (environment variables cannot hold versions).
    #[error("{store} does not support {operation}: {hint}")]
    Unsupported {
        /// The store that was asked.
        store: String,
        /// What was attempted (`add a version`).
        operation: &'static str,
        /// What to use instead.
        hint: &'static str,
    },
    /// A file of the file store could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done (`read secret file`).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A stored value is not what the store expects (a bad version file, non-UTF-8 payload).
    #[error("malformed {what} in {store}: {detail}")]
    Malformed {
        /// The store that was asked.
        store: String,
        /// What was malformed (`version list of secret x`).
        what: String,
        /// What exactly was wrong (never the value).
        detail: String,
    },
    /// The payload's CRC32C does not match the checksum Secret Manager sent with it.
    #[error("checksum mismatch reading version {version} of secret {secret}: the payload was corrupted in transit")]
    Checksum {
        /// The secret id.
        secret: String,
        /// The version number.
        version: String,
    },
    /// The HTTP request itself failed (connection refused, timeout, TLS).
    #[error("request to {url} failed: {source}")]
    Http {
        /// The URL without query string; it carries no credential.
        url: String,
        /// reqwest's error.
        source: reqwest::Error,
    },
    /// The Secret Manager API answered with an error status.
    #[error("secret manager {operation} on {resource} failed with HTTP {status} {code}: {message}")]
    Api {
        /// The API method (`access`, `addVersion`).
        operation: &'static str,
        /// The resource name (`projects/p/secrets/s/versions/3`).
        resource: String,
        /// The HTTP status.
        status: u16,
        /// Google's status code (`PERMISSION_DENIED`).
        code: String,
        /// Google's message.
        message: String,
    },
    /// Secret Manager has no such secret in the project (Terraform creates them).
    #[error(
        "secret {secret} does not exist in project {project}: create it (Terraform google_secret_manager_secret, with its IAM bindings){also}"
    )]
    GcpSecretMissing {
        /// The project asked.
        project: String,
        /// The secret id.
        secret: String,
        /// More advice when the answer was ambiguous (`access` of `latest` also answers 404 for
        /// a secret without enabled versions); empty otherwise.
        also: &'static str,
    },
    /// Secret Manager answered 403: the identity lacks the permission for this operation.
    #[error(
        "permission denied for secret manager {operation} on {resource} as {credentials}: {needed} (Google said: {message})"
    )]
    PermissionDenied {
        /// The API method (`access`, `addVersion`).
        operation: &'static str,
        /// The resource name.
        resource: String,
        /// Where the token came from (which identity was used).
        credentials: String,
        /// What to grant (`grant roles/secretmanager.secretAccessor on the secret to this identity`).
        needed: String,
        /// Google's message.
        message: String,
    },
    /// Secret Manager answered 401 even with a freshly fetched token.
    #[error(
        "secret manager rejected the access token for {operation} on {resource}; the token came from {credentials}: check that this identity still exists and its credentials are valid (Google said: {message})"
    )]
    Unauthenticated {
        /// The API method.
        operation: &'static str,
        /// The resource name.
        resource: String,
        /// Where the token came from.
        credentials: String,
        /// Google's message.
        message: String,
    },
    /// A transient error (429 quota, 5xx) outlasted the retry budget.
    #[error(
        "secret manager {operation} on {resource} still failed with HTTP {status} after {attempts} attempts in {waited}: {advice} (last answer: {message})"
    )]
    RetriesExhausted {
        /// The API method.
        operation: &'static str,
        /// The resource name.
        resource: String,
        /// The last HTTP status.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// Time spent, and why it stopped (`91.0 s`; `0.2 s (the server asked to wait 120.0 s, beyond the 90.0 s budget)`).
        waited: String,
        /// What to do.
        advice: &'static str,
        /// Google's last message.
        message: String,
    },
    /// No access token could be obtained.
    #[error("cannot obtain a Google access token from {source_name}: {detail}")]
    Token {
        /// Where the token was asked for (`metadata server http://169.254.169.254`).
        source_name: String,
        /// Why it failed.
        detail: String,
    },
    /// The IAM database login name cannot be known.
    #[error("cannot tell the IAM database user: {0}")]
    IamUser(String),
    /// The operating system's random number generator failed.
    #[error("cannot draw random bytes from the operating system: {0}")]
    Random(String),
    /// The secret's value is not a valid database credential.
    #[error("secret {secret} version {version} is not a database credential: {detail}")]
    Credential {
        /// The secret id.
        secret: String,
        /// The version read.
        version: String,
        /// What was wrong with the JSON (never the value).
        detail: String,
    },
}

impl SecretError {
    /// True when the secret or the requested version does not exist (as opposed to an outage).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::SecretNotFound { .. } | Self::VersionNotFound { .. } | Self::GcpSecretMissing { .. }
        ) || matches!(self, Self::Api { status: 404, .. })
    }

    /// True when the secret itself does not exist (not just a version of it).
    pub fn is_secret_missing(&self) -> bool {
        matches!(self, Self::SecretNotFound { .. } | Self::GcpSecretMissing { .. })
    }
}
