//! The trusted signing keys: a JWKS document from a file (re-read when a token names an unknown `kid`, so a
//! rotated mounted file is picked up) or from a URL (fetched at start, refetched on an unknown `kid` at most
//! once per `min_refresh`).

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
    for jwk in &set.keys {
        let declared = jwk.common.key_algorithm.map(|a| match a {
            jsonwebtoken::jwk::KeyAlgorithm::RS256 => Some(Algorithm::RS256),
            jsonwebtoken::jwk::KeyAlgorithm::ES256 => Some(Algorithm::ES256),
            _ => None,
        });
        // `alg` is optional in a JWK: without it, infer it from the key type for the two algorithms we accept.
        let inferred = match &jwk.algorithm {
            jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
            jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Some(Algorithm::ES256),
            _ => None,
        };
        let Some(alg) = declared.unwrap_or(inferred) else {
            continue;
        };
        if !matches!(alg, Algorithm::RS256 | Algorithm::ES256) {
            continue;
        }
        let key = DecodingKey::from_jwk(jwk).map_err(|e| parse(e.to_string()))?;
        keys.insert(jwk.common.key_id.clone(), (alg, key));
    }
    if keys.is_empty() {
        return Err(parse("no RS256 or ES256 key".to_owned()));
    }
    Ok(keys)
}
