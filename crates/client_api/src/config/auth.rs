//! Token verification settings.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PCC_AUTH_JWKS_FILE` | - | a JWKS file (e.g. a mounted secret); re-read when a token names an unknown key |
//! | `PCC_AUTH_JWKS_URL` | - | a JWKS URL (the identity provider's); exactly one of file or URL |
//! | `PCC_AUTH_ISSUER` | required with a JWKS | the `iss` tokens must carry |
//! | `PCC_AUTH_AUDIENCE` | `pcc-client-api` | the `aud` tokens must carry |
//!
//! With none of them set, the embedded default creates a development key and JWKS under `.pcc/api/`.

use std::path::PathBuf;

use super::{ConfigError, Env};
use crate::auth::JwksSource;

/// Token verification settings.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Where the keys come from.
    pub jwks: JwksSource,
    /// Required issuer.
    pub issuer: String,
    /// Required audience.
    pub audience: String,
}

impl AuthConfig {
    /// Reads the variables above; `None` when no JWKS is configured.
    ///
    /// # Errors
    /// Both or neither source with an issuer, or a JWKS without an issuer.
    pub fn from_env(env: &dyn Env) -> Result<Option<Self>, ConfigError> {
        let jwks = match (env.var("PCC_AUTH_JWKS_FILE"), env.var("PCC_AUTH_JWKS_URL")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "PCC_AUTH_JWKS_URL",
                    "set either PCC_AUTH_JWKS_FILE or PCC_AUTH_JWKS_URL, not both",
                ));
            }
            (Some(file), None) => JwksSource::File(PathBuf::from(file)),
            (None, Some(url)) => {
                if !(url.starts_with("https://")
                    || url.starts_with("http://127.")
                    || url.starts_with("http://localhost"))
                {
                    return Err(ConfigError::new(
                        "PCC_AUTH_JWKS_URL",
                        "must be an https:// URL (plain http only on loopback)",
                    ));
                }
                JwksSource::Url(url)
            }
            (None, None) => {
                if env.var("PCC_AUTH_ISSUER").is_some() {
                    return Err(ConfigError::new(
                        "PCC_AUTH_ISSUER",
                        "is set but neither PCC_AUTH_JWKS_FILE nor PCC_AUTH_JWKS_URL is",
                    ));
                }
                return Ok(None);
            }
        };
        let issuer = env
            .var("PCC_AUTH_ISSUER")
            .ok_or_else(|| ConfigError::new("PCC_AUTH_ISSUER", "is required when a JWKS is configured"))?;
        let audience = env
            .var("PCC_AUTH_AUDIENCE")
            .unwrap_or_else(|| "pcc-client-api".to_owned());
        Ok(Some(Self { jwks, issuer, audience }))
    }
}
