//! Flyway's `ignoreMigrationPatterns` (`*:future`, `repeatable:missing`, ...): which validation
//! findings to ignore, by migration type and state.

use std::fmt;

/// Which migrations a pattern covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternType {
    /// `*`.
    Any,
    /// `versioned`.
    Versioned,
    /// `repeatable`.
    Repeatable,
}

/// Which finding a pattern ignores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternState {
    /// `*`.
    Any,
    /// `missing`: applied, file gone.
    Missing,
    /// `pending`: file not applied yet.
    Pending,
    /// `ignored`: file older than the latest applied version.
    Ignored,
    /// `future`: applied by a newer release.
    Future,
}

/// An invalid pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid ignoreMigrationPatterns entry {0:?}: expected <type>:<state> with type *, repeatable or versioned \
     and state *, missing, pending, ignored or future"
)]
pub struct PatternError(pub String);

/// A list of `type:state` patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnorePatterns(Vec<(PatternType, PatternState)>);

impl Default for IgnorePatterns {
    /// Flyway's default: `*:future`.
    fn default() -> Self {
        Self(vec![(PatternType::Any, PatternState::Future)])
    }
}

impl IgnorePatterns {
    /// No patterns at all.
    pub fn none() -> Self {
        Self(Vec::new())
    }

    /// Parses a comma-separated list (`*:future,repeatable:missing`); blank means none.
    ///
    /// # Errors
    /// [`PatternError`] naming the first bad entry.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let mut out = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || PatternError(entry.to_owned());
            let (kind, state) = entry.split_once(':').ok_or_else(bad)?;
            let kind = match kind.trim().to_ascii_lowercase().as_str() {
                "*" => PatternType::Any,
                "versioned" => PatternType::Versioned,
                "repeatable" => PatternType::Repeatable,
                _ => return Err(bad()),
            };
            let state = match state.trim().to_ascii_lowercase().as_str() {
                "*" => PatternState::Any,
                "missing" => PatternState::Missing,
                "pending" => PatternState::Pending,
                "ignored" => PatternState::Ignored,
                "future" => PatternState::Future,
                _ => return Err(bad()),
            };
            out.push((kind, state));
        }
        Ok(Self(out))
    }

    /// Adds a pattern (migrate adds `*:pending` to its validation, as Flyway does).
    #[must_use]
    pub fn with(mut self, kind: PatternType, state: PatternState) -> Self {
        self.0.push((kind, state));
        self
    }

    /// Whether a finding of `state` on a versioned (or repeatable) migration is ignored.
    pub fn ignores(&self, versioned: bool, state: PatternState) -> bool {
        self.0.iter().any(|(k, s)| {
            let kind_ok = match k {
                PatternType::Any => true,
                PatternType::Versioned => versioned,
                PatternType::Repeatable => !versioned,
            };
            kind_ok && (*s == PatternState::Any || *s == state)
        })
    }
}

impl fmt::Display for IgnorePatterns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(k, s)| {
                let k = match k {
                    PatternType::Any => "*",
                    PatternType::Versioned => "versioned",
                    PatternType::Repeatable => "repeatable",
                };
                let s = match s {
                    PatternState::Any => "*",
                    PatternState::Missing => "missing",
                    PatternState::Pending => "pending",
                    PatternState::Ignored => "ignored",
                    PatternState::Future => "future",
                };
                format!("{k}:{s}")
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_ignores_future_migrations_only() {
        let p = IgnorePatterns::default();
        assert!(p.ignores(true, PatternState::Future) && p.ignores(false, PatternState::Future));
        assert!(!p.ignores(true, PatternState::Missing));
        assert_eq!(p.to_string(), "*:future");
    }

    #[test]
    fn patterns_are_scoped_by_type() {
        let p = IgnorePatterns::parse("repeatable:missing, versioned:*").unwrap();
        assert!(p.ignores(false, PatternState::Missing));
        assert!(!p.ignores(false, PatternState::Pending));
        assert!(p.ignores(true, PatternState::Pending));
    }

    #[test]
    fn bad_patterns_are_named() {
        assert_eq!(
            IgnorePatterns::parse("*:future,oops").unwrap_err(),
            PatternError("oops".into())
        );
        assert!(IgnorePatterns::parse("*:later").is_err());
        assert!(IgnorePatterns::parse("sometimes:missing").is_err());
        assert_eq!(IgnorePatterns::parse("  ").unwrap(), IgnorePatterns::none());
    }
}
