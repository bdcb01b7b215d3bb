//! The trusted signing keys: a JWKS document from a file (re-read when a token names an unknown `kid`, so a
//! rotated mounted file is picked up) or from a URL (fetched at start, refetched on an unknown `kid` at most
//! once per `min_refresh`).
//!
//! Each key is pinned to exactly one algorithm (RFC 8725 3.1): its `alg`, or without one what its type and
//! curve allow (RSA: RS256, EC P-256: ES256); a token must name that algorithm. Keys that are not for
//! verifying signatures (`use` other than `sig`, `key_ops` without `verify`), EC keys on other curves, RSA keys
//! under 2048 bits, keys whose `alg` contradicts their type, and a `kid` that several keys share are left out
//! (logged), so they can never verify a token.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::RwLock;

/// Where the JWKS comes from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    /// A local file (mounted secret, or the embedded default's .pcc/api/jwks.json).
    File(PathBuf),
    /// An HTTPS (or loopback HTTP) URL.
    Url(String),
}

/// Why the key set could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The file could not be read.
    #[error("reading JWKS file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The URL could not be fetched.
    #[error("fetching JWKS from {url}: {detail}")]
    Fetch {
        /// The URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The document is not a JWKS.
    #[error("the JWKS from {origin} is not a valid key set: {detail}")]
    Parse {
        /// File or URL.
        origin: String,
        /// The parser's message.
        detail: String,
    },
}

struct Loaded {
    keys: HashMap<Option<String>, (Algorithm, DecodingKey)>,
    at: Instant,
}

