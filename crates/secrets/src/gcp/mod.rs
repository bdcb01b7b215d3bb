//! GCP Secret Manager over its v1 REST API, with reqwest (rustls, ring provider).
//!
//! Methods used: `versions/*:access` (payload + CRC32C, checked), `secrets/*:addVersion`
//! (CRC32C sent), `versions` (list, paged), `versions/*:disable`, `secrets/*` (GET, and PATCH
//! of `versionAliases` guarded by the secret's etag, so two concurrent alias moves cannot lose
//! each other's update). Secrets themselves are created by Terraform
//! (`google_secret_manager_secret`), with their IAM bindings; this backend never creates one.
//!
//! Idempotent calls are retried on 429/5xx and connection failures with jittered backoff;
//! `addVersion` is retried only when the request never reached the server. A 401 drops the
//! cached access token and retries once. Both base URLs are injectable, which is how the tests
//! run against the fake in `fake` (feature `fake-gcp`) on 127.0.0.1.

mod ops;
mod token;
mod wire;

#[cfg(feature = "fake-gcp")]
pub mod fake;

use std::time::Duration;

use url::Url;

pub use token::TokenSource;

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
    /// Attempts for idempotent calls (1 = no retry).
    pub attempts: u32,
}

impl GcpConfig {
    /// Production defaults for `project`: the public endpoint, tokens from the metadata server
    /// (`GCE_METADATA_HOST` honoured), 10 s per request, 4 attempts.
    ///
    /// # Errors
    /// [`SecretError::Token`] when `GCE_METADATA_HOST` is unusable.
    pub fn for_project(project: impl Into<String>) -> Result<Self, SecretError> {
        Ok(Self {
            project: project.into(),
            api_base: Url::parse(DEFAULT_API_BASE).expect("constant URL parses"),
            token: TokenSource::metadata_from_env()?,
            request_timeout: Duration::from_secs(10),
            attempts: 4,
        })
    }
}

/// A Secret Manager client for one project.
#[derive(Debug)]
pub struct GcpSecretManager {
    http: reqwest::Client,
    api_base: Url,
    project: String,
    tokens: TokenCache,
    attempts: u32,
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
        // reqwest is built without a crypto provider; the house rule is ring. Installing fails
        // harmlessly when the process already installed one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            .build()
            .map_err(|e| SecretError::Token {
                source_name: "http client".to_owned(),
                detail: e.to_string(),
            })?;
        let mut api_base = config.api_base;
        if !api_base.path().ends_with('/') {
            api_base.set_path(&format!("{}/", api_base.path()));
        }
        Ok(Self {
            http,
            api_base,
            project: config.project,
            tokens: TokenCache::new(config.token),
            attempts: config.attempts.max(1),
        })
    }

    /// The project this client reads.
    pub fn project(&self) -> &str {
        &self.project
    }
}
