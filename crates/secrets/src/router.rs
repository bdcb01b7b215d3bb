//! [`CachedCredential`] as db_router's `CredentialProvider` (feature `db-router`): the router
//! takes each new connection's credential from the cache, and after the server rejects a
//! password (SQLSTATE 28P01) asks once for a re-read of the secret.
//!
//! Build the source with [`CachedCredential::load`] so `current()` has a value from the start,
//! and keep it fresh with [`CachedCredential::spawn_refresher`] so pods move to a rotated
//! login during the grace period instead of waiting for the old login to be disabled.

use db_router::{CredentialError, CredentialProvider, Credentials, RefreshFuture};
use secrecy::SecretString;

use crate::cached::{CachedCredential, CurrentCredential};

fn credentials(c: &CurrentCredential) -> Credentials {
    Credentials {
        username: Some(c.credential.username.clone()),
        password: c.credential.password.clone(),
    }
}

impl CredentialProvider for CachedCredential {
    fn current(&self) -> Credentials {
        // Before the first read there is nothing to offer; an empty password fails
        // authentication, which makes the router call `refresh`.
        self.cached().map_or_else(
            || Credentials {
                username: None,
                password: SecretString::from(String::new()),
            },
            |c| credentials(&c),
        )
    }

    fn refresh(&self) -> RefreshFuture<'_> {
        Box::pin(async move {
            self.reload()
                .await
                .map(|r| credentials(&r.current))
                .map_err(|e| CredentialError(e.to_string()))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use secrecy::ExposeSecret as _;

    use super::*;
    use crate::{AliasName, DbCredential, MemoryStore, SecretName, SecretStore as _, VersionRef};

    #[tokio::test]
    async fn the_router_sees_the_current_login_and_a_refresh_picks_up_a_rotation() {
        let store = Arc::new(MemoryStore::new());
        let name = SecretName::parse("svc").unwrap();
        let alias = AliasName::parse("current").unwrap();
        let v1 = store
            .add_version(&name, &DbCredential::new("a", SecretString::from("p1")).to_json())
            .await
            .unwrap();
        store.set_alias(&name, &alias, v1).await.unwrap();
        let source = CachedCredential::load(store.clone(), name.clone(), VersionRef::current())
            .await
            .unwrap();
        let provider: &dyn CredentialProvider = &source;
        assert_eq!(provider.current().username.as_deref(), Some("a"));
        let v2 = store
            .add_version(&name, &DbCredential::new("b", SecretString::from("p2")).to_json())
            .await
            .unwrap();
        store.set_alias(&name, &alias, v2).await.unwrap();
        let fresh = provider.refresh().await.unwrap();
        assert_eq!(
            (fresh.username.as_deref(), fresh.password.expose_secret()),
            (Some("b"), "p2")
        );
        assert_eq!(provider.current().username.as_deref(), Some("b"));
    }

    #[tokio::test(start_paused = true)]
    async fn the_refresher_follows_the_alias() {
        let store = Arc::new(MemoryStore::new());
        let name = SecretName::parse("svc").unwrap();
        let alias = AliasName::parse("current").unwrap();
        let v1 = store
            .add_version(&name, &DbCredential::new("a", SecretString::from("p1")).to_json())
            .await
            .unwrap();
        store.set_alias(&name, &alias, v1).await.unwrap();
        let source = Arc::new(
            CachedCredential::load(store.clone(), name.clone(), VersionRef::current())
                .await
                .unwrap(),
        );
        let task = source.spawn_refresher(std::time::Duration::from_secs(30));
        let v2 = store
            .add_version(&name, &DbCredential::new("b", SecretString::from("p2")).to_json())
            .await
            .unwrap();
        store.set_alias(&name, &alias, v2).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_secs(31)).await;
        assert_eq!(
            CredentialProvider::current(source.as_ref()).username.as_deref(),
            Some("b")
        );
        drop(source);
        tokio::time::sleep(std::time::Duration::from_secs(31)).await;
        assert!(task.is_finished(), "the refresher stops with its source");
    }
}
