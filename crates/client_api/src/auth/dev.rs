//! Development credentials for the embedded default and for tests: an ES256 signing key and its JWKS, kept
//! under a directory (`.pcc/api/` by default, created 0700, the key 0600), and tokens minted with them.
//!
//! Never used in production: production verifies tokens of the real identity provider through
//! `PCC_AUTH_JWKS_URL` / `PCC_AUTH_JWKS_FILE` and has no signing key.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;

/// Issuer of development tokens.
pub const DEV_ISSUER: &str = "pcc-dev";
/// Audience of development tokens.
pub const DEV_AUDIENCE: &str = "pcc-client-api";
const KID: &str = "pcc-dev-1";

/// Why the development key could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum DevKeyError {
    /// File system error.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Key generation or signing failed.
    #[error("development key: {0}")]
    Crypto(String),
}

/// The development signing key.
pub struct DevKey {
    key: EncodingKey,
    jwks_path: PathBuf,
}

impl std::fmt::Debug for DevKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevKey")
            .field("jwks_path", &self.jwks_path)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    scope: &'a str,
    iat: u64,
    exp: u64,
}

impl DevKey {
    /// Loads the key in `dir`, or creates it (with `jwks.json` beside it) on first use.
    ///
    /// # Errors
    /// [`DevKeyError`] when files cannot be written or read.
    pub fn load_or_create(dir: &Path) -> Result<Self, DevKeyError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| DevKeyError::Io { path, source }
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(dir))?;
        let key_path = dir.join("dev-signing-key.pem");
        let jwks_path = dir.join("jwks.json");
        let pem = match fs::read_to_string(&key_path) {
            Ok(pem) => SecretString::from(pem),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
                    .map_err(|e| DevKeyError::Crypto(e.to_string()))?;
                let pem = SecretString::from(pair.serialize_pem());
                let mut file = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&key_path)
                    .map_err(io(&key_path))?;
                file.write_all(pem.expose_secret().as_bytes()).map_err(io(&key_path))?;
                pem
            }
            Err(e) => return Err(io(&key_path)(e)),
        };
        let key =
            EncodingKey::from_ec_pem(pem.expose_secret().as_bytes()).map_err(|e| DevKeyError::Crypto(e.to_string()))?;
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).map_err(|e| DevKeyError::Crypto(e.to_string()))?;
        jwk.common.key_id = Some(KID.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(KeyAlgorithm::ES256);
        let jwks = serde_json::to_string_pretty(&JwkSet { keys: vec![jwk] })
            .map_err(|e| DevKeyError::Crypto(e.to_string()))?;
        fs::write(&jwks_path, jwks).map_err(io(&jwks_path))?;
        Ok(Self { key, jwks_path })
    }

    /// The JWKS file holding the public key.
    pub fn jwks_path(&self) -> &Path {
        &self.jwks_path
    }

    /// A token for `subject` with `scopes`, valid for `ttl_secs`.
    ///
    /// # Errors
    /// Signing failure.
    pub fn token(&self, subject: &str, scopes: &[&str], ttl_secs: u64) -> Result<SecretString, DevKeyError> {
        let now = jsonwebtoken::get_current_timestamp();
        let scope = scopes.join(" ");
        let claims = Claims {
            iss: DEV_ISSUER,
            aud: DEV_AUDIENCE,
            sub: subject,
            scope: &scope,
            iat: now,
            exp: now + ttl_secs,
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(KID.to_owned());
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map(SecretString::from)
            .map_err(|e| DevKeyError::Crypto(e.to_string()))
    }
}
