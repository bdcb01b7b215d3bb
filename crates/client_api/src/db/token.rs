//! Consistency tokens: the primary's WAL position after a committed write, handed to clients in the
//! `Pcc-Consistency-Token` response header. A read that sends it back is served by a replica only once that
//! replica has replayed past the position, so it sees the write (read-your-writes).
//!
//! The text form `v1.<16 hex digits>` is opaque to clients; the version prefix lets the format change later.

use std::fmt;
use std::str::FromStr;

/// A WAL position (`pg_lsn`) that a read must have seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConsistencyToken(pub u64);

/// The header that carries tokens both ways.
pub const HEADER: &str = "pcc-consistency-token";

/// A token that this service did not issue.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a consistency token issued by this service (expected v1.<16 hex digits>)")]
pub struct TokenError(pub String);

impl ConsistencyToken {
    /// Parses PostgreSQL's `pg_lsn` text form `XXXXXXXX/XXXXXXXX`.
    pub fn from_pg_lsn(text: &str) -> Option<Self> {
        let (high, low) = text.split_once('/')?;
        let high = u64::from_str_radix(high, 16).ok()?;
        let low = u64::from_str_radix(low, 16).ok()?;
        if high > u64::from(u32::MAX) || low > u64::from(u32::MAX) {
            return None;
        }
        Some(Self((high << 32) | low))
    }

    /// PostgreSQL's `pg_lsn` text form, for comparisons in SQL.
    pub fn to_pg_lsn(self) -> String {
        format!("{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl fmt::Display for ConsistencyToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v1.{:016x}", self.0)
    }
}

impl FromStr for ConsistencyToken {
    type Err = TokenError;

    fn from_str(text: &str) -> Result<Self, TokenError> {
        let hex = text
            .strip_prefix("v1.")
            .filter(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()));
        hex.and_then(|h| u64::from_str_radix(h, 16).ok())
            .map(Self)
            .ok_or_else(|| TokenError(text.chars().take(64).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_through_text_and_pg_lsn() {
        let token = ConsistencyToken::from_pg_lsn("16/B374D848").unwrap();
        assert_eq!(token.0, 0x16_B374_D848);
        assert_eq!(token.to_pg_lsn(), "16/B374D848");
        assert_eq!(token.to_string(), "v1.00000016b374d848");
        assert_eq!("v1.00000016b374d848".parse::<ConsistencyToken>(), Ok(token));
    }

    #[test]
    fn foreign_text_is_refused() {
        for bad in [
            "",
            "v1.",
            "v2.00000016b374d848",
            "v1.00000016b374d84",
            "v1.00000016b374d84g",
            "16/B374D848",
        ] {
            assert!(bad.parse::<ConsistencyToken>().is_err(), "{bad}");
        }
        assert_eq!(ConsistencyToken::from_pg_lsn("1FFFFFFFF/0"), None);
    }
}
