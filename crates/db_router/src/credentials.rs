//! Where connection credentials come from, and the "re-read once on 28P01" rule.
//!
//! Passwords rotate (every 30-90 days in the seed plan). A service keeps its open connections
//! (authentication happens only at connect), but a new connection made after the rotation is
//! rejected with 28P01 until the service reads the new secret. [`CredentialProvider::refresh`]
//! re-reads it; the router calls it once per rejection wave (concurrent rejections share one
//! refresh) and at most once per `min_refresh_interval`, then retries the connect once.
//! The secrets crate implements the provider for real secret stores; [`StaticCredentials`]
//! serves fixed ones (tests, local development, a password already in the connection string).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::SecretString;

/// A user name and password.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// User name; `None` keeps the connection string's.
    pub username: Option<String>,
    /// Password (never printed).
    pub password: SecretString,
}

/// Why credentials could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct CredentialError(pub String);

/// The future returned by [`CredentialProvider::refresh`].
pub type RefreshFuture<'a> = Pin<Box<dyn Future<Output = Result<Credentials, CredentialError>> + Send + 'a>>;

/// A source of credentials that can be re-read after a rotation.
pub trait CredentialProvider: Send + Sync + 'static {
    /// The credentials to use now (cheap; called for every new connection).
    fn current(&self) -> Credentials;

    /// Re-reads the credentials from their store (a secret manager, a mounted file) and
    /// returns them; `current()` returns them afterwards.
    fn refresh(&self) -> RefreshFuture<'_>;
}

/// Fixed credentials.
#[derive(Debug, Clone)]
pub struct StaticCredentials {
    credentials: Credentials,
}

impl StaticCredentials {
    /// Fixed user name (or the spec's, with `None`) and password.
    pub fn new(username: Option<String>, password: SecretString) -> Self {
        StaticCredentials {
            credentials: Credentials { username, password },
        }
    }

    /// The credentials written in a connection string, if it has a password.
    pub fn from_spec(spec: &conninfo::ConnSpec) -> Option<Self> {
        spec.password
            .clone()
            .map(|password| Self::new(spec.username.clone(), password))
    }
}

impl CredentialProvider for StaticCredentials {
    fn current(&self) -> Credentials {
        self.credentials.clone()
    }

    fn refresh(&self) -> RefreshFuture<'_> {
        Box::pin(std::future::ready(Ok(self.credentials.clone())))
    }
}

/// The router's view of a provider: numbered generations and coalesced refreshes.
pub(crate) struct CredentialCache {
    provider: Arc<dyn CredentialProvider>,
    generation: Mutex<u64>,
    refresh: tokio::sync::Mutex<Option<Instant>>,
    min_interval: Duration,
}

impl CredentialCache {
    pub(crate) fn new(provider: Arc<dyn CredentialProvider>, min_interval: Duration) -> Self {
        CredentialCache {
            provider,
            generation: Mutex::new(0),
            refresh: tokio::sync::Mutex::new(None),
            min_interval,
        }
    }

    fn generation(&self) -> u64 {
        *self
            .generation
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current credentials and their generation.
    pub(crate) fn current(&self) -> (Credentials, u64) {
        let generation = self.generation();
        (self.provider.current(), generation)
    }

    /// Called after credentials of `rejected` generation were refused. Re-reads them unless
    /// another caller already did (or one did within `min_interval`); returns what to retry with
    /// and whether a re-read happened.
    pub(crate) async fn after_rejection(&self, rejected: u64) -> Result<(Credentials, u64, bool), CredentialError> {
        let mut last = self.refresh.lock().await;
        let generation = self.generation();
        if generation > rejected {
            return Ok((self.provider.current(), generation, false));
        }
        if last.is_some_and(|at| at.elapsed() < self.min_interval) {
            return Ok((self.provider.current(), generation, false));
        }
        let fresh = self.provider.refresh().await;
        *last = Some(Instant::now());
        let fresh = fresh?;
        let mut guard = self
            .generation
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard += 1;
        Ok((fresh, *guard, true))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use secrecy::ExposeSecret;

    use super::*;

    /// A provider whose store holds a new password after each refresh.
    struct Rotating {
        refreshes: AtomicUsize,
    }

    impl CredentialProvider for Rotating {
        fn current(&self) -> Credentials {
            let n = self.refreshes.load(Ordering::SeqCst);
            Credentials {
                username: None,
                password: SecretString::from(format!("pw{n}")),
            }
        }

        fn refresh(&self) -> RefreshFuture<'_> {
            self.refreshes.fetch_add(1, Ordering::SeqCst);
            Box::pin(std::future::ready(Ok(self.current())))
        }
    }

    #[tokio::test]
    async fn concurrent_rejections_share_one_refresh() {
        let provider = Arc::new(Rotating {
            refreshes: AtomicUsize::new(0),
        });
        let cache = Arc::new(CredentialCache::new(provider.clone(), Duration::ZERO));
        let (_, generation) = cache.current();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.after_rejection(generation).await.unwrap() })
            })
            .collect();
        let mut reread = 0;
        for task in tasks {
            let (credentials, generation, did) = task.await.unwrap();
            assert_eq!(credentials.password.expose_secret(), "pw1");
            assert_eq!(generation, 1);
            reread += usize::from(did);
        }
        assert_eq!(reread, 1);
        assert_eq!(provider.refreshes.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn refreshes_are_rate_limited() {
        let provider = Arc::new(Rotating {
            refreshes: AtomicUsize::new(0),
        });
        let cache = CredentialCache::new(provider.clone(), Duration::from_secs(3600));
        let (_, _, did) = cache.after_rejection(0).await.unwrap();
        assert!(did);
        // The fresh password is rejected too: no second re-read within the interval.
        let (_, _, did) = cache.after_rejection(1).await.unwrap();
        assert!(!did);
        assert_eq!(provider.refreshes.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn static_credentials_come_from_the_spec() {
        let spec = conninfo::ConnSpec::for_host("h", 1)
            .with_user("u")
            .with_password(SecretString::from("p"));
        let provider = StaticCredentials::from_spec(&spec).unwrap();
        assert_eq!(provider.current().username.as_deref(), Some("u"));
        assert!(StaticCredentials::from_spec(&conninfo::ConnSpec::for_host("h", 1)).is_none());
        assert!(format!("{provider:?}").contains("REDACTED"));
    }
}
