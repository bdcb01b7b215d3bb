//! Request extractors that fail with problems, never with axum's plain-text rejections: JSON bodies (media
//! type, size, syntax, types, unknown and read-only fields, each with a JSON pointer), merge-patch bodies,
//! UUID path parameters (a malformed id is a 404: no such resource), query strings (400/422 naming the
//! parameter; list parameters that may be repeated), and the optional request headers of the API
//! (Idempotency-Key, Pcc-Consistency-Token, Pcc-Max-Staleness-Ms).

use axum::extract::{FromRequest, FromRequestParts, Request};
use bytes::Bytes;
use http::request::Parts;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::db::{Consistency, ConsistencyToken, TOKEN_HEADER};
use crate::domain::client::READ_ONLY_FIELDS;
use crate::error::{ApiError, FieldError, ProblemKind};

fn media_type(req: &Request) -> Option<String> {
    req.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}

/// The body of a request whose media type is one of `accepted` (415 otherwise), within the route's size limit (413).
pub(crate) async fn body_bytes<S: Send + Sync>(req: Request, state: &S, accepted: &[&str]) -> Result<Bytes, ApiError> {
    match media_type(&req) {
        Some(m) if accepted.contains(&m.as_str()) => {}
        Some(m) => {
            return Err(ApiError::new(
                ProblemKind::UnsupportedMediaType,
                format!("Content-Type {m} is not accepted here; send {}", accepted.join(" or ")),
            ));
        }
        None => {
            return Err(ApiError::new(
                ProblemKind::UnsupportedMediaType,
                format!("the request has no Content-Type; send {}", accepted.join(" or ")),
            ));
        }
    }
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ProblemKind::PayloadTooLarge, "the request body exceeds the size limit")
        } else {
            ApiError::new(ProblemKind::MalformedBody, "the request body could not be read")
        }
    })
}

/// Turns a serde path (`a.b[2]`) into a JSON pointer (`/a/b/2`).
fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path {
        out.push('/');
        match segment {
            Segment::Seq { index } => out.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Unknown => out.push('-'),
        }
    }
    out
}

/// Parses `bytes` as JSON into `T`, with problems that point at the offending place.
///
/// # Errors
/// 400 malformed-body: syntax errors (with line and column), wrong types, unknown or read-only fields.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let malformed = |at: &str, detail: String| {
        ApiError::new(ProblemKind::MalformedBody, detail.clone()).with_error(FieldError::pointer(at, detail))
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let at = pointer(e.path());
        let inner = e.into_inner();
        let message = inner.to_string();
        if let Some(field) = unknown_field(&message) {
            // serde_path_to_error's path already ends with the unknown key.
            let at = if at.ends_with(&format!("/{field}")) {
                at
            } else {
                format!("{}/{field}", at.trim_end_matches('/'))
            };
            if READ_ONLY_FIELDS.contains(&field.as_str()) {
                malformed(&at, format!("{field} is read-only: the service maintains it"))
            } else {
                malformed(&at, format!("{field} is not a field of this resource"))
            }
        } else if let Some(field) = missing_field(&message) {
            malformed(
                &format!("{}/{field}", at.trim_end_matches('/')),
                format!("{field} is required"),
            )
        } else if inner.is_syntax() || inner.is_eof() {
            malformed("", format!("the body is not valid JSON: {message}"))
        } else {
            malformed(&at, strip_position(&message))
        }
    })?;
    de.end()
        .map_err(|e| malformed("", format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}

fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest.split('`').next()?.to_owned())
}

/// serde_json appends " at line 1 column 17" to data errors; the pointer says where already.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// A JSON body (`application/json`) deserialized into `T`, with the raw bytes (for idempotency fingerprints).
#[derive(Debug)]
pub struct JsonBody<T>(pub T, pub Bytes);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = body_bytes(req, state, &["application/json"]).await?;
        parse_json(&bytes).map(|value| JsonBody(value, bytes))
    }
}

/// A JSON Merge Patch body (`application/merge-patch+json`, or `application/json`): a JSON object.
#[derive(Debug)]
pub struct MergePatch(pub serde_json::Map<String, serde_json::Value>);

