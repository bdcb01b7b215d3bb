//! `MigrationVersion` and `Target`: Flyway's version numbers and the `target` setting.
//!
//! Flyway's rules (`MigrationVersion` in flyway-core): `_` is read as `.`, the text is split at
//! every dot, each part is an arbitrary-size non-negative integer, and trailing zero parts are
//! ignored when comparing, so `1.0 == 1`, `001 == 1` and `1.2.10 > 1.2.9`. The text shown and
//! stored in `flyway_schema_history.version` keeps the digits as written (`V001` -> `001`).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// A parse failure of a version number or a target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// The text is not a dot-separated list of decimal numbers.
    #[error("version may only contain 0..9 and . (dot); invalid version: {0:?}")]
    Invalid(String),
}

/// A migration version such as `1`, `1.2.10` or `001`.
#[derive(Clone)]
pub struct MigrationVersion {
    /// The text as written, with `_` turned into `.` (what Flyway stores).
    text: String,
    /// Each part without leading zeros (`"0"` for zero), trailing zero parts removed except the first.
    parts: Vec<String>,
}

impl MigrationVersion {
    /// Parses a version the way Flyway does (`1_2` and `1.2` are the same version).
    ///
    /// # Errors
    /// [`VersionError::Invalid`] unless the text is ASCII digits separated by single dots.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let normalized = text.replace('_', ".");
        let mut parts = Vec::new();
        for part in normalized.split('.') {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(VersionError::Invalid(text.to_owned()));
            }
            let trimmed = part.trim_start_matches('0');
            parts.push(if trimmed.is_empty() {
                "0".to_owned()
            } else {
                trimmed.to_owned()
            });
        }
        while parts.len() > 1 && parts.last().is_some_and(|p| p == "0") {
            parts.pop();
        }
        Ok(Self {
            text: normalized,
            parts,
        })
    }

    /// The version as Flyway stores and prints it (`1.1` for `V1_1`, `001` for `V001`).
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn compare_part(a: &str, b: &str) -> Ordering {
    // Parts carry no leading zeros, so a longer part is a larger number.
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl Ord for MigrationVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let longest = self.parts.len().max(other.parts.len());
        for i in 0..longest {
            let a = self.parts.get(i).map_or("0", String::as_str);
            let b = other.parts.get(i).map_or("0", String::as_str);
            match compare_part(a, b) {
                Ordering::Equal => {}
                unequal => return unequal,
            }
        }
        Ordering::Equal
    }
}

impl PartialOrd for MigrationVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for MigrationVersion {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for MigrationVersion {}

impl Hash for MigrationVersion {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Consistent with `Eq`: equal versions have equal normalized parts.
        self.parts.hash(state);
    }
}

impl fmt::Display for MigrationVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for MigrationVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MigrationVersion({})", self.text)
    }
}

impl std::str::FromStr for MigrationVersion {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for MigrationVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

/// Flyway's `target`: how far `migrate` goes and what `info` calls "Above Target".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Target {
    /// Every pending migration (the default).
    #[default]
    Latest,
    /// Nothing beyond the version already applied.
    Current,
    /// Only the next pending versioned migration.
    Next,
    /// Up to and including this version.
    Version {
        /// The highest version to apply.
        version: MigrationVersion,
        /// Fail when no migration has this version (Flyway's default; a trailing `?` turns it off).
        fail_on_missing: bool,
    },
}

