//! Where the Secret Manager backend's access tokens come from, and how the source is chosen.
//!
//! Sources ([`TokenSource`]):
//! - the GCE/GKE metadata server (`GET {base}/computeMetadata/v1/instance/service-accounts/default/token`
//!   with `Metadata-Flavor: Google`): pods under Workload Identity, Cloud Build, GCE;
//! - a service-account key file: a self-signed RS256 JWT exchanged at the key's `token_uri`
//!   (RFC 7523 jwt-bearer grant), for CI outside GCP;
//! - gcloud's authorized-user file (`gcloud auth application-default login`): a refresh-token grant,
//!   for a workstation;
//! - a fixed token (`gcloud auth print-access-token`), for one short job.
//!
//! [`TokenSource::application_default`] chooses as Google's client libraries do (Application
//! Default Credentials): the file named by `GOOGLE_APPLICATION_CREDENTIALS`, else gcloud's
//! well-known file (`$CLOUDSDK_CONFIG/application_default_credentials.json`, by default
//! `~/.config/gcloud/application_default_credentials.json`), else the metadata server
//! (`GCE_METADATA_HOST` names another host, as those libraries honour it).
//!
//! Private keys, client secrets, refresh tokens and access tokens are `SecretString`s or
//! jsonwebtoken's zeroizing `EncodingKey`; `Debug` shows where a credential came from, never what
//! it holds, and no error quotes a credential file's content.

mod fetch;
mod files;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::SecretString;
use url::Url;

use crate::error::SecretError;

pub(crate) use fetch::{Failed, Fresh, fetch};
pub use files::{AuthorizedUser, ServiceAccountKey};

/// The metadata server's host when `GCE_METADATA_HOST` is not set.
pub const DEFAULT_METADATA_HOST: &str = "metadata.google.internal";
/// The path of the token endpoint on the metadata server.
pub const METADATA_TOKEN_PATH: &str = "computeMetadata/v1/instance/service-accounts/default/token";
/// The OAuth scope of Secret Manager's tokens (Secret Manager accepts it; IAM decides the rest).
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// The OAuth scope of AlloyDB IAM database logins: a token with only this scope can log in to
/// AlloyDB and call no Google API (AlloyDB also accepts cloud-platform tokens).
pub const ALLOYDB_LOGIN_SCOPE: &str = "https://www.googleapis.com/auth/alloydb.login";
/// The path of the metadata server's e-mail address of the pod's service account.
pub const METADATA_EMAIL_PATH: &str = "computeMetadata/v1/instance/service-accounts/default/email";
/// Google's OAuth 2.0 token endpoint (the default `token_uri`).
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// The variable naming a credentials file.
pub const CREDENTIALS_VAR: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// gcloud's application-default credentials file, under its configuration directory.
pub const GCLOUD_ADC_FILE: &str = "application_default_credentials.json";

/// Where access tokens come from.
#[derive(Clone)]
pub enum TokenSource {
    /// The GCE/GKE metadata server at this base URL.
    Metadata(Url),
    /// A fixed token (it expires after about an hour; for short jobs outside GCP).
    Static(SecretString),
    /// A service-account key file (JWT bearer grant at its `token_uri`).
    ServiceAccount(Arc<ServiceAccountKey>),
    /// gcloud's authorized-user credentials (refresh-token grant).
    AuthorizedUser(Arc<AuthorizedUser>),
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Metadata(url) => f.debug_tuple("Metadata").field(&url.as_str()).finish(),
            Self::Static(_) => f.write_str("Static([REDACTED])"),
            Self::ServiceAccount(key) => f.debug_tuple("ServiceAccount").field(key).finish(),
            Self::AuthorizedUser(user) => f.debug_tuple("AuthorizedUser").field(user).finish(),
        }
    }
}

/// The process environment, or a test's stand-in for it.
pub(crate) trait Environment {
    /// A variable's value (`None` when unset).
    fn var(&self, name: &str) -> Option<OsString>;
}

struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<OsString> {
        std::env::var_os(name)
    }
}