impl<S: Send + Sync> FromRequest<S> for MergePatch {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = body_bytes(req, state, &["application/merge-patch+json", "application/json"]).await?;
        let value: serde_json::Value = parse_json(&bytes)?;
        match value {
            serde_json::Value::Object(map) => Ok(MergePatch(map)),
            _ => Err(
                ApiError::new(ProblemKind::MalformedBody, "a merge patch must be a JSON object")
                    .with_error(FieldError::pointer("", "expected an object")),
            ),
        }
    }
}

/// Parses a path segment as a UUID; anything else names no resource (404).
fn path_uuid(text: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(text).map_err(|_| {
        ApiError::new(
            ProblemKind::NotFound,
            format!(
                "`{}` is not a {what} id (a UUID)",
                text.chars().take(64).collect::<String>()
            ),
        )
    })
}

/// Path segment `index` (`/v1/clients/{id}` has the id at 3), percent-decoded only when it needs to be.
fn path_segment(parts: &Parts, index: usize) -> std::borrow::Cow<'_, str> {
    let raw = parts.uri.path().split('/').nth(index).unwrap_or("");
    if raw.contains('%') {
        std::borrow::Cow::Owned(
            percent_encoding::percent_decode_str(raw)
                .decode_utf8_lossy()
                .into_owned(),
        )
    } else {
        std::borrow::Cow::Borrowed(raw)
    }
}

/// The `{id}` of `/v1/<collection>/{id}...` (the third path segment).
#[derive(Debug, Clone, Copy)]
pub struct PathId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        path_uuid(&path_segment(parts, 3), "resource").map(PathId)
    }
}

/// The two ids of `/v1/<collection>/{id}/<sub>/{sub_id}`.
#[derive(Debug, Clone, Copy)]
pub struct PathIds(pub Uuid, pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathIds {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let first = path_uuid(&path_segment(parts, 3), "resource")?;
        let second = path_uuid(&path_segment(parts, 5), "sub-resource")?;
        Ok(PathIds(first, second))
    }
}

/// Query parameters deserialized into `T` (which should deny unknown fields).
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or("")).map(QueryParams)
    }
}

/// Query parameters with list parameters that may be repeated: the keys of [`Repeatable::REPEATABLE`] can come
/// more than once (`field=a&field=b`), and their values are joined with commas, exactly as if the client had
/// sent `field=a,b`. Everything else is as [`QueryParams`].
#[derive(Debug)]
pub struct QueryLists<T>(pub T);

/// The query parameters of `T` that may be repeated.
pub trait Repeatable {
    /// Their names.
    const REPEATABLE: &'static [&'static str];
}

impl<S: Send + Sync, T: DeserializeOwned + Repeatable> FromRequestParts<S> for QueryLists<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = join_repeated(parts.uri.query().unwrap_or(""), T::REPEATABLE);
        parse_query(&query).map(QueryLists)
    }
}

/// `query` with every key of `repeatable` once, its values joined with commas (in order), after the others.
fn join_repeated(query: &str, repeatable: &[&str]) -> String {
    let mut joined: Vec<(&str, Vec<String>)> = repeatable.iter().map(|k| (*k, Vec::new())).collect();
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match joined.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) => values.push(value.into_owned()),
            None => {
                out.append_pair(&key, &value);
            }
        }
    }
    for (key, values) in joined.into_iter().filter(|(_, v)| !v.is_empty()) {
        out.append_pair(key, &values.join(","));
    }
    out.finish()
}

/// Deserializes a query string into `T`, with problems that name the parameter.
fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let name = e.path().to_string();
        let message = e.into_inner().to_string();
        if let Some(field) = unknown_field(&message) {
            return ApiError::new(ProblemKind::Validation, format!("unknown query parameter {field}"))
                .with_error(FieldError::parameter(&field, "is not a parameter of this endpoint"));
        }
        let name = if name == "." { "query".to_owned() } else { name };
        ApiError::invalid_parameter(&name, message)
    })
}

/// The optional `Idempotency-Key` header (1-255 visible ASCII characters).
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(Self(None));
        };
        let text = value
            .to_str()
            .ok()
            .filter(|t| (1..=255).contains(&t.len()) && t.bytes().all(|b| (b'!'..=b'~').contains(&b)));
        match text {
            Some(t) => Ok(Self(Some(t.to_owned()))),
            None => Err(ApiError::validation(vec![FieldError::parameter(
                "Idempotency-Key",
                "must be 1-255 visible ASCII characters (a UUID is a good choice)",
            )])),
        }
    }
}

