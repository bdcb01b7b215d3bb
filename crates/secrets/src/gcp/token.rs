//! The access token cache of the Secret Manager backend: one token per client, fetched from
//! its [`TokenSource`] for one OAuth scope when missing or within a minute of expiry,
//! single-flight (concurrent callers wait for one fetch), and retried within a time budget.
//! The IAM database credential (`crate::iam`) uses the same fetch with retries for its
//! `alloydb.login` tokens and keeps them itself.
//!
//! The budget is what survives a pod's start under Workload Identity: the GKE metadata server
//! does not answer for the first seconds of a pod, so the first fetch retries transient
//! failures (connection refused, timeouts, 429, 5xx) with jittered backoff for up to 30 s by
//! default ([`RetryPolicy::TOKEN`]). When it gives up, the error names the URL it tried and the
//! two settings Workload Identity needs; a refused credential (400/401/403/404) fails at once.

use std::time::{Duration, Instant};

use secrecy::SecretString;

use super::credentials::{self, CLOUD_PLATFORM_SCOPE, TokenSource};
use super::retry::{self, Backoff, GiveUp, RetryPolicy};
use crate::error::SecretError;

/// Refresh a token this long before the server says it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// What to check when the metadata server gives no token.
pub(crate) const WORKLOAD_IDENTITY_HINT: &str = "on GKE with Workload Identity, the pod's Kubernetes service account needs the annotation iam.gke.io/gcp-service-account=<GSA email>, that Google service account needs roles/iam.workloadIdentityUser for member serviceAccount:<project>.svc.id.goog[<namespace>/<KSA name>], and the node pool must run the GKE metadata server; outside GCP set GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default login`";

/// Caches the current token of a [`TokenSource`].
#[derive(Debug)]
pub(crate) struct TokenCache {
    source: TokenSource,
    policy: RetryPolicy,
    scope: &'static str,
    cached: tokio::sync::Mutex<Option<(SecretString, Instant)>>,
}

impl TokenCache {
    /// Tokens of the cloud-platform scope (Secret Manager).
    pub(crate) fn new(source: TokenSource, policy: RetryPolicy) -> Self {
        Self::with_scope(source, policy, CLOUD_PLATFORM_SCOPE)
    }

    /// Tokens of `scope`.
    pub(crate) fn with_scope(source: TokenSource, policy: RetryPolicy, scope: &'static str) -> Self {
        Self {
            source,
            policy,
            scope,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    pub(crate) fn source(&self) -> &TokenSource {
        &self.source
    }

    /// Forgets the cached token (after the API answered 401).
    pub(crate) async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    /// A valid token: the cached one, or a fresh one from the source.
    pub(crate) async fn token(&self, http: &reqwest::Client) -> Result<SecretString, SecretError> {
        if let TokenSource::Static(token) = &self.source {
            return Ok(token.clone());
        }
        let mut cached = self.cached.lock().await;
        if let Some((token, valid_until)) = cached.as_ref()
            && Instant::now() < *valid_until
        {
            return Ok(token.clone());
        }
        let fresh = self.fetch_with_retries(http).await?;
        let lifetime = fresh.expires_in.saturating_sub(EXPIRY_MARGIN);
        *cached = Some((fresh.token.clone(), Instant::now() + lifetime));
        Ok(fresh.token)
    }

    /// A new token from the source, whatever is cached, retrying transient failures within
    /// the policy; a refusal fails at once.
    pub(crate) async fn fetch_with_retries(&self, http: &reqwest::Client) -> Result<credentials::Fresh, SecretError> {
        self.fetch_within(http, self.policy).await
    }

    /// As [`Self::fetch_with_retries`], within `policy`.
    pub(crate) async fn fetch_within(
        &self,
        http: &reqwest::Client,
        policy: RetryPolicy,
    ) -> Result<credentials::Fresh, SecretError> {
        let mut backoff = Backoff::start(policy);
        loop {
            backoff.attempted();
            let failed = match credentials::fetch(&self.source, http, self.scope).await {
                Ok(fresh) => {
                    if backoff.attempts() > 1 {
                        tracing::info!(
                            gcp.credentials = %self.source.describe(),
                            attempts = backoff.attempts(),
                            "obtained an access token after retrying"
                        );
                    }
                    return Ok(fresh);
                }
                Err(failed) => failed,
            };
            if failed.transient {
                match backoff.wait(failed.retry_after).await {
                    Ok(()) => {
                        tracing::debug!(
                            gcp.credentials = %self.source.describe(),
                            attempt = backoff.attempts(),
                            error = %failed.detail,
                            "retrying the access token request"
                        );
                        continue;
                    }
                    Err(give_up) => return Err(self.gave_up(&backoff, &failed, give_up, policy)),
                }
            }
            return Err(self.refused(&failed));
        }
    }

    fn hint(&self) -> &'static str {
        match &self.source {
            TokenSource::Metadata(_) => WORKLOAD_IDENTITY_HINT,
            TokenSource::ServiceAccount(_) => {
                "the key may have been deleted or disabled, or the service account removed: create a new key (gcloud iam service-accounts keys create) and point GOOGLE_APPLICATION_CREDENTIALS at it"
            }
            TokenSource::AuthorizedUser(_) => {
                "the login may have expired or been revoked: run `gcloud auth application-default login` again"
            }
            TokenSource::Static(_) => "ask for a new token",
        }
    }

    /// Transient failures for longer than the budget allows.
    fn gave_up(&self, backoff: &Backoff, last: &credentials::Failed, why: GiveUp, policy: RetryPolicy) -> SecretError {
        let limit = match why {
            GiveUp::Attempts => format!("after {} attempts", backoff.attempts()),
            GiveUp::Budget { wanted } => format!(
                "after {} attempts in {} (the next wait, {}, would pass the {} budget)",
                backoff.attempts(),
                retry::seconds(backoff.elapsed()),
                retry::seconds(wanted),
                retry::seconds(policy.budget)
            ),
        };
        SecretError::Token {
            source_name: self.source.describe(),
            detail: format!("no token {limit}; last failure: {}; {}", last.detail, self.hint()),
        }
    }

    /// A final refusal.
    fn refused(&self, failed: &credentials::Failed) -> SecretError {
        SecretError::Token {
            source_name: self.source.describe(),
            detail: format!("{}; {}", failed.detail, self.hint()),
        }
    }
}
