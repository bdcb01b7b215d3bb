//! An in-memory secret store with the full version and alias model, for tests and for code
//! that wants to stage secrets before handing them to a real store.

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures_util::future::{BoxFuture, FutureExt as _};
use secrecy::{ExposeSecret as _, SecretString};
use time::OffsetDateTime;

use crate::error::SecretError;
use crate::name::{AliasName, SecretName, VersionId, VersionRef};
use crate::store::{SecretStore, SecretVersion, VersionInfo, VersionState};

#[derive(Default)]
struct Entry {
    versions: Vec<(VersionInfo, SecretString)>,
    aliases: BTreeMap<AliasName, VersionId>,
}

/// Secrets kept in process memory; cloning the `Arc` that holds it shares the contents.
#[derive(Default)]
pub struct MemoryStore {
    secrets: Mutex<BTreeMap<SecretName, Entry>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn store(&self) -> String {
        self.describe()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<SecretName, Entry>> {
        // A panic while holding the lock cannot leave an entry half-written (every update is a
        // single push or insert), so a poisoned lock is still consistent.
        self.secrets.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn access_now(&self, name: &SecretName, version: &VersionRef) -> Result<SecretVersion, SecretError> {
        let secrets = self.lock();
        let entry = secrets.get(name).ok_or_else(|| self.not_found(name))?;
        let missing = || SecretError::VersionNotFound {
            store: self.store(),
            secret: name.to_string(),
            version: version.to_string(),
        };
        let wanted = match version {
            VersionRef::Latest => entry
                .versions
                .iter()
                .rev()
                .find(|(info, _)| info.state == VersionState::Enabled)
                .map(|(info, _)| info.version)
                .ok_or_else(missing)?,
            VersionRef::Number(n) => *n,
            VersionRef::Alias(a) => *entry.aliases.get(a).ok_or_else(missing)?,
        };
        let (info, value) = entry
            .versions
            .iter()
            .find(|(info, _)| info.version == wanted)
            .ok_or_else(missing)?;
        if info.state != VersionState::Enabled {
            return Err(SecretError::VersionNotEnabled {
                store: self.store(),
                secret: name.to_string(),
                version: wanted.to_string(),
                state: info.state.to_string(),
            });
        }
        Ok(SecretVersion {
            version: Some(wanted),
            value: SecretString::from(value.expose_secret().to_owned()),
        })
    }

    fn not_found(&self, name: &SecretName) -> SecretError {
        SecretError::SecretNotFound {
            store: self.store(),
            secret: name.to_string(),
        }
    }

    fn version_missing(&self, name: &SecretName, version: VersionId) -> SecretError {
        SecretError::VersionNotFound {
            store: self.store(),
            secret: name.to_string(),
            version: version.to_string(),
        }
    }
}

impl SecretStore for MemoryStore {
    fn describe(&self) -> String {
        "memory".to_owned()
    }

    fn access<'a>(
        &'a self,
        name: &'a SecretName,
        version: &'a VersionRef,
    ) -> BoxFuture<'a, Result<SecretVersion, SecretError>> {
        let result = self.access_now(name, version);
        async move { result }.boxed()
    }

