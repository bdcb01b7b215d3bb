//! Keyset paging, once for every list that can outgrow a page (clients, contacts, children, descendants,
//! moves, change history, industry codes, risk reviews due): the `limit` parameter, the `cursor`, and the page
//! response with `next_cursor` and `Link: <...>; rel="next"` (RFC 8288).
//!
//! A list fetches one row more than the page ([`Paging::fetch`]); if it comes back, the page is cut and the
//! sort key of its last row becomes the next cursor. The list's SQL continues after the key it gets from
//! [`Paging::after`] with a row-value comparison on its index (`(sort key, id) > ($k, $id)`), so page N costs
//! what page 1 costs.
//!
//! A cursor is base64url(JSON `{"q": <query fingerprint>, "k": [<key values>]}`). The fingerprint (SHA-256 of
//! the endpoint, filters and sort, truncated) makes a cursor from one query invalid for another, so a client
//! that changes filters mid-way gets a clear 400 instead of a silently wrong page. Cursors are not secret and
//! need no signature: tampering can only move the caller within data it may read anyway.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::format;
use crate::error::{ApiError, FieldError, ProblemKind};
use crate::http::respond::{JsonResponse, Page};

/// Longest cursor accepted (a page key is a few short values).
const MAX_CURSOR_LEN: usize = 1024;

/// The page sizes a list allows.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Without `limit`.
    pub default: u32,
    /// The largest `limit` (the smallest is 1).
    pub max: u32,
}

/// One request's paging: its page size and where the previous page ended.
#[derive(Debug)]
pub struct Paging {
    query: String,
    limit: usize,
    after: Option<Key>,
}

/// The sort key of the last row of the previous page, as the cursor carried it.
#[derive(Debug)]
pub struct Key(Vec<Value>);

#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    q: String,
    k: Vec<Value>,
}

impl Paging {
    /// Reads `limit` within `limits` and `cursor`, which must have been issued for the query identified by
    /// `query` (every part that changes which rows come in which order) with `arity` key values.
    ///
    /// # Errors
    /// 422 naming `limit` when it is out of range; 400 invalid-cursor when the cursor is malformed or belongs
    /// to another query.
    pub fn new(
        limits: Limits,
        limit: Option<u32>,
        cursor: Option<&str>,
        query: &[&str],
        arity: usize,
    ) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(limits.default);
        if !(1..=limits.max).contains(&limit) {
            return Err(ApiError::invalid_parameter(
                "limit",
                format!("must be between 1 and {}", limits.max),
            ));
        }
        let query = fingerprint(query);
        let after = cursor.map(|text| decode(text, &query, arity)).transpose()?;
        Ok(Self {
            query,
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            after,
        })
    }

    /// Where the previous page ended; `None` on the first page.
    pub fn after(&self) -> Option<&Key> {
        self.after.as_ref()
    }

    /// How many rows to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch(&self) -> i64 {
        i64::try_from(self.limit).unwrap_or(i64::MAX).saturating_add(1)
    }

    /// Cuts the fetched `rows` to the page; when a row was left over, the next cursor is the `key` of the
    /// page's last row.
    pub fn page<T>(&self, mut rows: Vec<T>, key: impl FnOnce(&T) -> Vec<Value>) -> Page<T> {
        let next_cursor = if rows.len() > self.limit {
            rows.truncate(self.limit);
            rows.last().map(|last| encode(&self.query, key(last)))
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }

    /// [`Paging::page`] as the response ([`response`]).
    ///
    /// # Errors
    /// Serialization failure (a bug).
    pub fn respond<T: Serialize>(
        &self,
        uri: &http::Uri,
        rows: Vec<T>,
        key: impl FnOnce(&T) -> Vec<Value>,
    ) -> Result<JsonResponse, ApiError> {
        response(uri, &self.page(rows, key))
    }
}

/// A page response: the body plus `Link: <next>; rel="next"` built from the request's own path and query with
/// `cursor` replaced.
///
/// # Errors
/// Serialization failure (a bug).
pub fn response<T: Serialize>(uri: &http::Uri, page: &Page<T>) -> Result<JsonResponse, ApiError> {
    // About a kilobyte per item (a client is 0.9 KB): one allocation for the body instead of a doubling series.
    let mut response = JsonResponse::ok_sized(page, 256 + page.items.len() * 1024)?;
    if let Some(cursor) = &page.next_cursor {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
            if key != "cursor" {
                query.append_pair(&key, &value);
            }
        }
        query.append_pair("cursor", cursor);
        response = response.link(&format!("<{}?{}>; rel=\"next\"", uri.path(), query.finish()));
    }
    Ok(response)
}

