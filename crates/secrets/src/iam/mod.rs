//! IAM database authentication (AlloyDB's `ALLOYDB_IAM_USER`): the login name is the service
//! account's database user and the password is a Google OAuth 2.0 access token, so a service
//! has no database password to store or rotate.
//!
//! [`IamCredentials::start`] fetches the first token before it returns (within the start-up
//! retry budget, [`RetryPolicy::TOKEN`]: a new pod's metadata server answers after a few
//! seconds), then a background task fetches the next one at half the token's lifetime, or five
//! minutes before it expires when that comes first, so [`IamCredentials::token`] (what the
//! connection layer's synchronous `current()` returns for every new connection) is always a
//! valid token and never waits. A failed background fetch keeps the current token (it is still
//! valid for a while) and tries again; [`IamCredentials::refresh`] fetches one now (after the
//! server refused a login, SQLSTATE 28P01).
//!
//! AlloyDB checks the token only when a connection logs in: an open connection stays open after
//! its token expires, so pools keep their connections and only new ones need a fresh token.
//!
//! Scope: `https://www.googleapis.com/auth/alloydb.login` ([`ALLOYDB_LOGIN_SCOPE`]), which AlloyDB
//! documents for IAM logins and which lets a leaked token do nothing but log in. The metadata
//! server and service-account keys are asked for exactly that scope; gcloud's user credentials
//! carry the scopes of their login (AlloyDB also accepts a cloud-platform token, as
//! `gcloud auth print-access-token` prints).
//!
//! The token is a `SecretString`: `Debug` shows the user and where tokens come from, never a
//! token, and no log line or error carries one.

mod user;

#[cfg(feature = "db-router")]
mod router;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use secrecy::SecretString;

pub(crate) use user::metadata_email;
pub use user::{SERVICE_ACCOUNT_SUFFIX, iam_user_for};

use crate::error::SecretError;
use crate::gcp::credentials::{ALLOYDB_LOGIN_SCOPE, TokenSource};
use crate::gcp::retry::RetryPolicy;
use crate::gcp::token::TokenCache;

/// Refresh at the latest this long before a token expires.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);
/// The shortest pause between background fetches (a token source answering tokens that expire
/// at once must not make the refresher spin).
const MIN_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause before retrying a failed background fetch.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(60);

/// How to log in with IAM.
#[derive(Debug, Clone)]
pub struct IamConfig {
    /// The database user; `None` derives it from the token source's service account
    /// ([`iam_user_for`] of the metadata server's or key file's e-mail address).
    pub user: Option<String>,
    /// Where access tokens come from (the metadata server in a pod, Application Default
    /// Credentials elsewhere).
    pub token: TokenSource,
    /// Timeout of each HTTP request.
    pub request_timeout: Duration,
    /// Retries of the first fetch (and of the e-mail lookup) at start.
    pub start_retry: RetryPolicy,
    /// Retries of each later fetch (background refresh, and `refresh` after a refused login).
    pub refresh_retry: RetryPolicy,
}

impl IamConfig {
    /// Tokens from `token`, the user from `user` or from the token source; 10 s per request,
    /// [`RetryPolicy::TOKEN`] at start and for each refresh.
    pub fn new(user: Option<String>, token: TokenSource) -> Self {
        Self {
            user,
            token,
            request_timeout: Duration::from_secs(10),
            start_retry: RetryPolicy::TOKEN,
            refresh_retry: RetryPolicy::TOKEN,
        }
    }
}

/// One token and when it was fetched.
struct Held {
    token: SecretString,
    fetched: Instant,
    /// `None` for a token without an end (a fixed token).
    lifetime: Option<Duration>,
    /// Counts fetches (for logs and tests; never the token).
    number: u64,
}

