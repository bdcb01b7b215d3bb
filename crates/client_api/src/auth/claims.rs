//! What a verified token's header and claims must be, beyond its signature: the JOSE header checks of
//! RFC 8725 (JWT best current practice) and every registered claim of RFC 7519 this service relies on.
//!
//! The signature, `exp`, `nbf`, `aud` and the issuer's value are checked by jsonwebtoken (with `nbf` turned
//! on: its default leaves it off); this file checks what jsonwebtoken does not: `crit` (RFC 7515 4.1.11), the
//! token type (RFC 8725 3.11), that `iss` is one string rather than a list that merely contains the trusted
//! issuer (RFC 7519 4.1.1), `iat` not in the future, `sub` and `jti` types, and the scope claims' types.
//! Every refusal names what was wrong, never a claim's value.

use jsonwebtoken::Header;
use serde_json::{Map, Value};

use super::Principal;

/// Seconds of clock skew allowed on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: u64 = 30;

/// Token types that are access tokens for this service: plain JWTs and RFC 9068 access tokens.
/// Anything else signed by the same issuer (an ID token typed `id_token+jwt`, a logout token, a DPoP
/// proof, a security event) is not meant for a resource server.
const ACCESS_TOKEN_TYPES: &[&str] = &["jwt", "at+jwt", "application/jwt", "application/at+jwt"];

/// Checks the JOSE header's `crit` and `typ`.
///
/// # Errors
/// Why the header is refused.
pub fn check_header(header: &Header) -> Result<(), &'static str> {
    // A recipient must reject a token whose `crit` names an extension it does not implement; this
    // service implements none (and an empty `crit` is itself invalid).
    if header.crit.is_some() {
        return Err("the token requires header extensions (crit) this service does not implement");
    }
    // Media types compare without case (RFC 7515 4.1.9).
    if let Some(typ) = &header.typ
        && !ACCESS_TOKEN_TYPES.iter().any(|t| t.eq_ignore_ascii_case(typ))
    {
        return Err("the token is not an access token (its typ names another kind of JWT)");
    }
    Ok(())
}

/// Checks the registered and scope claims jsonwebtoken leaves alone and returns the principal and `exp`.
///
/// # Errors
/// Why the claims are refused.
pub fn principal(claims: &Map<String, Value>, issuer: &str, now: u64) -> Result<(Principal, u64), &'static str> {
    match claims.get("iss") {
        Some(Value::String(iss)) if iss == issuer => {}
        Some(Value::String(_)) => return Err("the token was issued by an issuer this service does not trust"),
        Some(_) => return Err("the token's issuer (iss) must be a single string"),
        None => return Err("the token lacks a required claim (exp, iss, aud, sub)"),
    }
    let sub = match claims.get("sub") {
        Some(Value::String(sub)) => sub,
        Some(_) => return Err("the token's subject (sub) must be a string"),
        None => return Err("the token lacks a required claim (exp, iss, aud, sub)"),
    };
    if sub.trim().is_empty() || sub.len() > 200 || sub.chars().any(char::is_control) {
        return Err("the token's subject must be 1-200 printable characters");
    }
    let exp = numeric_date(claims.get("exp")).ok_or("the token's expiry (exp) must be a NumericDate")?;
    for key in ["nbf", "iat"] {
        if claims.get(key).is_some() && numeric_date(claims.get(key)).is_none() {
            return Err("the token's nbf and iat must be NumericDates");
        }
    }
    if numeric_date(claims.get("iat")).is_some_and(|iat| iat > now + LEEWAY_SECS) {
        return Err("the token was issued in the future (iat)");
    }
    if claims.get("jti").is_some_and(|jti| !jti.is_string()) {
        return Err("the token's id (jti) must be a string");
    }
    let mut scopes: Vec<String> = match claims.get("scope") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(scope)) => scope.split_whitespace().map(str::to_owned).collect(),
        Some(_) => return Err("the token's scope must be a space-separated string"),
    };
    match claims.get("scp") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) if list.iter().all(Value::is_string) => {
            scopes.extend(list.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        Some(_) => return Err("the token's scp must be a list of strings"),
    }
    Ok((
        Principal {
            subject: sub.clone(),
            scopes,
        },
        exp,
    ))
}

/// A NumericDate (RFC 7519 2): seconds since the epoch, integer or not, not negative.
fn numeric_date(value: Option<&Value>) -> Option<u64> {
    let seconds = value?.as_f64()?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    (seconds.is_finite() && seconds >= 0.0).then(|| seconds.floor() as u64)
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::Algorithm;
    use serde_json::json;

    use super::*;

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("claims must be an object: {other}"),
        }
    }

    #[test]
    fn registered_claims_are_typed_and_the_issuer_is_one_string() {
        let now = 1_000_000;
        let ok =
            json!({"iss": "i", "sub": "s", "exp": 1_000_600.5, "iat": now, "jti": "x", "scope": "a b", "scp": ["c"]});
        let (who, exp) = principal(&claims(ok), "i", now).unwrap();
        assert_eq!((who.scopes.len(), exp), (3, 1_000_600));
        for (bad, why) in [
            (json!({"iss": ["x", "i"], "sub": "s", "exp": 1}), "single string"),
            (json!({"iss": "i", "sub": 5, "exp": 1}), "subject (sub)"),
            (json!({"iss": "i", "sub": "s", "exp": "soon"}), "expiry"),
            (
                json!({"iss": "i", "sub": "s", "exp": 1, "iat": now + 31}),
                "in the future",
            ),
            (json!({"iss": "i", "sub": "s", "exp": 1, "nbf": "x"}), "NumericDates"),
            (json!({"iss": "i", "sub": "s", "exp": 1, "jti": 3}), "jti"),
            (json!({"iss": "i", "sub": "s", "exp": 1, "scp": "a"}), "scp"),
        ] {
            let err = principal(&claims(bad.clone()), "i", now).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        // Within the leeway, an `iat` slightly ahead of our clock is accepted.
        assert!(
            principal(
                &claims(json!({"iss": "i", "sub": "s", "exp": 1, "iat": now + 30})),
                "i",
                now
            )
            .is_ok()
        );
    }

    #[test]
    fn headers_with_crit_or_another_type_are_refused() {
        let mut header = Header::new(Algorithm::ES256);
        assert!(check_header(&header).is_ok(), "typ JWT");
        header.typ = Some("AT+JWT".into());
        assert!(check_header(&header).is_ok(), "RFC 9068, any case");
        header.typ = None;
        assert!(check_header(&header).is_ok());
        header.typ = Some("dpop+jwt".into());
        assert!(check_header(&header).is_err());
        header.typ = None;
        header.crit = Some(Vec::new());
        assert!(check_header(&header).is_err());
    }
}