impl Target {
    /// Parses `latest`, `current`, `next`, `1.2` or `1.2?` (case-insensitive keywords).
    ///
    /// # Errors
    /// [`VersionError::Invalid`] for anything else.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        let trimmed = text.trim();
        match trimmed.to_ascii_lowercase().as_str() {
            "latest" => Ok(Self::Latest),
            "current" => Ok(Self::Current),
            "next" => Ok(Self::Next),
            _ => match trimmed.strip_suffix('?') {
                Some(v) => Ok(Self::Version {
                    version: MigrationVersion::parse(v)?,
                    fail_on_missing: false,
                }),
                None => Ok(Self::Version {
                    version: MigrationVersion::parse(trimmed)?,
                    fail_on_missing: true,
                }),
            },
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Latest => f.write_str("latest"),
            Self::Current => f.write_str("current"),
            Self::Next => f.write_str("next"),
            Self::Version {
                version,
                fail_on_missing: true,
            } => write!(f, "{version}"),
            Self::Version {
                version,
                fail_on_missing: false,
            } => write!(f, "{version}?"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(s: &str) -> MigrationVersion {
        MigrationVersion::parse(s).unwrap()
    }

    #[test]
    fn underscores_are_dots_in_the_stored_text() {
        assert_eq!(v("1_1").as_str(), "1.1");
        assert_eq!(v("2_0_3").to_string(), "2.0.3");
    }

    #[test]
    fn leading_zeros_are_kept_in_the_text_but_not_in_comparisons() {
        assert_eq!(v("001").as_str(), "001");
        assert_eq!(v("001"), v("1"));
    }

    #[test]
    fn trailing_zero_parts_do_not_count() {
        assert_eq!(v("1.0"), v("1"));
        assert_eq!(v("1.0.0.0"), v("1"));
        assert_eq!(v("0"), v("0.0"));
        assert_ne!(v("1.0.1"), v("1"));
    }

    #[test]
    fn parts_compare_as_numbers_not_as_text() {
        assert!(v("1.2.10") > v("1.2.9"));
        assert!(v("10") > v("9"));
        assert!(v("1.10") > v("1.9.9"));
    }

    #[test]
    fn a_longer_version_with_a_nonzero_tail_is_greater() {
        assert!(v("1.0.1") > v("1"));
        assert!(v("1") < v("1.0.0.1"));
    }

    #[test]
    fn huge_parts_compare_correctly() {
        assert!(v("123456789012345678901234567890") > v("123456789012345678901234567889"));
        assert!(v("99999999999999999999999") < v("100000000000000000000000"));
    }

    #[test]
    fn equal_versions_hash_equally() {
        use std::collections::HashSet;
        let set: HashSet<_> = [v("1"), v("1.0"), v("001"), v("1_0")].into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn invalid_versions_are_rejected_with_the_text() {
        for bad in ["", "1.", ".1", "1..2", "a", "1.a", "-1", "+1", "1 2", "1__2", "١"] {
            let err = MigrationVersion::parse(bad).unwrap_err();
            assert_eq!(err, VersionError::Invalid(bad.to_owned()), "{bad:?}");
        }
    }

    #[test]
    fn target_keywords_and_versions_parse() {
        assert_eq!(Target::parse("LATEST").unwrap(), Target::Latest);
        assert_eq!(Target::parse("current").unwrap(), Target::Current);
        assert_eq!(Target::parse("Next").unwrap(), Target::Next);
        assert_eq!(
            Target::parse("2.1").unwrap(),
            Target::Version {
                version: v("2.1"),
                fail_on_missing: true
            }
        );
        assert_eq!(
            Target::parse("2.1?").unwrap(),
            Target::Version {
                version: v("2.1"),
                fail_on_missing: false
            }
        );
        assert!(Target::parse("soon").is_err());
    }

    proptest! {
        #[test]
        fn ordering_matches_numeric_tuples(a in proptest::collection::vec(0u64..1000, 1..5),
                                           b in proptest::collection::vec(0u64..1000, 1..5)) {
            let text = |p: &[u64]| p.iter().map(u64::to_string).collect::<Vec<_>>().join(".");
            let pad = |p: &[u64]| { let mut p = p.to_vec(); p.resize(5, 0); p };
            prop_assert_eq!(v(&text(&a)).cmp(&v(&text(&b))), pad(&a).cmp(&pad(&b)));
        }

        #[test]
        fn leading_zeros_and_trailing_zero_parts_never_change_equality(p in proptest::collection::vec(0u64..1000, 1..5),
                                                                        zeros in 0usize..3, tail in 0usize..3) {
            let plain = p.iter().map(u64::to_string).collect::<Vec<_>>().join(".");
            let padded = p.iter().map(|n| format!("{}{n}", "0".repeat(zeros))).collect::<Vec<_>>().join("_")
                + &".0".repeat(tail);
            prop_assert_eq!(v(&plain), v(&padded));
        }

        #[test]
        fn ordering_is_a_total_order(a in "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}", b in "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}",
                                     c in "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}") {
            let (a, b, c) = (v(&a), v(&b), v(&c));
            prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
            if a <= b && b <= c { prop_assert!(a <= c); }
        }
    }
}
