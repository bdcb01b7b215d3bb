//! Google credential files: a service-account key (`"type": "service_account"`, what
//! `gcloud iam service-accounts keys create` writes) and gcloud's authorized-user file
//! (`"type": "authorized_user"`, what `gcloud auth application-default login` writes).
//!
//! Errors name the file and the field, never a value: serde's messages can quote input, so only
//! the position of a JSON error is reported. The private key is parsed once, when the file is
//! loaded, so a broken key fails at start-up rather than at the first token.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jsonwebtoken::EncodingKey;
use secrecy::{ExposeSecret as _, SecretString};
use url::Url;

use super::{GOOGLE_TOKEN_URI, TokenSource};
use crate::error::SecretError;

/// Larger files are not credentials (a key file is about 2.3 KiB).
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// A service-account key: who signs (client email, key id), the key, and where to exchange.
pub struct ServiceAccountKey {
    path: PathBuf,
    client_email: String,
    private_key_id: Option<String>,
    key: EncodingKey,
    token_uri: Url,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("path", &self.path)
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("token_uri", &self.token_uri.as_str())
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    /// The service account (`ci@project.iam.gserviceaccount.com`).
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// The key's id (the JWT's `kid`), when the file has one.
    pub fn private_key_id(&self) -> Option<&str> {
        self.private_key_id.as_deref()
    }

    /// The token endpoint (the JWT's `aud`).
    pub fn token_uri(&self) -> &Url {
        &self.token_uri
    }

    pub(crate) fn key(&self) -> &EncodingKey {
        &self.key
    }

    pub(crate) fn describe(&self) -> String {
        format!("service account key {} ({})", self.path.display(), self.client_email)
    }
}

/// gcloud's authorized-user credentials: an OAuth client and a refresh token.
pub struct AuthorizedUser {
    path: PathBuf,
    client_id: String,
    client_secret: SecretString,
    refresh_token: SecretString,
    token_uri: Url,
    quota_project: Option<String>,
}

impl std::fmt::Debug for AuthorizedUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizedUser")
            .field("path", &self.path)
            .field("client_id", &self.client_id)
            .field("token_uri", &self.token_uri.as_str())
            .field("quota_project", &self.quota_project)
            .finish_non_exhaustive()
    }
}

impl AuthorizedUser {
    /// The OAuth client the refresh token belongs to.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The token endpoint.
    pub fn token_uri(&self) -> &Url {
        &self.token_uri
    }

    /// `quota_project_id`, set by `gcloud auth application-default set-quota-project`.
    pub fn quota_project(&self) -> Option<&str> {
        self.quota_project.as_deref()
    }

    pub(crate) fn client_secret(&self) -> &SecretString {
        &self.client_secret
    }

    pub(crate) fn refresh_token(&self) -> &SecretString {
        &self.refresh_token
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "gcloud application-default credentials {} (refresh `gcloud auth application-default login`)",
            self.path.display()
        )
    }
}

#[derive(serde::Deserialize)]
struct RawFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key_id: Option<String>,
    private_key: Option<SecretString>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    refresh_token: Option<SecretString>,
    token_uri: Option<String>,
    quota_project_id: Option<String>,
}

fn malformed(path: &Path, origin: &str, detail: impl Into<String>) -> SecretError {
    SecretError::Malformed {
        store: "google credentials".to_owned(),
        what: format!("credentials file {} (from {origin})", path.display()),
        detail: detail.into(),
    }
}

/// Reads and checks a credentials file.
pub(super) fn load(path: &Path, origin: &str) -> Result<TokenSource, SecretError> {
    let io = |source| SecretError::Io {
        action: "read Google credentials file",
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
        return Err(malformed(
            path,
            origin,
            format!("not a credentials file (a regular file under {MAX_FILE_BYTES} bytes)"),
        ));
    }
    let text = SecretString::from(std::fs::read_to_string(path).map_err(io)?);
    parse(path, origin, &text)
}

/// Parses a credentials file's content.
pub(super) fn parse(path: &Path, origin: &str, text: &SecretString) -> Result<TokenSource, SecretError> {
    let raw: RawFile = serde_json::from_str(text.expose_secret()).map_err(|e| {
        malformed(
            path,
            origin,
            format!(
                "not a JSON credentials object (error at line {} column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    let need = |field: &'static str, v: Option<String>| -> Result<String, SecretError> {
        v.filter(|v| !v.is_empty())
            .ok_or_else(|| malformed(path, origin, format!("field \"{field}\" is missing or empty")))
    };
    let need_secret = |field: &'static str, v: Option<SecretString>| -> Result<SecretString, SecretError> {
        v.filter(|v| !v.expose_secret().is_empty())
            .ok_or_else(|| malformed(path, origin, format!("field \"{field}\" is missing or empty")))
    };
    let token_uri = token_uri(path, origin, raw.token_uri.as_deref())?;
    match raw.kind.as_deref() {
        Some("service_account") => {
            let client_email = need("client_email", raw.client_email)?;
            let private_key = need_secret("private_key", raw.private_key)?;
            let key = EncodingKey::from_rsa_pem(private_key.expose_secret().as_bytes())
                .map_err(|_| malformed(path, origin, "field \"private_key\" is not a PEM RSA private key"))?;
            Ok(TokenSource::ServiceAccount(Arc::new(ServiceAccountKey {
                path: path.to_owned(),
                client_email,
                private_key_id: raw.private_key_id.filter(|k| !k.is_empty()),
                key,
                token_uri,
            })))
        }
        Some("authorized_user") => Ok(TokenSource::AuthorizedUser(Arc::new(AuthorizedUser {
            path: path.to_owned(),
            client_id: need("client_id", raw.client_id)?,
            client_secret: need_secret("client_secret", raw.client_secret)?,
            refresh_token: need_secret("refresh_token", raw.refresh_token)?,
            token_uri,
            quota_project: raw.quota_project_id.filter(|p| !p.is_empty()),
        }))),
        Some(other) => Err(malformed(
            path,
            origin,
            format!(
                "credentials of type {other:?} are not supported; use a service-account key (\"service_account\") or `gcloud auth application-default login` (\"authorized_user\")"
            ),
        )),
        None => Err(malformed(path, origin, "field \"type\" is missing")),
    }
}

/// The token endpoint: https, or plain http to a loopback address only (a local test server),
/// so an assertion or a refresh token never crosses a network in clear text.
fn token_uri(path: &Path, origin: &str, raw: Option<&str>) -> Result<Url, SecretError> {
    let text = raw.filter(|t| !t.is_empty()).unwrap_or(GOOGLE_TOKEN_URI);
    let url = Url::parse(text).map_err(|e| malformed(path, origin, format!("field \"token_uri\" {text:?}: {e}")))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(malformed(
            path,
            origin,
            format!("field \"token_uri\" {text:?} must be an https URL"),
        )),
    }
}
