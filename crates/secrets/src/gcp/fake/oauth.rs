//! The fake's token issuers: the GCE metadata endpoint (and its service-account e-mail) and
//! Google's OAuth 2.0 token endpoint.
//!
//! The metadata endpoint takes the scopes asked for in its `scopes` query parameter (default
//! cloud-platform), as the GCE and GKE metadata servers do; every issued token is logged with
//! its scopes, so tests can check what a client asked for.
//!
//! `POST /token` with `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` checks the
//! assertion as Google does: an RS256 signature that verifies with the registered public key of
//! the service account named in `iss`, `aud` equal to this endpoint, the cloud-platform scope,
//! `iat` not in the future and `exp` after now and at most an hour after `iat`. With
//! `grant_type=refresh_token` it checks the client id, client secret and refresh token of a
//! registered user. Refusals use OAuth's error shape (`{"error":"invalid_grant",...}`).

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{FakeState, METADATA_EMAIL, METADATA_PRINCIPAL, error, ok};
use crate::gcp::credentials::{ALLOYDB_LOGIN_SCOPE, CLOUD_PLATFORM_SCOPE};

/// Clock skew tolerated on `iat`, as Google's endpoint tolerates a little.
const SKEW_S: u64 = 60;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn issue(st: &mut FakeState, principal: String, scopes: &str) -> Response {
    st.issued += 1;
    let token = st
        .fixed_token
        .clone()
        .unwrap_or_else(|| format!("ya29.fake-token-{}", st.issued));
    st.issued_log.push((token.clone(), scopes.to_owned()));
    if !st.reject_issued_tokens {
        st.tokens.insert(token.clone(), principal);
    }
    let lifetime = st.token_lifetime.unwrap_or(3599);
    ok(json!({"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}))
}

/// The metadata server's refusals: a request without `Metadata-Flavor: Google`, and a pod's
/// first requests while it is not ready.
fn metadata_refusal(st: &mut FakeState, headers: &HeaderMap) -> Option<Response> {
    if headers.get("metadata-flavor").and_then(|v| v.to_str().ok()) != Some("Google") {
        return Some(error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "missing Metadata-Flavor: Google header",
        ));
    }
    if st.metadata_not_ready > 0 {
        st.metadata_not_ready -= 1;
        return Some(
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "GKE metadata server is not ready for this pod yet",
            )
                .into_response(),
        );
    }
    None
}

/// `GET /computeMetadata/v1/instance/service-accounts/default/token[?scopes=a,b]`.
pub(super) fn metadata(st: &mut FakeState, headers: &HeaderMap, query: &str) -> Response {
    if headers.get("metadata-flavor").and_then(|v| v.to_str().ok()) == Some("Google") {
        st.token_requests += 1;
    }
    if let Some(refused) = metadata_refusal(st, headers) {
        return refused;
    }
    let scopes = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "scopes")
        .map_or_else(|| CLOUD_PLATFORM_SCOPE.to_owned(), |(_, v)| v.into_owned());
    issue(st, METADATA_PRINCIPAL.to_owned(), &scopes)
}

/// `GET /computeMetadata/v1/instance/service-accounts/default/email`: plain text, as the real one.
pub(super) fn metadata_email(st: &mut FakeState, headers: &HeaderMap) -> Response {
    st.email_requests += 1;
    if let Some(refused) = metadata_refusal(st, headers) {
        return refused;
    }
    (StatusCode::OK, METADATA_EMAIL).into_response()
}

#[derive(serde::Deserialize)]
struct Claims {
    iss: String,
    scope: String,
    iat: u64,
    exp: u64,
}

/// `POST /token`.
pub(super) fn token_endpoint(st: &mut FakeState, body: &[u8]) -> Response {
    st.oauth_requests += 1;
    let form: std::collections::BTreeMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    match form.get("grant_type").map(String::as_str) {
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            let Some(assertion) = form.get("assertion") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Missing required parameter: assertion",
                );
            };
            match verify_assertion(st, assertion) {
                Ok((email, scope)) => issue(st, format!("serviceAccount:{email}"), &scope),
                Err(why) => oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &why),
            }
        }
        Some("refresh_token") => {
            let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
            let Some(user) = st.users.iter().find(|u| u.client_id == field("client_id")) else {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "The OAuth client was not found.",
                );
            };
            if user.client_secret != field("client_secret") {
                return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
            }
            if user.refresh_token != field("refresh_token") {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Bad Request");
            }
            let principal = user.principal.clone();
            issue(st, principal, "")
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "Invalid grant_type."),
    }
}

/// Checks an assertion; returns the service account's email and the scope, or Google's kind of refusal.
fn verify_assertion(st: &FakeState, assertion: &str) -> Result<(String, String), String> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| "Invalid JWT: not a JWT.".to_owned())?;
    if header.alg != jsonwebtoken::Algorithm::RS256 {
        return Err(format!("Invalid JWT: algorithm {:?} is not RS256.", header.alg));
    }
    // `iss` picks the key, so read it before verifying (the signature is checked right after).
    let unverified = jsonwebtoken::dangerous::insecure_decode::<Claims>(assertion)
        .map_err(|_| "Invalid JWT: claims missing or malformed.".to_owned())?;
    let email = unverified.claims.iss;
    let key = st
        .service_accounts
        .get(&email)
        .ok_or_else(|| format!("Invalid JWT Signature: no key for service account {email}."))?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[st.token_uri.as_str()]);
    validation.set_issuer(&[email.as_str()]);
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    validation.leeway = 0;
    let data = jsonwebtoken::decode::<Claims>(assertion, key, &validation).map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidSignature => "Invalid JWT Signature.".to_owned(),
        jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.".to_owned()
        }
        jsonwebtoken::errors::ErrorKind::InvalidAudience => {
            "Invalid JWT: audience is not the token endpoint.".to_owned()
        }
        other => format!("Invalid JWT: {other:?}."),
    })?;
    let now = jsonwebtoken::get_current_timestamp();
    let c = data.claims;
    if c.iat > now + SKEW_S || c.exp <= c.iat || c.exp - c.iat > 3600 {
        return Err(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
                .to_owned(),
        );
    }
    if !c
        .scope
        .split(' ')
        .any(|s| s == CLOUD_PLATFORM_SCOPE || s == ALLOYDB_LOGIN_SCOPE)
    {
        return Err(format!(
            "Invalid OAuth scope or ID token audience provided: {:?}.",
            c.scope
        ));
    }
    Ok((email, c.scope))
}
