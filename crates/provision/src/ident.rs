//! PostgreSQL identifiers and literals: the names this tool creates, and safe quoting for every
//! name it prints or sends, including hostile ones read back from the catalog.
//!
//! [`Ident`] is a name we create: lower-case ASCII letters, digits and `_`, starting with a
//! letter or `_`, at most 63 bytes (NAMEDATALEN - 1; PostgreSQL would silently truncate a
//! longer one, so two long names could collide). Anything read from the catalog is a plain
//! `String` and goes through [`quote_ident`], which double-quotes whatever is not a plain
//! lower-case non-reserved word.

use std::fmt;

use crate::error::NameError;

/// The longest identifier PostgreSQL keeps (NAMEDATALEN - 1).
pub const MAX_IDENT_BYTES: usize = 63;

/// A name this tool creates (role, database, schema), already validated.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Ident(String);

impl Ident {
    /// Parses a name; `what` says what it names, for the error (`role`, `database`).
    ///
    /// # Errors
    /// [`NameError::TooLong`] past 63 bytes, [`NameError::Identifier`] for anything but
    /// `[a-z_][a-z0-9_]*`, [`NameError::Reserved`] for `pg_*` names and reserved words.
    pub fn parse(what: &'static str, raw: &str) -> Result<Self, NameError> {
        if raw.len() > MAX_IDENT_BYTES {
            return Err(NameError::TooLong {
                what,
                name: raw.to_owned(),
                bytes: raw.len(),
            });
        }
        let mut bytes = raw.bytes();
        let first_ok = bytes.next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_');
        if !first_ok || !bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            return Err(NameError::Identifier {
                what,
                name: raw.to_owned(),
            });
        }
        if raw.starts_with("pg_") || is_reserved(raw) || what == "role" && RESERVED_ROLE_NAMES.contains(&raw) {
            return Err(NameError::Reserved {
                what,
                name: raw.to_owned(),
            });
        }
        Ok(Self(raw.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Ident {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// PostgreSQL's reserved key words (those that cannot be a role, database or schema name
/// without quotes), from the SQL key words appendix of the PostgreSQL 15 documentation.
#[rustfmt::skip]
const RESERVED: &[&str] = &[
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization",
    "binary", "both", "case", "cast", "check", "collate", "collation", "column", "concurrently",
    "constraint", "create", "cross", "current_catalog", "current_date", "current_role",
    "current_schema", "current_time", "current_timestamp", "current_user", "default", "deferrable",
    "desc", "distinct", "do", "else", "end", "except", "false", "fetch", "for", "foreign", "freeze",
    "from", "full", "grant", "group", "having", "ilike", "in", "initially", "inner", "intersect",
    "into", "is", "isnull", "join", "lateral", "leading", "left", "like", "limit", "localtime",
    "localtimestamp", "natural", "not", "notnull", "null", "offset", "on", "only", "or", "order",
    "outer", "overlaps", "placing", "primary", "references", "returning", "right", "select",
    "session_user", "similar", "some", "symmetric", "system_user", "table", "tablesample", "then",
    "to", "trailing", "true", "union", "unique", "user", "using", "variadic", "verbose", "when",
    "where", "window", "with",
];

/// Names PostgreSQL refuses for roles although they are not key words.
const RESERVED_ROLE_NAMES: &[&str] = &["public", "none"];

fn is_reserved(word: &str) -> bool {
    RESERVED.contains(&word)
}

/// Quotes an identifier for SQL: bare when it is a plain lower-case non-reserved word, else in
/// double quotes with inner quotes doubled.
pub fn quote_ident(name: &str) -> String {
    let plain = name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !is_reserved(name);
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Quotes a string literal for SQL (standard_conforming_strings on, the default since 9.1).
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_accept_the_convention_and_reject_the_rest() {
        assert!(Ident::parse("role", "client_api_user").is_ok());
        assert!(Ident::parse("role", "_x1").is_ok());
        assert!(matches!(
            Ident::parse("role", "Client"),
            Err(NameError::Identifier { .. })
        ));
        assert!(matches!(Ident::parse("role", "a-b"), Err(NameError::Identifier { .. })));
        assert!(matches!(Ident::parse("role", "1a"), Err(NameError::Identifier { .. })));
        assert!(matches!(Ident::parse("role", ""), Err(NameError::Identifier { .. })));
        assert!(matches!(
            Ident::parse("role", "pg_monitor2"),
            Err(NameError::Reserved { .. })
        ));
        assert!(matches!(Ident::parse("role", "user"), Err(NameError::Reserved { .. })));
        assert!(matches!(
            Ident::parse("role", "public"),
            Err(NameError::Reserved { .. })
        ));
        assert!(Ident::parse("schema", "public").is_ok());
    }

    #[test]
    fn sixty_three_bytes_is_the_limit() {
        assert!(Ident::parse("database", &"a".repeat(63)).is_ok());
        let err = Ident::parse("database", &"a".repeat(64)).unwrap_err();
        assert!(err.to_string().contains("64 bytes"), "{err}");
    }

    #[test]
    fn quoting_is_minimal_and_safe() {
        assert_eq!(quote_ident("client_api_user"), "client_api_user");
        assert_eq!(quote_ident("user"), "\"user\"");
        assert_eq!(quote_ident("Evil\"; DROP ROLE x; --"), "\"Evil\"\"; DROP ROLE x; --\"");
        assert_eq!(quote_ident("a-b"), "\"a-b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
