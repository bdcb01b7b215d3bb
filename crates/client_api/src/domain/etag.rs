//! ETags and the conditional request headers (RFC 9110 section 13): a representation's strong ETag is its
//! row version in quotes (`"7"`), so `If-Match: "7"` means "apply only if nobody changed it since version 7".

use http::HeaderMap;

use crate::error::{ApiError, ProblemKind};

/// The ETag of `version`.
pub fn format(version: i64) -> String {
    format!("\"{version}\"")
}

/// The versions listed in a conditional header; `Any` for `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `*`.
    Any,
    /// The listed versions (weak tags compare weakly: `W/"7"` matches version 7 for If-None-Match).
    Versions(Vec<i64>),
}

impl Condition {
    /// Whether `version` satisfies the condition.
    pub fn matches(&self, version: i64) -> bool {
        match self {
            Condition::Any => true,
            Condition::Versions(list) => list.contains(&version),
        }
    }

    /// `Ok` when `version` satisfies the condition; otherwise 412 with `detail()`.
    ///
    /// # Errors
    /// 412 precondition-failed.
    pub fn ensure(&self, version: i64, detail: impl FnOnce() -> String) -> Result<(), ApiError> {
        if self.matches(version) {
            Ok(())
        } else {
            Err(ApiError::new(ProblemKind::PreconditionFailed, detail()))
        }
    }
}

fn parse(headers: &HeaderMap, name: &http::HeaderName, allow_weak: bool) -> Result<Option<Condition>, ApiError> {
    let mut versions = Vec::new();
    let mut seen = false;
    for value in headers.get_all(name) {
        seen = true;
        let bad = || {
            ApiError::new(
                ProblemKind::Validation,
                format!("{name} must list ETags such as \"7\" (as returned in ETag) or be *"),
            )
            .with_error(crate::error::FieldError::parameter(
                name.as_str(),
                "malformed entity tag",
            ))
        };
        let text = value.to_str().map_err(|_| bad())?;
        for tag in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if tag == "*" {
                return Ok(Some(Condition::Any));
            }
            let tag = match tag.strip_prefix("W/") {
                Some(weak) if allow_weak => weak,
                Some(_) => continue, // a weak tag never matches under the strong comparison of If-Match
                None => tag,
            };
            let inner = tag
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .ok_or_else(bad)?;
            // Tags we never issued match nothing, but are well-formed.
            if let Ok(version) = inner.parse::<i64>() {
                versions.push(version);
            }
        }
    }
    Ok(seen.then_some(Condition::Versions(versions)))
}

/// `If-Match` (strong comparison), required on updates.
///
/// # Errors
/// 428 when absent, 422 when malformed.
pub fn require_if_match(headers: &HeaderMap) -> Result<Condition, ApiError> {
    parse(headers, &http::header::IF_MATCH, false)?.ok_or_else(|| {
        ApiError::new(
            ProblemKind::PreconditionRequired,
            "send If-Match with the ETag of the version you are changing (from GET)",
        )
    })
}

/// `If-None-Match` (weak comparison), for 304 on GET.
///
/// # Errors
/// 422 when malformed.
pub fn if_none_match(headers: &HeaderMap) -> Result<Option<Condition>, ApiError> {
    parse(headers, &http::header::IF_NONE_MATCH, true)
}

/// The single version an `If-Match` names, for a compare-and-set in SQL (`*` gives `None`).
///
/// # Errors
/// 412 when the header lists no version this service could have issued.
pub fn expected_version(condition: &Condition) -> Result<Option<i64>, ApiError> {
    match condition {
        Condition::Any => Ok(None),
        Condition::Versions(list) => match list.as_slice() {
            [one] => Ok(Some(*one)),
            [] => Err(ApiError::new(
                ProblemKind::PreconditionFailed,
                "If-Match names no current version",
            )),
            // Several candidates: the caller compares against the current version it read.
            _ => Ok(None),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: http::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, value.parse().unwrap());
        h
    }

    #[test]
    fn if_match_is_required_and_strong() {
        assert_eq!(
            require_if_match(&HeaderMap::new()).unwrap_err().kind,
            ProblemKind::PreconditionRequired
        );
        let c = require_if_match(&headers(http::header::IF_MATCH, "\"3\", W/\"4\"")).unwrap();
        assert!(c.matches(3));
        assert!(!c.matches(4));
        assert_eq!(
            require_if_match(&headers(http::header::IF_MATCH, "*")).unwrap(),
            Condition::Any
        );
        assert_eq!(
            require_if_match(&headers(http::header::IF_MATCH, "3"))
                .unwrap_err()
                .kind,
            ProblemKind::Validation
        );
    }

    #[test]
    fn if_none_match_compares_weakly() {
        let c = if_none_match(&headers(http::header::IF_NONE_MATCH, "W/\"4\""))
            .unwrap()
            .unwrap();
        assert!(c.matches(4));
        assert!(if_none_match(&HeaderMap::new()).unwrap().is_none());
    }
}
