//! GCP Secret Manager over its v1 REST API, with reqwest (rustls, ring provider).
//!
//! Methods used: `versions/*:access` (payload + CRC32C, checked), `secrets/*:addVersion`
//! (CRC32C sent), `versions` (list, paged), `versions/*:disable`, `versions/*:destroy`,
//! `secrets/*` (GET, and PATCH of `versionAliases` guarded by the secret's etag, so two
//! concurrent alias moves cannot lose each other's update). Secrets themselves are created by
//! Terraform (`google_secret_manager_secret`), with their IAM bindings; this backend never
//! creates one.
//!
//! Credentials: [`credentials`] (metadata server, service-account key, gcloud user
//! credentials, chosen like Google's Application Default Credentials); tokens are cached and
//! their fetch retried within [`GcpConfig::token_retry`] (`token.rs`). API calls retry 429, 5xx
//! and connection failures within [`GcpConfig::retry`], honouring `Retry-After`; `addVersion`
//! retries only what cannot have been applied (a 429, an unsent request). A 401 drops the
//! cached token and retries once. Errors that need a person say what to do (`errors.rs`). Both
//! base URLs are injectable, which is how the tests run against the fake in `fake` (feature
//! `fake-gcp`) on 127.0.0.1.

pub mod credentials;
mod errors;
mod ops;
pub(crate) mod retry;
pub(crate) mod token;
mod wire;

#[cfg(feature = "fake-gcp")]
pub mod fake;

use std::time::Duration;

use url::Url;

pub use credentials::TokenSource;
pub use retry::RetryPolicy;

use crate::error::SecretError;
use token::TokenCache;

/// The production API endpoint.
pub const DEFAULT_API_BASE: &str = "https://secretmanager.googleapis.com/";

/// How to reach Secret Manager.
#[derive(Debug, Clone)]
pub struct GcpConfig {
    /// Project id or number that holds the secrets (`pcc-devtest`).
    pub project: String,
    /// API base URL (`https://secretmanager.googleapis.com/`; a local fake in tests).
    pub api_base: Url,
    /// Where access tokens come from.
    pub token: TokenSource,
    /// Timeout of each HTTP request.
    pub request_timeout: Duration,
    /// Retries of API calls ([`RetryPolicy::API`]: about 90 s, outlasting a per-minute quota).
    pub retry: RetryPolicy,
    /// Retries of token fetches ([`RetryPolicy::TOKEN`]: 30 s, covering the GKE metadata
    /// server's first seconds in a new pod).
    pub token_retry: RetryPolicy,
}

impl GcpConfig {
    /// Defaults for `project` with tokens from `token`: the public endpoint, 10 s per request,
    /// [`RetryPolicy::API`] and [`RetryPolicy::TOKEN`].
    pub fn new(project: impl Into<String>, token: TokenSource) -> Self {
        Self {
            project: project.into(),
            api_base: Url::parse(DEFAULT_API_BASE).expect("constant URL parses"),
            token,
            request_timeout: Duration::from_secs(10),
            retry: RetryPolicy::API,
            token_retry: RetryPolicy::TOKEN,
        }
    }

    /// Production defaults for `project`, with Application Default Credentials
    /// ([`TokenSource::application_default`]).
    ///
    /// # Errors
    /// A credentials file that is named but unusable, or an unusable `GCE_METADATA_HOST`.
    pub fn for_project(project: impl Into<String>) -> Result<Self, SecretError> {
        Ok(Self::new(project, TokenSource::application_default()?))
    }
}

/// A Secret Manager client for one project.
#[derive(Debug)]
pub struct GcpSecretManager {
    http: reqwest::Client,
    api_base: Url,
    project: String,
    tokens: TokenCache,
    retry: RetryPolicy,
}

impl GcpSecretManager {
    /// A client for `config`.
    ///
    /// # Errors
    /// [`SecretError::Malformed`] for a project id with characters other than `[a-z0-9-]`;
    /// [`SecretError::Token`] when the HTTP client cannot be built.
    pub fn new(config: GcpConfig) -> Result<Self, SecretError> {
        let ok_project = !config.project.is_empty()
            && config
                .project
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok_project {
            return Err(SecretError::Malformed {
                store: "gcp".to_owned(),
                what: "project id".to_owned(),
                detail: format!("{:?} is not a GCP project id or number", config.project),
            });
        }
        let http = http_client(config.request_timeout)?;
        let mut api_base = config.api_base;
        if !api_base.path().ends_with('/') {
            api_base.set_path(&format!("{}/", api_base.path()));
        }
        tracing::debug!(
            gcp.project = %config.project,
            gcp.credentials = %config.token.describe(),
            "secret manager client"
        );
        Ok(Self {
            http,
            api_base,
            project: config.project,
            tokens: TokenCache::new(config.token, config.token_retry),
            retry: RetryPolicy {
                max_attempts: config.retry.max_attempts.max(1),
                ..config.retry
            },
        })
    }

    /// The project this client reads.
    pub fn project(&self) -> &str {
        &self.project
    }

    /// Where this client's access tokens come from (for messages; never a credential).
    pub fn credentials(&self) -> String {
        self.tokens.source().describe()
    }
}

/// The HTTP client of every Google API call (Secret Manager, tokens, the metadata server): one request
/// and connect timeout.
///
/// # Errors
/// [`SecretError::Token`] when the client cannot be built.
pub(crate) fn http_client(timeout: std::time::Duration) -> Result<reqwest::Client, SecretError> {
    // reqwest is built without a crypto provider; the house rule is ring. Installing fails
    // harmlessly when the process already installed one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .map_err(|e| SecretError::Token {
            source_name: "http client".to_owned(),
            detail: e.to_string(),
        })
}
