//! A cached database credential read from a secret store: what a connection pool asks for
//! each new connection, and re-reads after the server rejects a password (SQLSTATE 28P01).
//!
//! - `current()` answers from the cache; with a maximum age, it re-reads once the value is
//!   older, so pods pick up a rotated credential during the grace period instead of waiting for
//!   the old user to be disabled. If that re-read fails, the cached value is still answered
//!   (the old password usually still works) and a warning is logged.
//! - `reload_after(generation)` is the 28P01 path: it re-reads unless another caller already
//!   did since the failing connection took its credential, so twenty connections failing at
//!   once cause one read, not twenty. It reports whether the credential changed; if it did
//!   not, retrying the login is pointless and the caller should fail.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::credential::DbCredential;
use crate::error::SecretError;
use crate::name::{SecretName, VersionId, VersionRef};
use crate::store::SecretStore;

/// One loaded credential and where it came from.
#[derive(Debug, Clone)]
pub struct CurrentCredential {
    /// The credential.
    pub credential: Arc<DbCredential>,
    /// Increments each time a re-read returns a different credential; pass it back to
    /// [`CachedCredential::reload_after`].
    pub generation: u64,
    /// The secret version it was read from, when the backend numbers versions.
    pub version: Option<VersionId>,
    loaded_at: Instant,
}

/// The result of a reload.
#[derive(Debug, Clone)]
pub struct Reloaded {
    /// The credential now cached.
    pub current: CurrentCredential,
    /// True when it differs from the one the caller had.
    pub changed: bool,
}

/// A credential cached from one secret version reference (usually the `current` alias).
pub struct CachedCredential {
    store: Arc<dyn SecretStore>,
    name: SecretName,
    version: VersionRef,
    max_age: Option<Duration>,
    cache: RwLock<Option<CurrentCredential>>,
    fetch: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for CachedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedCredential")
            .field("store", &self.store.describe())
            .field("name", &self.name)
            .field("version", &self.version)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl CachedCredential {
    /// A source reading `version` of secret `name` from `store`; nothing is read until first use.
    pub fn new(store: Arc<dyn SecretStore>, name: SecretName, version: VersionRef) -> Self {
        Self {
            store,
            name,
            version,
            max_age: None,
            cache: RwLock::new(None),
            fetch: tokio::sync::Mutex::new(()),
        }
    }

    /// Re-read the secret when the cached value is older than `max_age`.
    #[must_use]
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// A source that has read the secret once already, so [`CachedCredential::cached`] (and
    /// the connection layer's synchronous `current()`) always has a value.
    ///
    /// # Errors
    /// The store's error or a malformed credential.
    pub async fn load(store: Arc<dyn SecretStore>, name: SecretName, version: VersionRef) -> Result<Self, SecretError> {
        let source = Self::new(store, name, version);
        source.current().await?;
        Ok(source)
    }

    /// The cached credential without any I/O (`None` before the first read).
    pub fn cached(&self) -> Option<CurrentCredential> {
        self.cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Re-reads the secret every `every` in a background task, so a rotated credential is
    /// picked up during the grace period even by callers that only use [`Self::cached`]. The
    /// task ends when the last `Arc` is dropped; a failed read keeps the cached value.
    pub fn spawn_refresher(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(source) = weak.upgrade() else { break };
                if let Err(err) = source.reload().await {
                    tracing::warn!(secret.name = %source.name, error = %err, "could not refresh the database credential; keeping the cached one");
                }
            }
        })
    }

    /// The secret this source reads.
    pub fn secret(&self) -> (&SecretName, &VersionRef) {
        (&self.name, &self.version)
    }

    fn fresh(&self, c: &CurrentCredential) -> bool {
        self.max_age.is_none_or(|age| c.loaded_at.elapsed() < age)
    }

    /// The cached credential, read from the store on first use or when older than the maximum age.
    ///
    /// # Errors
    /// The store's error or a malformed credential, only when nothing is cached yet.
    pub async fn current(&self) -> Result<CurrentCredential, SecretError> {
        if let Some(c) = self.cached().filter(|c| self.fresh(c)) {
            return Ok(c);
        }
        let _guard = self.fetch.lock().await;
        match self.cached() {
            Some(c) if self.fresh(&c) => Ok(c),
            Some(stale) => match self.fetch_and_store().await {
                Ok(r) => Ok(r.current),
                Err(err) => {
                    tracing::warn!(
                        secret.name = %self.name,
                        error = %err,
                        "could not refresh the database credential; keeping the cached one"
                    );
                    Ok(stale)
                }
            },
            None => self.fetch_and_store().await.map(|r| r.current),
        }
    }

    /// Re-reads the secret unless it was re-read since `generation` (single flight).
    ///
    /// # Errors
    /// The store's error or a malformed credential.
    pub async fn reload_after(&self, generation: u64) -> Result<Reloaded, SecretError> {
        let _guard = self.fetch.lock().await;
        if let Some(c) = self.cached().filter(|c| c.generation != generation) {
            return Ok(Reloaded {
                current: c,
                changed: true,
            });
        }
        self.fetch_and_store().await
    }

    /// Re-reads the secret now.
    ///
    /// # Errors
    /// The store's error or a malformed credential.
    pub async fn reload(&self) -> Result<Reloaded, SecretError> {
        let _guard = self.fetch.lock().await;
        self.fetch_and_store().await
    }

    /// Reads the secret and replaces the cache; the caller holds the fetch lock.
    async fn fetch_and_store(&self) -> Result<Reloaded, SecretError> {
        let read = self.store.access(&self.name, &self.version).await?;
        let credential = DbCredential::from_json(&read.value).map_err(|e| SecretError::Credential {
            secret: self.name.to_string(),
            version: read.version.map_or_else(|| self.version.to_string(), |v| v.to_string()),
            detail: e.to_string(),
        })?;
        let mut cache = self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (generation, changed) = match cache.as_ref() {
            Some(old) if *old.credential == credential => (old.generation, false),
            Some(old) => (old.generation + 1, true),
            None => (0, true),
        };
        if changed && generation > 0 {
            tracing::info!(
                secret.name = %self.name,
                secret.version = ?read.version,
                db.user = %credential.username,
                "database credential changed"
            );
        }
        let current = CurrentCredential {
            credential: Arc::new(credential),
            generation,
            version: read.version,
            loaded_at: Instant::now(),
        };
        *cache = Some(current.clone());
        Ok(Reloaded { current, changed })
    }
}

