//! What a read asks for ([`Consistency`]) and the opaque token a committed write hands back
//! ([`ConsistencyToken`]), which carries the primary's WAL position after the commit.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A WAL position (PostgreSQL `pg_lsn`), ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl fmt::Display for Lsn {
    /// PostgreSQL's `XXXXXXXX/XXXXXXXX` form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl From<tokio_postgres::types::PgLsn> for Lsn {
    fn from(lsn: tokio_postgres::types::PgLsn) -> Self {
        Lsn(u64::from(lsn))
    }
}

/// Proof that a write committed on the primary at or before a WAL position. Pass it to
/// [`Consistency::ReadYourWrites`] so a later read sees that write.
///
/// Its text form (`Display` / `FromStr`) is what crosses process boundaries, e.g. an HTTP
/// header; clients must treat it as opaque.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConsistencyToken {
    lsn: Lsn,
}

const TOKEN_PREFIX: &str = "w1.";

impl ConsistencyToken {
    /// A token for a WAL position.
    pub fn at(lsn: Lsn) -> Self {
        ConsistencyToken { lsn }
    }

    /// The WAL position a replica must have replayed.
    pub fn lsn(&self) -> Lsn {
        self.lsn
    }

    /// The later of two tokens (a session that wrote twice needs the second).
    #[must_use]
    pub fn max(self, other: ConsistencyToken) -> ConsistencyToken {
        if other.lsn > self.lsn { other } else { self }
    }
}

impl fmt::Display for ConsistencyToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{TOKEN_PREFIX}{:016x}", self.lsn.0)
    }
}

/// A token text that is not one this crate produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid consistency token `{0}`: expected the value returned by a write")]
pub struct InvalidToken(pub String);

impl FromStr for ConsistencyToken {
    type Err = InvalidToken;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let shown = || InvalidToken(text.chars().take(40).collect());
        let hex = text.strip_prefix(TOKEN_PREFIX).ok_or_else(shown)?;
        if hex.len() != 16 {
            return Err(shown());
        }
        let value = u64::from_str_radix(hex, 16).map_err(|_| shown())?;
        Ok(ConsistencyToken { lsn: Lsn(value) })
    }
}

/// How fresh the data of a read must be. The caller says it; nothing is guessed from SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// Read from the primary: the latest committed data.
    Strong,
    /// Read data at least as new as the write that produced the token: a replica that has
    /// replayed past it (after a bounded wait), else the primary.
    ReadYourWrites(ConsistencyToken),
    /// Read from a replica whose data is at most this old, else the primary.
    BoundedStaleness(Duration),
    /// Any replica that is up (lists, reports); the primary only when no replica is.
    Any,
}

impl Consistency {
    /// A short label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Consistency::Strong => "strong",
            Consistency::ReadYourWrites(_) => "read_your_writes",
            Consistency::BoundedStaleness(_) => "bounded_staleness",
            Consistency::Any => "any",
        }
    }

    /// `ReadYourWrites` when a token is present, else `fallback` (handy for optional headers).
    pub fn after(token: Option<ConsistencyToken>, fallback: Consistency) -> Consistency {
        token.map_or(fallback, Consistency::ReadYourWrites)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_text_round_trips_and_rejects_junk() {
        let token = ConsistencyToken::at(Lsn(0x16_B374_D848));
        let text = token.to_string();
        assert_eq!(text, "w1.00000016b374d848");
        assert_eq!(text.parse::<ConsistencyToken>().unwrap(), token);
        for bad in [
            "",
            "w1.",
            "w1.xyz",
            "16/B374D848",
            "w1.00000016b374d84",
            "w2.00000016b374d848",
        ] {
            assert!(bad.parse::<ConsistencyToken>().is_err(), "{bad}");
        }
    }

    #[test]
    fn lsn_prints_like_postgres() {
        assert_eq!(Lsn(0x16_B374_D848).to_string(), "16/B374D848");
        assert_eq!(Lsn(0).to_string(), "0/0");
    }

    #[test]
    fn later_token_wins() {
        let a = ConsistencyToken::at(Lsn(5));
        let b = ConsistencyToken::at(Lsn(9));
        assert_eq!(a.max(b), b);
        assert_eq!(b.max(a), b);
    }
}