/// An IAM database login: the user and a token kept fresh in the background.
pub struct IamCredentials {
    user: String,
    tokens: TokenCache,
    http: reqwest::Client,
    refresh_retry: RetryPolicy,
    held: RwLock<Held>,
    fetch: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for IamCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IamCredentials")
            .field("user", &self.user)
            .field("tokens", &self.tokens.source().describe())
            .field("token", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// When to fetch the next token after one that lives `lifetime`: at half its lifetime, or
/// [`REFRESH_BEFORE_EXPIRY`] before it expires when that is earlier (and still in the future),
/// never sooner than [`MIN_PAUSE`].
pub fn refresh_delay(lifetime: Duration) -> Duration {
    let half = lifetime / 2;
    let early = lifetime.saturating_sub(REFRESH_BEFORE_EXPIRY);
    let delay = if early.is_zero() { half } else { half.min(early) };
    delay.max(MIN_PAUSE)
}

impl IamCredentials {
    /// Resolves the user, fetches the first token and starts the background refresh (on the
    /// current tokio runtime; it ends when the last `Arc` is dropped).
    ///
    /// # Errors
    /// [`SecretError::IamUser`] when no user is given and the token source names none;
    /// [`SecretError::Token`] when no token comes within the start-up budget (the message says
    /// what Workload Identity needs).
    pub async fn start(config: IamConfig) -> Result<Arc<Self>, SecretError> {
        let http = crate::gcp::http_client(config.request_timeout)?;
        let user = match config.user {
            Some(user) if !user.trim().is_empty() => user.trim().to_owned(),
            _ => user::user_of(&config.token, &http, config.start_retry).await?,
        };
        let tokens = TokenCache::with_scope(config.token, config.start_retry, ALLOYDB_LOGIN_SCOPE);
        let first = tokens.fetch_with_retries(&http).await?;
        let held = Held {
            token: first.token,
            fetched: Instant::now(),
            lifetime: lifetime_of(first.expires_in),
            number: 1,
        };
        tracing::info!(
            db.user = %user,
            gcp.credentials = %tokens.source().describe(),
            token.valid_for_s = held.lifetime.map(|l| l.as_secs()),
            "IAM database login: obtained an access token"
        );
        let this = Arc::new(Self {
            user,
            tokens,
            http,
            refresh_retry: config.refresh_retry,
            held: RwLock::new(held),
            fetch: tokio::sync::Mutex::new(()),
        });
        this.spawn_refresher();
        Ok(this)
    }

    /// The database user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Where tokens come from (for messages; never a token).
    pub fn describe(&self) -> String {
        self.tokens.source().describe()
    }

    /// The current token, without I/O.
    pub fn token(&self) -> SecretString {
        self.read().token.clone()
    }

    /// How many tokens have been fetched so far (1 after start).
    pub fn fetches(&self) -> u64 {
        self.read().number
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Held> {
        self.held.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Fetches a new token now (single flight: callers that arrive during a fetch share it)
    /// and returns it.
    ///
    /// # Errors
    /// [`SecretError::Token`] when none comes within the refresh budget; the current token
    /// stays.
    pub async fn refresh(&self) -> Result<SecretString, SecretError> {
        let before = self.fetches();
        let _guard = self.fetch.lock().await;
        if self.fetches() != before {
            return Ok(self.token());
        }
        let fresh = self.tokens.fetch_within(&self.http, self.refresh_retry).await?;
        let mut held = self.held.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        *held = Held {
            token: fresh.token.clone(),
            fetched: Instant::now(),
            lifetime: lifetime_of(fresh.expires_in),
            number: held.number + 1,
        };
        tracing::debug!(
            db.user = %self.user,
            token.number = held.number,
            token.valid_for_s = held.lifetime.map(|l| l.as_secs()),
            "IAM database login: refreshed the access token"
        );
        Ok(fresh.token)
    }

    /// How long until the background task should fetch again; `None` for a token that never
    /// expires.
    fn next_refresh_in(&self) -> Option<Duration> {
        let held = self.read();
        let lifetime = held.lifetime?;
        Some(refresh_delay(lifetime).saturating_sub(held.fetched.elapsed()))
    }

    /// Time left before the current token expires (`None`: never).
    fn remaining(&self) -> Option<Duration> {
        let held = self.read();
        held.lifetime.map(|l| l.saturating_sub(held.fetched.elapsed()))
    }

    fn spawn_refresher(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let wait = {
                    let Some(this) = weak.upgrade() else { break };
                    match this.next_refresh_in() {
                        Some(wait) => wait,
                        None => break,
                    }
                };
                tokio::time::sleep(wait).await;
                let Some(this) = weak.upgrade() else { break };
                if let Err(err) = this.refresh().await {
                    let left = this.remaining().unwrap_or(Duration::ZERO);
                    let pause = (left / 4).clamp(MIN_PAUSE, MAX_RETRY_PAUSE);
                    tracing::warn!(
                        db.user = %this.user,
                        error = %err,
                        token.valid_for_s = left.as_secs(),
                        retry_in_s = pause.as_secs(),
                        "IAM database login: could not refresh the access token; keeping the current one"
                    );
                    drop(this);
                    tokio::time::sleep(pause).await;
                }
            }
        });
    }
}

/// A token's lifetime as the server announced it (`Duration::MAX` from a fixed token: no end).
fn lifetime_of(expires_in: Duration) -> Option<Duration> {
    (expires_in != Duration::MAX).then_some(expires_in)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_token_is_fetched_at_half_life_or_five_minutes_before_expiry() {
        // Google's usual hour: half-life comes first.
        assert_eq!(
            refresh_delay(Duration::from_secs(3599)),
            Duration::from_millis(1_799_500)
        );
        // A token shorter than ten minutes: five minutes before expiry comes first.
        assert_eq!(refresh_delay(Duration::from_secs(400)), Duration::from_secs(100));
        // Shorter than five minutes: half-life, never a spin.
        assert_eq!(refresh_delay(Duration::from_secs(60)), Duration::from_secs(30));
        assert_eq!(refresh_delay(Duration::ZERO), MIN_PAUSE);
    }
}
