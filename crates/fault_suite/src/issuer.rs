//! A stand-in identity provider: an ES256 key pair made for the test, its public half written as a
//! JWKS file (the service reads it through `PCC_AUTH_JWKS_FILE`, as it would a mounted secret),
//! and bearer tokens minted with the private half. The service verifies them exactly as it
//! verifies production tokens: signature, `iss`, `aud`, expiry and scopes.

use std::path::{Path, PathBuf};

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;

/// The issuer the service is configured to trust.
pub const ISSUER: &str = "https://idp.fault-suite.test/";
/// The audience tokens carry (the service's default).
pub const AUDIENCE: &str = "pcc-client-api";
const KID: &str = "fault-suite-1";

/// A signing key and the JWKS file that publishes it.
pub struct Issuer {
    key: EncodingKey,
    jwks_path: PathBuf,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
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

impl Issuer {
    /// A fresh key; its JWKS is written to `dir/jwks.json`.
    ///
    /// # Panics
    /// When the key cannot be made or the file written.
    pub fn new(dir: &Path) -> Self {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .unwrap_or_else(|e| panic!("generating the test signing key: {e}"));
        let pem = SecretString::from(pair.serialize_pem());
        let key = EncodingKey::from_ec_pem(pem.expose_secret().as_bytes())
            .unwrap_or_else(|e| panic!("loading the test signing key: {e}"));
        let mut jwk =
            Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap_or_else(|e| panic!("deriving the JWK: {e}"));
        jwk.common.key_id = Some(KID.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(KeyAlgorithm::ES256);
        let jwks_path = dir.join("jwks.json");
        let text = serde_json::to_string_pretty(&JwkSet { keys: vec![jwk] })
            .unwrap_or_else(|e| panic!("serializing the JWKS: {e}"));
        std::fs::write(&jwks_path, text).unwrap_or_else(|e| panic!("writing {}: {e}", jwks_path.display()));
        Self { key, jwks_path }
    }

    /// The JWKS file.
    pub fn jwks_path(&self) -> &Path {
        &self.jwks_path
    }

    /// A token for `subject` with read and write scopes, valid for an hour.
    ///
    /// # Panics
    /// When signing fails.
    pub fn token(&self, subject: &str) -> SecretString {
        self.token_with(subject, "clients:read clients:write")
    }

    /// A token for `subject` with exactly `scope` (space-separated), valid for an hour.
    ///
    /// # Panics
    /// When signing fails.
    pub fn token_with(&self, subject: &str, scope: &str) -> SecretString {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            iss: ISSUER,
            aud: AUDIENCE,
            sub: subject,
            scope,
            iat: now,
            exp: now + 3600,
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(KID.to_owned());
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map(SecretString::from)
            .unwrap_or_else(|e| panic!("signing a test token: {e}"))
    }
}
