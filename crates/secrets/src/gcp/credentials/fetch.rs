//! One attempt at an access token from each kind of source: the metadata server's GET, the
//! RFC 7523 jwt-bearer grant of a service-account key, the refresh-token grant of gcloud's
//! user credentials. Retrying, caching and the final error belong to `gcp::token`.
//!
//! An attempt fails as transient (the transport, 429, 5xx: worth another try) or as final
//! (the server refused the credential). Failure details carry the HTTP status and the OAuth
//! `error` / `error_description` fields, which describe the refusal and hold no credential.

use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret as _, SecretString};

use super::files::{AuthorizedUser, ServiceAccountKey};
use super::{METADATA_TOKEN_PATH, TokenSource};
use crate::gcp::retry;

/// The JWT bearer grant type (RFC 7523 2.1).
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Lifetime of an assertion; Google accepts at most one hour.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(3600);

/// A token and how long the server says it lives.
pub(crate) struct Fresh {
    pub(crate) token: SecretString,
    pub(crate) expires_in: Duration,
}

/// Why one attempt failed.
#[derive(Debug)]
pub(crate) struct Failed {
    /// Worth trying again (transport, 429, 5xx).
    pub(crate) transient: bool,
    /// What happened, for the final error.
    pub(crate) detail: String,
    /// The server's `Retry-After`, if any.
    pub(crate) retry_after: Option<Duration>,
}

impl Failed {
    fn transport(e: &reqwest::Error) -> Self {
        // reqwest's message names the URL and the cause, and never a request body.
        Self {
            transient: true,
            detail: format!("request failed: {e}"),
            retry_after: None,
        }
    }

    fn local(detail: String) -> Self {
        Self {
            transient: false,
            detail,
            retry_after: None,
        }
    }
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    expires_in: u64,
}

#[derive(serde::Deserialize, Default)]
struct OAuthError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// One token request to `source` for `scope` (not for `Static`, which needs none).
///
/// The metadata server takes the scope as its `scopes` query parameter and a service account
/// signs it into its assertion; an authorized user's refresh token carries the scopes of its
/// login (`gcloud auth application-default login --scopes=...`), so none is sent for it.
pub(crate) async fn fetch(source: &TokenSource, http: &reqwest::Client, scope: &str) -> Result<Fresh, Failed> {
    let request = match source {
        TokenSource::Static(token) => {
            return Ok(Fresh {
                token: token.clone(),
                expires_in: Duration::MAX,
            });
        }
        TokenSource::Metadata(base) => {
            let mut endpoint = base
                .join(METADATA_TOKEN_PATH)
                .map_err(|e| Failed::local(format!("bad metadata URL: {e}")))?;
            endpoint.query_pairs_mut().append_pair("scopes", scope);
            http.get(endpoint).header("Metadata-Flavor", "Google")
        }
        TokenSource::ServiceAccount(key) => {
            let assertion = assertion(key, scope).map_err(Failed::local)?;
            let form = form(&[("grant_type", JWT_BEARER), ("assertion", assertion.expose_secret())]);
            post_form(http, key.token_uri(), &form)
        }
        TokenSource::AuthorizedUser(user) => refresh_request(http, user),
    };
    let response = request.send().await.map_err(|e| Failed::transport(&e))?;
    let status = response.status();
    let retry_after = retry::retry_after(response.headers());
    let body = response.bytes().await.map_err(|e| Failed::transport(&e))?;
    if !status.is_success() {
        let oauth: OAuthError = serde_json::from_slice(&body).unwrap_or_default();
        let said = if oauth.error.is_empty() {
            // The metadata server answers in plain text.
            String::from_utf8_lossy(&body).trim().chars().take(300).collect()
        } else if oauth.error_description.is_empty() {
            oauth.error
        } else {
            format!("{}: {}", oauth.error, oauth.error_description)
        };
        let transient = status.as_u16() == 429 || status.is_server_error();
        return Err(Failed {
            transient,
            detail: if said.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {said}")
            },
            retry_after,
        });
    }
    let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
        Failed::local(format!(
            "unexpected token response (error at line {} column {})",
            e.line(),
            e.column()
        ))
    })?;
    if parsed.access_token.expose_secret().is_empty() {
        return Err(Failed::local("the token response holds an empty token".to_owned()));
    }
    Ok(Fresh {
        token: parsed.access_token,
        expires_in: Duration::from_secs(parsed.expires_in),
    })
}

fn refresh_request(http: &reqwest::Client, user: &AuthorizedUser) -> reqwest::RequestBuilder {
    let form = form(&[
        ("grant_type", "refresh_token"),
        ("client_id", user.client_id()),
        ("client_secret", user.client_secret().expose_secret()),
        ("refresh_token", user.refresh_token().expose_secret()),
    ]);
    post_form(http, user.token_uri(), &form)
}

/// An `application/x-www-form-urlencoded` body; it holds a credential, so it stays secret.
fn form(pairs: &[(&str, &str)]) -> SecretString {
    SecretString::from(
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish(),
    )
}

fn post_form(http: &reqwest::Client, url: &url::Url, body: &SecretString) -> reqwest::RequestBuilder {
    http.post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body.expose_secret().to_owned())
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

/// The signed JWT a service account presents (RFC 7523 2.1, Google's claims): issuer the
/// service account, audience the token endpoint, the requested scope, one hour.
fn assertion(key: &ServiceAccountKey, scope: &str) -> Result<SecretString, String> {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| "the system clock is before 1970".to_owned())?
        .as_secs();
    let claims = Claims {
        iss: key.client_email(),
        scope,
        aud: key.token_uri().as_str(),
        iat: now,
        exp: now + ASSERTION_LIFETIME.as_secs(),
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = key.private_key_id().map(str::to_owned);
    jsonwebtoken::encode(&header, &claims, key.key())
        .map(SecretString::from)
        .map_err(|e| format!("cannot sign the token request with the key: {e}"))
}