/// `If-None-Match`, parsed from the request headers without copying them.
#[derive(Debug, Clone)]
pub struct IfNoneMatch(pub Option<crate::domain::etag::Condition>);

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        crate::domain::etag::if_none_match(&parts.headers).map(IfNoneMatch)
    }
}

/// The consistency a read asks for: read-your-writes with a `Pcc-Consistency-Token`; else, with
/// `Pcc-Max-Staleness-Ms`, data at most that old (a replica that lags more is not used); else the endpoint's
/// default.
#[derive(Debug, Clone, Copy)]
pub struct ReadToken(pub Option<ConsistencyToken>, pub Option<std::time::Duration>);

/// The largest `Pcc-Max-Staleness-Ms` accepted (a day).
const MAX_STALENESS_MS: u64 = 86_400_000;

impl ReadToken {
    /// The consistency for a read whose default is `default`.
    pub fn or(self, default: Consistency) -> Consistency {
        match (self.0, self.1, default) {
            (_, _, Consistency::Strong) => Consistency::Strong,
            (Some(token), _, _) => Consistency::ReadYourWrites(token),
            (None, Some(max), Consistency::Any) => Consistency::BoundedStaleness(max),
            (None, _, other) => other,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ReadToken {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let max_staleness = match parts.headers.get("pcc-max-staleness-ms") {
            None => None,
            Some(value) => {
                let ms = value
                    .to_str()
                    .ok()
                    .and_then(|t| t.trim().parse::<u64>().ok())
                    .filter(|ms| *ms <= MAX_STALENESS_MS)
                    .ok_or_else(|| {
                        ApiError::validation(vec![FieldError::parameter(
                            "Pcc-Max-Staleness-Ms",
                            "must be a whole number of milliseconds from 0 to 86400000",
                        )])
                    })?;
                Some(std::time::Duration::from_millis(ms))
            }
        };
        let Some(value) = parts.headers.get(TOKEN_HEADER) else {
            return Ok(Self(None, max_staleness));
        };
        let text = value.to_str().unwrap_or("");
        text.parse::<ConsistencyToken>()
            .map(|t| Self(Some(t), max_staleness))
            .map_err(|e| {
                ApiError::new(ProblemKind::InvalidConsistencyToken, e.to_string())
                    .with_error(FieldError::parameter("Pcc-Consistency-Token", "malformed token"))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ClientFields;

    #[test]
    fn repeated_list_parameters_are_joined_like_a_comma_list() {
        assert_eq!(
            join_repeated("field=a&limit=5&field=b%2Cc&field=d", &["field"]),
            "limit=5&field=a%2Cb%2Cc%2Cd"
        );
        assert_eq!(join_repeated("limit=5", &["field"]), "limit=5");
        assert_eq!(join_repeated("", &["field"]), "");
        // Other repeated keys are left for serde to refuse as duplicates.
        assert_eq!(join_repeated("limit=1&limit=2", &["field"]), "limit=1&limit=2");
    }

    #[test]
    fn json_errors_point_at_the_offending_field() {
        let e = parse_json::<ClientFields>(br#"{"display_name": 5, "legal_name": "x"}"#).unwrap_err();
        assert_eq!(e.kind, ProblemKind::MalformedBody);
        assert_eq!(e.errors[0].pointer.as_deref(), Some("/display_name"));
        let e = parse_json::<ClientFields>(br#"{"display_name": "a", "legal_name": "x", "version": 3}"#).unwrap_err();
        assert_eq!(e.errors[0].pointer.as_deref(), Some("/version"));
        assert!(e.detail.contains("read-only"), "{}", e.detail);
        let e = parse_json::<ClientFields>(br#"{"display_name": "a", "legal_name": "x", "colour": 3}"#).unwrap_err();
        assert_eq!(e.errors[0].pointer.as_deref(), Some("/colour"));
        let e = parse_json::<ClientFields>(br#"{"display_name": "a""#).unwrap_err();
        assert!(e.detail.contains("not valid JSON"), "{}", e.detail);
        let e = parse_json::<ClientFields>(br#"{"display_name": "a", "legal_name": "b"} x"#).unwrap_err();
        assert_eq!(e.kind, ProblemKind::MalformedBody);
        let e = parse_json::<ClientFields>(br#"{"legal_name": "b"}"#).unwrap_err();
        assert!(e.detail.contains("display_name"), "{}", e.detail);
    }
}