#[cfg(test)]
mod tests {
    use secrecy::{ExposeSecret as _, SecretString};

    use super::*;
    use crate::memory::MemoryStore;
    use crate::name::AliasName;

    async fn setup() -> (Arc<MemoryStore>, SecretName, AliasName) {
        let store = Arc::new(MemoryStore::new());
        let name = SecretName::parse("svc").unwrap();
        let alias = AliasName::parse("current").unwrap();
        let v = store
            .add_version(&name, &DbCredential::new("a", SecretString::from("pa")).to_json())
            .await
            .unwrap();
        store.set_alias(&name, &alias, v).await.unwrap();
        (store, name, alias)
    }

    #[tokio::test]
    async fn reload_after_reads_once_for_many_failed_logins() {
        let (store, name, alias) = setup().await;
        let source = CachedCredential::new(store.clone(), name.clone(), VersionRef::current());
        let first = source.current().await.unwrap();
        assert_eq!(first.credential.username, "a");
        let v2 = store
            .add_version(&name, &DbCredential::new("b", SecretString::from("pb")).to_json())
            .await
            .unwrap();
        // Not visible until the alias moves, and the cache does not re-read by itself.
        store.set_alias(&name, &alias, v2).await.unwrap();
        assert_eq!(source.current().await.unwrap().credential.username, "a");
        let r1 = source.reload_after(first.generation).await.unwrap();
        let r2 = source.reload_after(first.generation).await.unwrap();
        assert!(r1.changed && r2.changed);
        assert_eq!(r1.current.generation, r2.current.generation);
        assert_eq!(r2.current.credential.username, "b");
        assert_eq!(r2.current.credential.password.expose_secret(), "pb");
        // A reload that finds the same value says so: retrying the login would not help.
        let r3 = source.reload_after(r2.current.generation).await.unwrap();
        assert!(!r3.changed);
    }

    #[tokio::test]
    async fn max_age_refreshes_and_keeps_the_old_value_when_the_store_fails() {
        let (store, name, alias) = setup().await;
        let source =
            CachedCredential::new(store.clone(), name.clone(), VersionRef::current()).with_max_age(Duration::ZERO);
        assert_eq!(source.current().await.unwrap().credential.username, "a");
        let v2 = store
            .add_version(&name, &DbCredential::new("b", SecretString::from("pb")).to_json())
            .await
            .unwrap();
        store.set_alias(&name, &alias, v2).await.unwrap();
        assert_eq!(source.current().await.unwrap().credential.username, "b");
        store.disable_version(&name, v2).await.unwrap();
        assert_eq!(source.current().await.unwrap().credential.username, "b");
        assert!(source.reload().await.is_err());
    }

    #[tokio::test]
    async fn a_malformed_value_is_an_error_naming_the_secret() {
        let store = Arc::new(MemoryStore::new());
        let name = SecretName::parse("bad").unwrap();
        store.add_version(&name, &SecretString::from("not json")).await.unwrap();
        let source = CachedCredential::new(store, name, VersionRef::Latest);
        let err = source.current().await.unwrap_err().to_string();
        assert!(err.contains("bad") && err.contains("version 1"), "{err}");
        assert!(!err.contains("not json"), "{err}");
    }
}
