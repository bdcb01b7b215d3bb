//! The entry points that turn text into a [`ConnSpec`]: auto-detection of the syntax and one
//! function per syntax, each with a variant taking an injected environment.

use crate::env::{EnvSource, ProcessEnv};
use crate::error::ParseError;
use crate::modes::Syntax;
use crate::spec::ConnSpec;
use crate::{jdbc, libpq, npgsql};

/// Guesses the syntax of a connection string without parsing it fully.
///
/// `jdbc:postgresql:` is JDBC; `postgres://` / `postgresql://` is a libpq URI; a string whose
/// first keyword is a (lower-case, exact) libpq keyword and that has no `;` is libpq
/// keyword/value; a blank string is libpq keyword/value too (all defaults, as `psql` does);
/// anything else is Npgsql. `host=db` parses the same either way; `Host=db` and anything with
/// `;` are Npgsql.
pub fn detect(text: &str) -> Syntax {
    let trimmed = text.trim_start();
    if trimmed.starts_with("jdbc:postgresql:") {
        return Syntax::Jdbc;
    }
    if trimmed.starts_with("postgresql://") || trimmed.starts_with("postgres://") {
        return Syntax::LibpqUri;
    }
    if trimmed.trim_end().is_empty() {
        return Syntax::LibpqKeyword;
    }
    let first_key: String = trimmed
        .chars()
        .take_while(|c| *c != '=' && !c.is_whitespace())
        .collect();
    if !text.contains(';') && libpq::is_keyword(&first_key) {
        Syntax::LibpqKeyword
    } else {
        Syntax::Npgsql
    }
}

impl ConnSpec {
    /// Parses any supported syntax (see [`detect`]), with `PG*` defaults from the process
    /// environment.
    ///
    /// # Errors
    /// [`ParseError`] naming the key or position at fault.
    pub fn parse(text: &str) -> Result<ConnSpec, ParseError> {
        Self::parse_with_env(text, &ProcessEnv)
    }

    /// Like [`ConnSpec::parse`] with an injected environment.
    ///
    /// # Errors
    /// [`ParseError`] naming the key or position at fault.
    pub fn parse_with_env(text: &str, env: &dyn EnvSource) -> Result<ConnSpec, ParseError> {
        match detect(text) {
            Syntax::Jdbc => jdbc::parse(text.trim(), env),
            Syntax::LibpqUri => libpq::parse_uri(text.trim(), env),
            Syntax::LibpqKeyword => libpq::parse_keyword(text, env),
            Syntax::Npgsql | Syntax::Built => npgsql::parse(text, env),
        }
    }

    /// Parses an Npgsql `Key=Value;...` string (environment: the `PG*` variables Npgsql reads).
    ///
    /// # Errors
    /// [`ParseError`] naming the key or position at fault.
    pub fn parse_npgsql(text: &str) -> Result<ConnSpec, ParseError> {
        npgsql::parse(text, &ProcessEnv)
    }

    /// Like [`ConnSpec::parse_npgsql`] with an injected environment.
    ///
    /// # Errors
    /// [`ParseError`] naming the key or position at fault.
    pub fn parse_npgsql_with_env(text: &str, env: &dyn EnvSource) -> Result<ConnSpec, ParseError> {
        npgsql::parse(text, env)
    }

    /// Parses a libpq string, keyword/value or URI (told apart by the `postgres[ql]://` prefix),
    /// with `PG*` defaults from the process environment.
    ///
    /// # Errors
    /// [`ParseError`] naming the key or position at fault.
    pub fn parse_libpq(text: &str) -> Result<ConnSpec, ParseError> {
        Self::parse_libpq_with_env(text, &ProcessEnv)
    }

    /// Like [`ConnSpec::parse_libpq`] with an injected environment.
    ///
    /// # Errors
    /// [`ParseError`] naming the key or position at fault.
    pub fn parse_libpq_with_env(text: &str, env: &dyn EnvSource) -> Result<ConnSpec, ParseError> {
        let trimmed = text.trim_start();
        if trimmed.starts_with("postgresql://") || trimmed.starts_with("postgres://") {
            libpq::parse_uri(text.trim(), env)
        } else {
            libpq::parse_keyword(text, env)
        }
    }

    /// Parses a `jdbc:postgresql:` URL.
    ///
    /// # Errors
    /// [`ParseError`] naming the property or position at fault.
    pub fn parse_jdbc(text: &str) -> Result<ConnSpec, ParseError> {
        jdbc::parse(text.trim(), &ProcessEnv)
    }

    /// Like [`ConnSpec::parse_jdbc`] with an injected environment.
    ///
    /// # Errors
    /// [`ParseError`] naming the property or position at fault.
    pub fn parse_jdbc_with_env(text: &str, env: &dyn EnvSource) -> Result<ConnSpec, ParseError> {
        jdbc::parse(text.trim(), env)
    }
}

impl std::str::FromStr for ConnSpec {
    type Err = ParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ConnSpec::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection() {
        assert_eq!(detect("jdbc:postgresql://h/db"), Syntax::Jdbc);
        assert_eq!(detect("postgres://h"), Syntax::LibpqUri);
        assert_eq!(detect(" postgresql://h"), Syntax::LibpqUri);
        assert_eq!(detect("host=h port=1"), Syntax::LibpqKeyword);
        assert_eq!(detect("host=h"), Syntax::LibpqKeyword);
        assert_eq!(detect(""), Syntax::LibpqKeyword);
        assert_eq!(detect("Host=h"), Syntax::Npgsql);
        assert_eq!(detect("host=h;port=1"), Syntax::Npgsql);
        assert_eq!(detect("Server=h"), Syntax::Npgsql);
        assert_eq!(detect("SslMode=Require"), Syntax::Npgsql);
    }
}