/// The cached key set.
pub struct KeySet {
    source: JwksSource,
    http: Option<reqwest::Client>,
    min_refresh: Duration,
    loaded: RwLock<Loaded>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl KeySet {
    /// Loads the keys once.
    ///
    /// # Errors
    /// [`JwksError`] when the source cannot be read or parsed.
    pub async fn load(source: JwksSource) -> Result<Self, JwksError> {
        let http = match &source {
            JwksSource::Url(_) => Some(http_client()),
            JwksSource::File(_) => None,
        };
        let keys = fetch(&source, http.as_ref()).await?;
        Ok(Self {
            source,
            http,
            min_refresh: Duration::from_secs(30),
            loaded: RwLock::new(Loaded {
                keys,
                at: Instant::now(),
            }),
        })
    }

    /// Refetches at most once per `interval` when a token names an unknown key (default 30 s).
    #[must_use]
    pub fn with_min_refresh(mut self, interval: Duration) -> Self {
        self.min_refresh = interval;
        self
    }

    /// The verification key for `kid` and `alg`, refreshing the set once when the kid is unknown.
    pub async fn key_for(&self, kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
        let lookup = |loaded: &Loaded| {
            let found = match kid {
                Some(kid) => loaded.keys.get(&Some(kid.to_owned())),
                // Without a kid, a set holding exactly one key of the token's algorithm is unambiguous.
                None => {
                    let mut matching = loaded.keys.values().filter(|(a, _)| *a == alg);
                    match (matching.next(), matching.next()) {
                        (Some(one), None) => Some(one),
                        _ => None,
                    }
                }
            };
            found.filter(|(a, _)| *a == alg).map(|(_, k)| k.clone())
        };
        {
            let loaded = self.loaded.read().await;
            if let Some(key) = lookup(&loaded) {
                return Some(key);
            }
            if loaded.at.elapsed() < self.min_refresh {
                return None;
            }
        }
        let mut loaded = self.loaded.write().await;
        if loaded.at.elapsed() >= self.min_refresh {
            match fetch(&self.source, self.http.as_ref()).await {
                Ok(keys) => {
                    *loaded = Loaded {
                        keys,
                        at: Instant::now(),
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not refresh the JWKS; keeping the previous keys");
                    loaded.at = Instant::now();
                }
            }
        }
        lookup(&loaded)
    }
}

fn http_client() -> reqwest::Client {
    // reqwest is built without a crypto provider; the house rule is ring (installing twice is harmless).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default()
}

async fn fetch(
    source: &JwksSource,
    http: Option<&reqwest::Client>,
) -> Result<HashMap<Option<String>, (Algorithm, DecodingKey)>, JwksError> {
    let (origin, text) = match source {
        JwksSource::File(path) => {
            let text = tokio::fs::read_to_string(path)
                .await
                .map_err(|source| JwksError::Read {
                    path: path.clone(),
                    source,
                })?;
            (path.display().to_string(), text)
        }
        JwksSource::Url(url) => {
            let client = http.cloned().unwrap_or_else(http_client);
            let fail = |detail: String| JwksError::Fetch {
                url: url.clone(),
                detail,
            };
            let response = client.get(url).send().await.map_err(|e| fail(e.to_string()))?;
            if !response.status().is_success() {
                return Err(fail(format!("HTTP {}", response.status())));
            }
            (url.clone(), response.text().await.map_err(|e| fail(e.to_string()))?)
        }
    };
    let parse = |detail: String| JwksError::Parse {
        origin: origin.clone(),
        detail,
    };
    let set: JwkSet = serde_json::from_str(&text).map_err(|e| parse(e.to_string()))?;
    let mut keys = HashMap::new();
    let mut shared_kids = Vec::new();
    for jwk in &set.keys {
        let alg = match pinned_algorithm(jwk) {
            Ok(alg) => alg,
            Err(reason) => {
                tracing::info!(kid = ?jwk.common.key_id, reason, "JWKS key left out: it can never verify a token");
                continue;
            }
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|e| parse(e.to_string()))?;
        if keys.insert(jwk.common.key_id.clone(), (alg, key)).is_some() {
            shared_kids.push(jwk.common.key_id.clone());
        }
    }
    for kid in shared_kids {
        // Which of them a token meant is unknowable: neither verifies.
        tracing::warn!(?kid, "several JWKS keys share this kid; none of them is used");
        keys.remove(&kid);
    }
    if keys.is_empty() {
        return Err(parse("no usable RS256 or ES256 signing key".to_owned()));
    }
    Ok(keys)
}

/// The one algorithm a JWK may verify, or why it may verify none.
fn pinned_algorithm(jwk: &jsonwebtoken::jwk::Jwk) -> Result<Algorithm, &'static str> {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, KeyAlgorithm, KeyOperations, PublicKeyUse};
    match &jwk.common.public_key_use {
        None | Some(PublicKeyUse::Signature) => {}
        Some(_) => return Err("its use is not sig"),
    }
    if let Some(ops) = &jwk.common.key_operations
        && !ops.iter().any(|op| matches!(op, KeyOperations::Verify))
    {
        return Err("its key_ops do not include verify");
    }
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            // RFC 8725 3.5 and NIST: RSA keys of at least 2048 bits.
            let modulus = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &rsa.n)
                .map_err(|_| "its RSA modulus is not base64url")?;
            let bits = modulus.iter().skip_while(|b| **b == 0).count() * 8;
            if bits < 2048 {
                return Err("its RSA modulus is shorter than 2048 bits");
            }
            Algorithm::RS256
        }
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
        AlgorithmParameters::EllipticCurve(_) => return Err("its curve is not P-256"),
        _ => return Err("its key type is neither RSA nor EC"),
    };
    match jwk.common.key_algorithm {
        None => Ok(by_type),
        Some(KeyAlgorithm::RS256) if by_type == Algorithm::RS256 => Ok(by_type),
        Some(KeyAlgorithm::ES256) if by_type == Algorithm::ES256 => Ok(by_type),
        Some(KeyAlgorithm::RS256 | KeyAlgorithm::ES256) => Err("its alg contradicts its key type"),
        Some(_) => Err("its alg is neither RS256 nor ES256"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn load(set: serde_json::Value) -> Result<KeySet, JwksError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        std::fs::write(&path, set.to_string()).unwrap();
        KeySet::load(JwksSource::File(path)).await
    }

    fn ec(kid: &str) -> serde_json::Value {
        // A P-256 public key (the curve's generator point), enough to build a verification key.
        serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": kid,
            "x": "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY",
            "y": "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU",
        })
    }

    #[tokio::test]
    async fn small_rsa_keys_shared_kids_and_foreign_curves_never_verify() {
        // The 2048-bit modulus of RFC 7517 Appendix A.1; `tiny` is its first 128 bits.
        let rsa_2048 = serde_json::json!({"kty": "RSA", "kid": "rsa-2048", "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"});
        let tiny_rsa = serde_json::json!({"kty": "RSA", "kid": "tiny", "n": "sXchDaQebHnPiGvyDOAT4w", "e": "AQAB"});
        let mut p384 = ec("p384");
        p384["crv"] = "P-384".into();
        let set = serde_json::json!({"keys": [rsa_2048, tiny_rsa, p384, ec("twice"), ec("twice"), ec("ok")]});
        let keys = load(set).await.unwrap();
        assert!(
            keys.key_for(Some("rsa-2048"), Algorithm::RS256).await.is_some(),
            "2048 bits suffice"
        );
        for kid in ["tiny", "p384", "twice"] {
            assert!(keys.key_for(Some(kid), Algorithm::ES256).await.is_none(), "{kid}");
            assert!(keys.key_for(Some(kid), Algorithm::RS256).await.is_none(), "{kid}");
        }
        assert!(keys.key_for(Some("ok"), Algorithm::ES256).await.is_some());
        assert!(
            keys.key_for(Some("ok"), Algorithm::RS256).await.is_none(),
            "pinned to ES256"
        );
        // A set with nothing usable is refused at load, naming why.
        let err = load(serde_json::json!({"keys": [ec("a"), ec("a")]})).await.unwrap_err();
        assert!(
            err.to_string().contains("no usable RS256 or ES256 signing key"),
            "{err}"
        );
    }
}