impl<F: Fn(&str) -> Option<OsString>> Environment for F {
    fn var(&self, name: &str) -> Option<OsString> {
        self(name)
    }
}

fn non_empty(v: Option<OsString>) -> Option<OsString> {
    v.filter(|v| !v.is_empty())
}

impl TokenSource {
    /// The metadata server: `http://$GCE_METADATA_HOST` when set, else `http://metadata.google.internal`.
    ///
    /// # Errors
    /// [`SecretError::Token`] when `GCE_METADATA_HOST` is not a usable host.
    pub fn metadata_from_env() -> Result<Self, SecretError> {
        Self::metadata_in(&ProcessEnvironment)
    }

    fn metadata_in(env: &dyn Environment) -> Result<Self, SecretError> {
        let host = non_empty(env.var("GCE_METADATA_HOST")).map_or_else(
            || DEFAULT_METADATA_HOST.to_owned(),
            |h| h.to_string_lossy().into_owned(),
        );
        Url::parse(&format!("http://{host}"))
            .ok()
            .filter(|u| u.host().is_some() && u.path() == "/")
            .map(Self::Metadata)
            .ok_or_else(|| SecretError::Token {
                source_name: format!("GCE_METADATA_HOST={host}"),
                detail: "not a host or host:port".to_owned(),
            })
    }

    /// Application Default Credentials, looked up in the order Google's client libraries use:
    /// `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's well-known file, the metadata server.
    ///
    /// # Errors
    /// A credentials file that is named (or present) but unreadable, malformed or of an
    /// unsupported type: an explicit choice that does not work is reported, not skipped.
    pub fn application_default() -> Result<Self, SecretError> {
        Self::application_default_in(&ProcessEnvironment)
    }

    pub(crate) fn application_default_in(env: &dyn Environment) -> Result<Self, SecretError> {
        if let Some(path) = non_empty(env.var(CREDENTIALS_VAR)) {
            return Self::from_file(Path::new(&path), CREDENTIALS_VAR);
        }
        if let Some(path) = gcloud_file(env)
            && path.exists()
        {
            return Self::from_file(&path, "gcloud's application-default credentials");
        }
        Self::metadata_in(env)
    }

    /// A service-account key or authorized-user file (`origin` says who pointed at it, for messages).
    ///
    /// # Errors
    /// An unreadable, malformed or unsupported file.
    pub fn from_file(path: &Path, origin: &str) -> Result<Self, SecretError> {
        files::load(path, origin)
    }

    /// Where tokens come from, for messages and logs (never a credential).
    pub fn describe(&self) -> String {
        match self {
            Self::Metadata(base) => format!("metadata server {}", metadata_endpoint(base)),
            Self::Static(_) => "the supplied access token".to_owned(),
            Self::ServiceAccount(key) => key.describe(),
            Self::AuthorizedUser(user) => user.describe(),
        }
    }

    /// The project to bill API quota to, when the credential names one (user credentials must:
    /// Secret Manager refuses them without a quota project).
    pub fn quota_project(&self) -> Option<&str> {
        match self {
            Self::AuthorizedUser(user) => user.quota_project(),
            _ => None,
        }
    }
}

/// The token endpoint of a metadata server at `base`.
pub(crate) fn metadata_endpoint(base: &Url) -> String {
    base.join(METADATA_TOKEN_PATH)
        .map_or_else(|_| base.to_string(), |u| u.to_string())
}

/// gcloud's ADC file: under `$CLOUDSDK_CONFIG`, else `$HOME/.config/gcloud`.
fn gcloud_file(env: &dyn Environment) -> Option<PathBuf> {
    if let Some(dir) = non_empty(env.var("CLOUDSDK_CONFIG")) {
        return Some(PathBuf::from(dir).join(GCLOUD_ADC_FILE));
    }
    non_empty(env.var("HOME")).map(|home| PathBuf::from(home).join(".config/gcloud").join(GCLOUD_ADC_FILE))
}

#[cfg(test)]
mod tests;
