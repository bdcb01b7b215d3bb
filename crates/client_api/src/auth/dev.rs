//! Development credentials for the embedded default and for tests: an ES256 signing key and its JWKS, kept
//! under a directory (`.pcc/api/` by default, created 0700, the key 0600), and tokens minted with them.
//! [`Signer`] is the key itself, also used by test harnesses that stand in for an identity provider.
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

/// An ES256 signing key and its key id: mints bearer tokens and publishes its public half as a
/// JWKS. [`DevKey`] keeps one on disk for development; test harnesses that stand in for an
/// identity provider make a fresh one.
pub struct Signer {
    key: EncodingKey,
    kid: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish_non_exhaustive()
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

fn crypto(err: impl std::fmt::Display) -> DevKeyError {
    DevKeyError::Crypto(err.to_string())
}

/// A new P-256 private key, PKCS#8 PEM.
fn generate_pem() -> Result<SecretString, DevKeyError> {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(crypto)?;
    Ok(SecretString::from(pair.serialize_pem()))
}

impl Signer {
    /// A fresh key named `kid`.
    ///
    /// # Errors
    /// Key generation failure.
    pub fn generate(kid: &str) -> Result<Self, DevKeyError> {
        Self::from_pem(&generate_pem()?, kid)
    }

    /// The P-256 key in `pem` (PKCS#8), named `kid`.
    ///
    /// # Errors
    /// `pem` holds no usable EC key.
    pub fn from_pem(pem: &SecretString, kid: &str) -> Result<Self, DevKeyError> {
        let key = EncodingKey::from_ec_pem(pem.expose_secret().as_bytes()).map_err(crypto)?;
        Ok(Self {
            key,
            kid: kid.to_owned(),
        })
    }

    /// The JWKS (pretty-printed JSON) that publishes the public key.
    ///
    /// # Errors
    /// The public key cannot be derived or serialized.
    pub fn jwks(&self) -> Result<String, DevKeyError> {
        let mut jwk = Jwk::from_encoding_key(&self.key, Algorithm::ES256).map_err(crypto)?;
        jwk.common.key_id = Some(self.kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(KeyAlgorithm::ES256);
        serde_json::to_string_pretty(&JwkSet { keys: vec![jwk] }).map_err(crypto)
    }

    /// A token from `issuer` for `audience` naming `subject`, with `scope` (space-separated),
    /// valid for `ttl_secs` from now.
    ///
    /// # Errors
    /// Signing failure.
    pub fn token(
        &self,
        issuer: &str,
        audience: &str,
        subject: &str,
        scope: &str,
        ttl_secs: u64,
    ) -> Result<SecretString, DevKeyError> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            iss: issuer,
            aud: audience,
            sub: subject,
            scope,
            iat: now,
            exp: now + ttl_secs,
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map(SecretString::from)
            .map_err(crypto)
    }
}

/// The development signing key.
pub struct DevKey {
    signer: Signer,
    jwks_path: PathBuf,
}

impl std::fmt::Debug for DevKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevKey")
            .field("jwks_path", &self.jwks_path)
            .finish_non_exhaustive()
    }
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
                let pem = generate_pem()?;
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
        let signer = Signer::from_pem(&pem, KID)?;
        fs::write(&jwks_path, signer.jwks()?).map_err(io(&jwks_path))?;
        Ok(Self { signer, jwks_path })
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
        self.signer
            .token(DEV_ISSUER, DEV_AUDIENCE, subject, &scopes.join(" "), ttl_secs)
    }
}
