//! Keyset pagination cursors: the sort key of the last row of a page, bound to the query that produced it.
//!
//! A cursor is base64url(JSON `{"q": <query fingerprint>, "k": [<key values>]}`). The fingerprint (SHA-256 of
//! the endpoint, filters and sort, truncated) makes a cursor from one query invalid for another, so a client
//! that changes filters mid-way gets a clear 400 instead of a silently wrong page. Cursors are not secret and
//! need no signature: tampering can only move the caller within data it may read anyway.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{ApiError, FieldError, ProblemKind};

/// Longest cursor accepted (a page key is a few short values).
const MAX_LEN: usize = 1024;

#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    q: String,
    k: Vec<serde_json::Value>,
}

/// The fingerprint of a query: every part that changes which rows come in which order.
pub fn fingerprint(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex::encode(&hash.finalize()[..8])
}

/// Encodes the key of the last row of a page.
pub fn encode(query: &str, key: Vec<serde_json::Value>) -> String {
    let wire = Wire {
        q: query.to_owned(),
        k: key,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wire).unwrap_or_default())
}

fn invalid(detail: &str) -> ApiError {
    ApiError::new(ProblemKind::InvalidCursor, detail).with_error(FieldError::parameter("cursor", detail))
}

/// Decodes a cursor issued for `query` with `arity` key values.
///
/// # Errors
/// 400 invalid-cursor when it is malformed or belongs to another query.
pub fn decode(text: &str, query: &str, arity: usize) -> Result<Vec<serde_json::Value>, ApiError> {
    if text.len() > MAX_LEN {
        return Err(invalid("the cursor is too long to be one this service issued"));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| invalid("the cursor is not one this service issued (not base64url)"))?;
    let wire: Wire =
        serde_json::from_slice(&bytes).map_err(|_| invalid("the cursor is not one this service issued"))?;
    if wire.q != query {
        return Err(invalid(
            "the cursor belongs to a different query (filters or sort changed); start from the first page",
        ));
    }
    if wire.k.len() != arity {
        return Err(invalid("the cursor is not one this service issued (wrong key)"));
    }
    Ok(wire.k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_query() {
        let q = fingerprint(&["clients", "status=active", "sort=name"]);
        let c = encode(&q, vec![serde_json::json!("Acme"), serde_json::json!("0190-...")]);
        assert_eq!(decode(&c, &q, 2).unwrap().len(), 2);
        let other = fingerprint(&["clients", "status=exited", "sort=name"]);
        assert_eq!(decode(&c, &other, 2).unwrap_err().kind, ProblemKind::InvalidCursor);
        assert_eq!(decode(&c, &q, 3).unwrap_err().kind, ProblemKind::InvalidCursor);
        for bad in ["", "!!!", "e30", &"A".repeat(2000)] {
            assert_eq!(
                decode(bad, &q, 2).unwrap_err().kind,
                ProblemKind::InvalidCursor,
                "{bad}"
            );
        }
    }
}
