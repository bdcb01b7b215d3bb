//! Secrets from environment variables: the simplest way to hand a credential to a CI job.
//!
//! Secret `client-api-devtest-db` with prefix `PCC_SECRET_` is read from
//! `PCC_SECRET_CLIENT_API_DEVTEST_DB` (upper-cased, `-` becomes `_`). An environment variable
//! has one value and no history, so `latest` and every alias answer that value, numbered
//! versions do not exist, and writes are refused.

use std::collections::BTreeMap;

use futures_util::future::{BoxFuture, FutureExt as _};
use secrecy::SecretString;

use crate::error::SecretError;
use crate::name::{AliasName, SecretName, VersionId, VersionRef};
use crate::store::{SecretStore, SecretVersion, VersionInfo};

const READ_ONLY_HINT: &str = "environment variables are read-only here; use a file or Secret Manager store to rotate";

/// Reads secrets from environment variables named `<prefix><SECRET_NAME>`.
#[derive(Debug, Clone)]
pub struct EnvStore {
    prefix: String,
}

impl EnvStore {
    /// A store reading variables that start with `prefix` (`PCC_SECRET_`).
    pub fn new(prefix: impl Into<String>) -> Self {
        Self { prefix: prefix.into() }
    }

    /// The variable that holds `name`.
    pub fn variable(&self, name: &SecretName) -> String {
        let tail: String = name
            .as_str()
            .chars()
            .map(|c| if c == '-' { '_' } else { c.to_ascii_uppercase() })
            .collect();
        format!("{}{tail}", self.prefix)
    }

    fn read(&self, name: &SecretName, version: &VersionRef) -> Result<SecretVersion, SecretError> {
        if let VersionRef::Number(n) = version {
            return Err(SecretError::VersionNotFound {
                store: self.describe(),
                secret: name.to_string(),
                version: n.to_string(),
            });
        }
        let var = self.variable(name);
        match std::env::var(&var) {
            Ok(value) => Ok(SecretVersion {
                version: None,
                value: SecretString::from(value),
            }),
            Err(std::env::VarError::NotPresent) => Err(SecretError::SecretNotFound {
                store: self.describe(),
                secret: format!("{name} (variable {var})"),
            }),
            Err(std::env::VarError::NotUnicode(_)) => Err(SecretError::Malformed {
                store: self.describe(),
                what: format!("variable {var}"),
                detail: "the value is not valid UTF-8".to_owned(),
            }),
        }
    }

    fn read_only<T: Send + 'static>(&self, operation: &'static str) -> BoxFuture<'_, Result<T, SecretError>> {
        let err = SecretError::Unsupported {
            store: self.describe(),
            operation,
            hint: READ_ONLY_HINT,
        };
        async move { Err(err) }.boxed()
    }
}

impl SecretStore for EnvStore {
    fn describe(&self) -> String {
        format!("env:{}*", self.prefix)
    }

    fn access<'a>(
        &'a self,
        name: &'a SecretName,
        version: &'a VersionRef,
    ) -> BoxFuture<'a, Result<SecretVersion, SecretError>> {
        let result = self.read(name, version);
        async move { result }.boxed()
    }

    fn add_version<'a>(
        &'a self,
        _name: &'a SecretName,
        _value: &'a SecretString,
    ) -> BoxFuture<'a, Result<VersionId, SecretError>> {
        self.read_only("adding a version")
    }

    fn list_versions<'a>(&'a self, _name: &'a SecretName) -> BoxFuture<'a, Result<Vec<VersionInfo>, SecretError>> {
        self.read_only("listing versions")
    }

    fn disable_version<'a>(
        &'a self,
        _name: &'a SecretName,
        _version: VersionId,
    ) -> BoxFuture<'a, Result<(), SecretError>> {
        self.read_only("disabling a version")
    }

    fn destroy_version<'a>(
        &'a self,
        _name: &'a SecretName,
        _version: VersionId,
    ) -> BoxFuture<'a, Result<(), SecretError>> {
        self.read_only("destroying a version")
    }

    fn aliases<'a>(
        &'a self,
        _name: &'a SecretName,
    ) -> BoxFuture<'a, Result<BTreeMap<AliasName, VersionId>, SecretError>> {
        async move { Ok(BTreeMap::new()) }.boxed()
    }

    fn set_alias<'a>(
        &'a self,
        _name: &'a SecretName,
        _alias: &'a AliasName,
        _version: VersionId,
    ) -> BoxFuture<'a, Result<(), SecretError>> {
        self.read_only("moving an alias")
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    #[test]
    fn variable_names_are_upper_case_with_underscores() {
        let store = EnvStore::new("PCC_SECRET_");
        let name = SecretName::parse("client-api-devtest-db").unwrap();
        assert_eq!(store.variable(&name), "PCC_SECRET_CLIENT_API_DEVTEST_DB");
    }

    #[tokio::test]
    async fn reads_the_variable_for_latest_and_aliases_and_refuses_writes() {
        // `set_var` is unsafe in edition 2024 (and unsafe code is denied here), so the test
        // reads a variable every process has: PATH, through an empty prefix.
        let store = EnvStore::new("");
        let path = SecretName::parse("PATH").unwrap();
        let got = store.access(&path, &VersionRef::current()).await.unwrap();
        assert_eq!(got.value.expose_secret(), std::env::var("PATH").unwrap());
        assert_eq!(got.version, None);
        let latest = store.access(&path, &VersionRef::Latest).await.unwrap();
        assert_eq!(latest.value.expose_secret(), got.value.expose_secret());
        let n = VersionId::new(1).unwrap();
        assert!(
            store
                .access(&path, &VersionRef::Number(n))
                .await
                .unwrap_err()
                .is_not_found()
        );
        let err = store.add_version(&path, &SecretString::from("x")).await.unwrap_err();
        assert!(matches!(err, SecretError::Unsupported { .. }), "{err}");
    }

    #[tokio::test]
    async fn a_missing_variable_is_not_found_and_named() {
        let store = EnvStore::new("PCC_TEST_SURELY_UNSET_");
        let name = SecretName::parse("db").unwrap();
        let err = store.access(&name, &VersionRef::Latest).await.unwrap_err();
        assert!(err.is_not_found());
        assert!(err.to_string().contains("PCC_TEST_SURELY_UNSET_DB"), "{err}");
    }
}