impl Key {
    /// The text at `at`.
    ///
    /// # Errors
    /// 400 invalid-cursor when it is not text.
    pub fn text(&self, at: usize) -> Result<&str, ApiError> {
        self.0
            .get(at)
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("the cursor is not one this service issued (wrong key)"))
    }

    /// The id at `at`.
    ///
    /// # Errors
    /// 400 invalid-cursor when it is not a UUID.
    pub fn uuid(&self, at: usize) -> Result<Uuid, ApiError> {
        Uuid::try_parse(self.text(at)?).map_err(|_| invalid("the cursor is not one this service issued (wrong key)"))
    }

    /// The whole number at `at`.
    ///
    /// # Errors
    /// 400 invalid-cursor when it is not one.
    pub fn integer(&self, at: usize) -> Result<i64, ApiError> {
        self.0
            .get(at)
            .and_then(Value::as_i64)
            .ok_or_else(|| invalid("the cursor is not one this service issued (wrong key)"))
    }

    /// The RFC 3339 time at `at`.
    ///
    /// # Errors
    /// 400 invalid-cursor when it is not one.
    pub fn timestamp(&self, at: usize) -> Result<OffsetDateTime, ApiError> {
        format::parse_timestamp(self.text(at)?)
            .ok_or_else(|| invalid("the cursor is not one this service issued (wrong key)"))
    }

    /// The date at `at`.
    ///
    /// # Errors
    /// 400 invalid-cursor when it is not one.
    pub fn date(&self, at: usize) -> Result<Date, ApiError> {
        format::parse_date(self.text(at)?)
            .ok_or_else(|| invalid("the cursor is not one this service issued (wrong key)"))
    }
}

/// The fingerprint of a query: every part that changes which rows come in which order.
fn fingerprint(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex::encode(&hash.finalize()[..8])
}

/// Encodes the key of the last row of a page.
fn encode(query: &str, key: Vec<Value>) -> String {
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
fn decode(text: &str, query: &str, arity: usize) -> Result<Key, ApiError> {
    if text.len() > MAX_CURSOR_LEN {
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
    Ok(Key(wire.k))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const LIMITS: Limits = Limits { default: 2, max: 3 };

    #[test]
    fn a_page_carries_the_cursor_of_its_last_row_bound_to_its_query() {
        let query = ["clients", "status=active", "sort=name"];
        let first = Paging::new(LIMITS, None, None, &query, 2).unwrap();
        assert_eq!(first.fetch(), 3);
        assert!(first.after().is_none());
        let page = first.page(vec!["a", "b", "c"], |last| {
            vec![json!(last), json!(Uuid::nil().to_string())]
        });
        assert_eq!(page.items, ["a", "b"]);
        let cursor = page.next_cursor.expect("a next page");

        let second = Paging::new(LIMITS, Some(3), Some(&cursor), &query, 2).unwrap();
        let key = second.after().unwrap();
        assert_eq!((key.text(0).unwrap(), key.uuid(1).unwrap()), ("b", Uuid::nil()));
        assert_eq!(key.timestamp(0).unwrap_err().kind, ProblemKind::InvalidCursor);
        assert_eq!(key.integer(1).unwrap_err().kind, ProblemKind::InvalidCursor);
        assert!(second.page(vec!["c"], |_| unreachable!()).next_cursor.is_none());

        let other = ["clients", "status=exited", "sort=name"];
        for (cursor, query, arity) in [
            (cursor.as_str(), &other, 2),
            (cursor.as_str(), &query, 3),
            ("", &query, 2),
            ("!!!", &query, 2),
            ("e30", &query, 2),
            (&"A".repeat(2000), &query, 2),
        ] {
            let error = Paging::new(LIMITS, None, Some(cursor), query, arity).unwrap_err();
            assert_eq!(error.kind, ProblemKind::InvalidCursor, "{cursor}");
            assert_eq!(error.errors[0].parameter.as_deref(), Some("cursor"));
        }
    }

    #[test]
    fn limits_outside_the_range_name_the_parameter() {
        for limit in [0, 4] {
            let error = Paging::new(LIMITS, Some(limit), None, &["x"], 1).unwrap_err();
            assert_eq!(error.kind, ProblemKind::Validation);
            assert_eq!(error.detail, "must be between 1 and 3");
        }
    }

    #[test]
    fn the_next_link_keeps_the_query_and_replaces_the_cursor() {
        let page = Page {
            items: vec![1],
            next_cursor: Some("next+1".to_owned()),
        };
        let uri: http::Uri = "/v1/clients?status=active&cursor=old&limit=1".parse().unwrap();
        let response = response(&uri, &page).unwrap();
        assert_eq!(
            response.headers()["link"],
            "</v1/clients?status=active&limit=1&cursor=next%2B1>; rel=\"next\""
        );
    }
}
