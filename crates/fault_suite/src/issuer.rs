//! A stand-in identity provider: an ES256 key pair made for the test, its public half written as a
//! JWKS file (the service reads it through `PCC_AUTH_JWKS_FILE`, as it would a mounted secret),
//! and bearer tokens minted with the private half. The service verifies them exactly as it
//! verifies production tokens: signature, `iss`, `aud`, expiry and scopes. The key and the
//! minting are client_api's development [`Signer`]; the issuer, key id and key are the suite's own.

use std::path::{Path, PathBuf};

use client_api::auth::dev::Signer;
use secrecy::SecretString;

/// The issuer the service is configured to trust.
pub const ISSUER: &str = "https://idp.fault-suite.test/";
/// The audience tokens carry (the service's default).
pub const AUDIENCE: &str = "pcc-client-api";
const KID: &str = "fault-suite-1";

/// A signing key and the JWKS file that publishes it.
pub struct Issuer {
    signer: Signer,
    jwks_path: PathBuf,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("jwks_path", &self.jwks_path)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    /// A fresh key; its JWKS is written to `dir/jwks.json`.
    ///
    /// # Panics
    /// When the key cannot be made or the file written.
    pub fn new(dir: &Path) -> Self {
        let signer = Signer::generate(KID).unwrap_or_else(|e| panic!("making the test signing key: {e}"));
        let text = signer.jwks().unwrap_or_else(|e| panic!("deriving the JWKS: {e}"));
        let jwks_path = dir.join("jwks.json");
        std::fs::write(&jwks_path, text).unwrap_or_else(|e| panic!("writing {}: {e}", jwks_path.display()));
        Self { signer, jwks_path }
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
        self.signer
            .token(ISSUER, AUDIENCE, subject, scope, 3600)
            .unwrap_or_else(|e| panic!("signing a test token: {e}"))
    }
}
