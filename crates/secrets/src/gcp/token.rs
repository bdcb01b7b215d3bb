//! Google access tokens for the Secret Manager backend.
//!
//! On GKE (Workload Identity), Cloud Build and GCE, the metadata server hands out short-lived
//! OAuth2 tokens for the workload's service account:
//! `GET {base}/computeMetadata/v1/instance/service-accounts/default/token` with header
//! `Metadata-Flavor: Google` answers `{"access_token": "...", "expires_in": 3599, ...}`.
//! The base is `http://metadata.google.internal` unless `GCE_METADATA_HOST` names another host
//! (the variable Google's own client libraries honour), and tests inject a local fake.
//! Tokens are cached until a minute before they expire. Elsewhere (a laptop, a CI runner
//! outside GCP) a token can be supplied directly, e.g. from `gcloud auth print-access-token`.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret as _, SecretString};
use url::Url;

use crate::error::SecretError;

/// Refresh a token this long before the server says it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// Where access tokens come from.
#[derive(Clone)]
pub enum TokenSource {
    /// The GCE/GKE metadata server at this base URL.
    Metadata(Url),
    /// A fixed token (it expires after about an hour; for short jobs outside GCP).
    Static(SecretString),
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Metadata(url) => f.debug_tuple("Metadata").field(&url.as_str()).finish(),
            Self::Static(_) => f.write_str("Static([REDACTED])"),
        }
    }
}

impl TokenSource {
    /// The metadata server: `http://$GCE_METADATA_HOST` when set, else `http://metadata.google.internal`.
    ///
    /// # Errors
    /// [`SecretError::Token`] when `GCE_METADATA_HOST` is not a usable host.
    pub fn metadata_from_env() -> Result<Self, SecretError> {
        let host = std::env::var("GCE_METADATA_HOST").unwrap_or_else(|_| "metadata.google.internal".to_owned());
        Url::parse(&format!("http://{host}"))
            .map(Self::Metadata)
            .map_err(|e| SecretError::Token {
                source_name: format!("GCE_METADATA_HOST={host}"),
                detail: e.to_string(),
            })
    }

    fn describe(&self) -> String {
        match self {
            Self::Metadata(url) => format!("metadata server {url}"),
            Self::Static(_) => "the supplied access token".to_owned(),
        }
    }
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    expires_in: u64,
}

/// Caches the current token of a [`TokenSource`].
#[derive(Debug)]
pub(crate) struct TokenCache {
    source: TokenSource,
    cached: tokio::sync::Mutex<Option<(SecretString, Instant)>>,
}

impl TokenCache {
    pub(crate) fn new(source: TokenSource) -> Self {
        Self {
            source,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// Forgets the cached token (after the API answered 401).
    pub(crate) async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    /// A valid token, fetched from the metadata server when none is cached or it is about to expire.
    pub(crate) async fn token(&self, http: &reqwest::Client) -> Result<SecretString, SecretError> {
        let url = match &self.source {
            TokenSource::Static(token) => return Ok(token.clone()),
            TokenSource::Metadata(base) => base,
        };
        let mut cached = self.cached.lock().await;
        if let Some((token, valid_until)) = cached.as_ref()
            && Instant::now() < *valid_until
        {
            return Ok(token.clone());
        }
        let fail = |detail: String| SecretError::Token {
            source_name: self.source.describe(),
            detail,
        };
        let endpoint = url
            .join("computeMetadata/v1/instance/service-accounts/default/token")
            .map_err(|e| fail(e.to_string()))?;
        let response = http
            .get(endpoint)
            .header("Metadata-Flavor", "Google")
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(fail(format!("HTTP {status}")));
        }
        let body = response.bytes().await.map_err(|e| fail(e.to_string()))?;
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            fail(format!(
                "unexpected token response at line {} column {}",
                e.line(),
                e.column()
            ))
        })?;
        if parsed.access_token.expose_secret().is_empty() {
            return Err(fail("the token response holds an empty token".to_owned()));
        }
        let lifetime = Duration::from_secs(parsed.expires_in).saturating_sub(EXPIRY_MARGIN);
        *cached = Some((parsed.access_token.clone(), Instant::now() + lifetime));
        Ok(parsed.access_token)
    }
}
