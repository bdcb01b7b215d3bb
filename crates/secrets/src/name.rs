//! Names that address a secret: the secret itself, one of its versions, and version aliases.
//!
//! The rules are GCP Secret Manager's (the strictest backend we serve), so a name that works in
//! a local file store also works in production: secret ids are 1-255 characters of
//! `[A-Za-z0-9_-]`; aliases are 1-63 characters of `[a-z0-9_-]` starting with a letter and not
//! made only of digits (a number would be read as a version). See
//! <https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets>.

use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

use crate::error::NameError;

/// The id of a secret (`client-api-devtest-db`), valid in every backend.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct SecretName(String);

impl SecretName {
    /// Parses a secret id.
    ///
    /// # Errors
    /// [`NameError::Secret`] when the id is empty, longer than 255 characters, or holds a
    /// character outside `[A-Za-z0-9_-]`.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let ok = !raw.is_empty()
            && raw.len() <= 255
            && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(NameError::Secret(raw.to_owned()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for SecretName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The number of a secret version (Secret Manager numbers them 1, 2, 3, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct VersionId(NonZeroU64);

impl VersionId {
    /// The version with this number.
    ///
    /// # Errors
    /// [`NameError::Version`] for 0.
    pub fn new(n: u64) -> Result<Self, NameError> {
        NonZeroU64::new(n)
            .map(Self)
            .ok_or_else(|| NameError::Version(n.to_string()))
    }

    /// The number.
    pub fn get(self) -> u64 {
        self.0.get()
    }

    /// The version after this one.
    pub fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }
}

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for VersionId {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let n: u64 = s.parse().map_err(|_| NameError::Version(s.to_owned()))?;
        Self::new(n)
    }
}

/// A version alias (`current`): a movable name for one version of a secret.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct AliasName(String);

impl AliasName {
    /// Parses an alias.
    ///
    /// # Errors
    /// [`NameError::Alias`] when the alias is empty, longer than 63 characters, does not start
    /// with a lower-case letter, holds a character outside `[a-z0-9_-]`, or is `latest` (which
    /// Secret Manager reserves for the newest enabled version).
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let ok = !raw.is_empty()
            && raw.len() <= 63
            && raw.as_bytes()[0].is_ascii_lowercase()
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
            && raw != "latest";
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(NameError::Alias(raw.to_owned()))
        }
    }

    /// The alias as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AliasName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which version of a secret to read: the newest enabled one, a number, or an alias.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VersionRef {
    /// The newest enabled version (`latest`).
    Latest,
    /// One numbered version.
    Number(VersionId),
    /// The version an alias points to (`current`).
    Alias(AliasName),
}

impl VersionRef {
    /// Parses `latest`, a version number, or an alias name.
    ///
    /// # Errors
    /// [`NameError`] when the text is none of these.
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        if raw == "latest" {
            Ok(Self::Latest)
        } else if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
            VersionId::from_str(raw).map(Self::Number)
        } else {
            AliasName::parse(raw).map(Self::Alias)
        }
    }

    /// The alias `current`, which services read and `rotate` moves.
    pub fn current() -> Self {
        Self::Alias(AliasName("current".to_owned()))
    }
}

impl fmt::Display for VersionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Latest => f.write_str("latest"),
            Self::Number(n) => write!(f, "{n}"),
            Self::Alias(a) => f.write_str(a.as_str()),
        }
    }
}

impl FromStr for VersionRef {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_follow_secret_manager_rules() {
        assert!(SecretName::parse("client-api-devtest-db").is_ok());
        assert!(SecretName::parse("A_b-9").is_ok());
        assert!(SecretName::parse("").is_err());
        assert!(SecretName::parse("a/b").is_err());
        assert!(SecretName::parse("a.b").is_err());
        assert!(SecretName::parse(&"x".repeat(256)).is_err());
        assert!(SecretName::parse(&"x".repeat(255)).is_ok());
    }

    #[test]
    fn version_refs_parse_latest_numbers_and_aliases() {
        assert_eq!(VersionRef::parse("latest").unwrap(), VersionRef::Latest);
        assert_eq!(
            VersionRef::parse("7").unwrap(),
            VersionRef::Number(VersionId::new(7).unwrap())
        );
        assert_eq!(VersionRef::parse("current").unwrap(), VersionRef::current());
        assert!(VersionRef::parse("0").is_err());
        assert!(VersionRef::parse("Current").is_err());
        assert!(VersionRef::parse("").is_err());
        assert!(VersionRef::parse("9current").is_err());
    }

    #[test]
    fn latest_is_not_an_alias() {
        assert!(AliasName::parse("latest").is_err());
    }
}