    fn add_version<'a>(
        &'a self,
        name: &'a SecretName,
        value: &'a SecretString,
    ) -> BoxFuture<'a, Result<VersionId, SecretError>> {
        let mut secrets = self.lock();
        let entry = secrets.entry(name.clone()).or_default();
        let version = entry
            .versions
            .last()
            .map_or_else(|| VersionId::new(1).expect("1 is not 0"), |(i, _)| i.version.next());
        let info = VersionInfo {
            version,
            state: VersionState::Enabled,
            created: Some(OffsetDateTime::now_utc()),
        };
        entry
            .versions
            .push((info, SecretString::from(value.expose_secret().to_owned())));
        async move { Ok(version) }.boxed()
    }

    fn list_versions<'a>(&'a self, name: &'a SecretName) -> BoxFuture<'a, Result<Vec<VersionInfo>, SecretError>> {
        let secrets = self.lock();
        let result = secrets
            .get(name)
            .map(|e| e.versions.iter().map(|(i, _)| i.clone()).collect())
            .ok_or_else(|| self.not_found(name));
        async move { result }.boxed()
    }

    fn disable_version<'a>(
        &'a self,
        name: &'a SecretName,
        version: VersionId,
    ) -> BoxFuture<'a, Result<(), SecretError>> {
        let mut secrets = self.lock();
        let result = match secrets.get_mut(name) {
            None => Err(self.not_found(name)),
            Some(entry) => match entry.versions.iter_mut().find(|(i, _)| i.version == version) {
                None => Err(self.version_missing(name, version)),
                Some((info, _)) => {
                    if info.state == VersionState::Enabled {
                        info.state = VersionState::Disabled;
                    }
                    Ok(())
                }
            },
        };
        async move { result }.boxed()
    }

    fn destroy_version<'a>(
        &'a self,
        name: &'a SecretName,
        version: VersionId,
    ) -> BoxFuture<'a, Result<(), SecretError>> {
        let mut secrets = self.lock();
        let result = match secrets.get_mut(name) {
            None => Err(self.not_found(name)),
            Some(entry) => match entry.versions.iter_mut().find(|(i, _)| i.version == version) {
                None => Err(self.version_missing(name, version)),
                Some((info, value)) => {
                    info.state = VersionState::Destroyed;
                    *value = SecretString::from(String::new());
                    Ok(())
                }
            },
        };
        async move { result }.boxed()
    }

    fn aliases<'a>(
        &'a self,
        name: &'a SecretName,
    ) -> BoxFuture<'a, Result<BTreeMap<AliasName, VersionId>, SecretError>> {
        let secrets = self.lock();
        let result = secrets
            .get(name)
            .map(|e| e.aliases.clone())
            .ok_or_else(|| self.not_found(name));
        async move { result }.boxed()
    }

    fn set_alias<'a>(
        &'a self,
        name: &'a SecretName,
        alias: &'a AliasName,
        version: VersionId,
    ) -> BoxFuture<'a, Result<(), SecretError>> {
        let mut secrets = self.lock();
        let result = match secrets.get_mut(name) {
            None => Err(self.not_found(name)),
            Some(entry) if !entry.versions.iter().any(|(i, _)| i.version == version) => {
                Err(self.version_missing(name, version))
            }
            Some(entry) => {
                entry.aliases.insert(alias.clone(), version);
                Ok(())
            }
        };
        async move { result }.boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> SecretName {
        SecretName::parse(s).unwrap()
    }

    #[tokio::test]
    async fn latest_skips_disabled_versions_and_aliases_follow_set_alias() {
        let store = MemoryStore::new();
        let n = name("s");
        let v1 = store.add_version(&n, &SecretString::from("one")).await.unwrap();
        let v2 = store.add_version(&n, &SecretString::from("two")).await.unwrap();
        assert_eq!((v1.get(), v2.get()), (1, 2));
        let alias = AliasName::parse("current").unwrap();
        store.set_alias(&n, &alias, v1).await.unwrap();
        let got = store.access(&n, &VersionRef::current()).await.unwrap();
        assert_eq!(got.value.expose_secret(), "one");
        store.disable_version(&n, v2).await.unwrap();
        store.disable_version(&n, v2).await.unwrap();
        let got = store.access(&n, &VersionRef::Latest).await.unwrap();
        assert_eq!(got.version, Some(v1));
        let err = store.access(&n, &VersionRef::Number(v2)).await.unwrap_err();
        assert!(matches!(err, SecretError::VersionNotEnabled { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_destroyed_version_is_gone_for_good_and_keeps_its_number() {
        let store = MemoryStore::new();
        let n = name("s");
        let v1 = store.add_version(&n, &SecretString::from("one")).await.unwrap();
        store.destroy_version(&n, v1).await.unwrap();
        store.destroy_version(&n, v1).await.unwrap();
        let err = store.access(&n, &VersionRef::Number(v1)).await.unwrap_err();
        assert!(
            matches!(err, SecretError::VersionNotEnabled { ref state, .. } if state == "destroyed"),
            "{err}"
        );
        assert!(
            store.lock()[&n].versions[0].1.expose_secret().is_empty(),
            "the value is wiped"
        );
        let v2 = store.add_version(&n, &SecretString::from("two")).await.unwrap();
        assert_eq!(v2.get(), 2);
        let states: Vec<_> = store.list_versions(&n).await.unwrap().iter().map(|v| v.state).collect();
        assert_eq!(states, [VersionState::Destroyed, VersionState::Enabled]);
        let ghost = VersionId::new(9).unwrap();
        assert!(store.destroy_version(&n, ghost).await.unwrap_err().is_not_found());
    }

    #[tokio::test]
    async fn missing_secret_and_missing_alias_are_not_found() {
        let store = MemoryStore::new();
        let n = name("nope");
        assert!(store.access(&n, &VersionRef::Latest).await.unwrap_err().is_not_found());
        store.add_version(&n, &SecretString::from("x")).await.unwrap();
        assert!(
            store
                .access(&n, &VersionRef::current())
                .await
                .unwrap_err()
                .is_not_found()
        );
        let ghost = VersionId::new(9).unwrap();
        let alias = AliasName::parse("current").unwrap();
        assert!(store.set_alias(&n, &alias, ghost).await.unwrap_err().is_not_found());
    }
}
