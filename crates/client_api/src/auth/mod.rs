//! Authentication and authorization: bearer JWTs signed with RS256 or ES256, verified against a JWKS (file or
//! URL), with the configured issuer and audience, and two scopes: `clients:read` and `clients:write`.
//!
//! Tokens are judged by RFC 7519 and RFC 8725 (`claims.rs`): the algorithm is pinned per key (each JWKS key
//! verifies with exactly one algorithm, from its `alg` or its type and curve; keys for encryption never
//! verify), `none` and HMAC are refused, keys named by the token (`jwk`, `jku`, `x5u`, `x5c`) are never used,
//! `crit` is refused, only access-token types are accepted, and `exp`, `nbf`, `iat`, `iss`, `aud`, `sub` and
//! `jti` are checked with a 30 s clock leeway.
//!
//! Handlers name what they need by extractor: [`Reader`] (clients:read) or [`Writer`] (clients:write); each
//! yields the [`Principal`], whose subject becomes the actor of audit columns. Failures are 401/403 problems.
//! Tokens, keys and claims other than the subject are never logged.

mod claims;
pub mod dev;
mod jwks;

pub use jwks::{JwksSource, KeySet};

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use http::request::Parts;
use jsonwebtoken::{Algorithm, Validation, errors::ErrorKind};

use crate::error::{ApiError, ProblemKind};

/// The scope for reading.
pub const SCOPE_READ: &str = "clients:read";
/// The scope for writing.
pub const SCOPE_WRITE: &str = "clients:write";

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`.
    pub subject: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
}

impl Principal {
    /// Whether `scope` was granted.
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Verified tokens are remembered (by SHA-256, never the token itself) for at most this long, and never
/// past their `exp`: a signature check (ES256 or RS256) costs far more than the rest of a point read.
const CACHE_TTL: Duration = Duration::from_secs(300);
/// Beyond this many entries the cache starts over (tokens are per client, not per request).
const CACHE_LIMIT: usize = 10_000;

type Digest = [u8; 32];

/// Verifies bearer tokens.
#[derive(Debug)]
pub struct Authenticator {
    keys: KeySet,
    issuer: String,
    audience: String,
    verified: RwLock<HashMap<Digest, (Arc<Principal>, Instant)>>,
}

impl Authenticator {
    /// An authenticator over `keys` for `issuer` and `audience`.
    pub fn new(keys: KeySet, issuer: String, audience: String) -> Self {
        Self {
            keys,
            issuer,
            audience,
            verified: RwLock::new(HashMap::new()),
        }
    }

    /// The principal a token stands for (from the cache of recently verified tokens, or verified now).
    ///
    /// # Errors
    /// A 401 problem saying what is wrong with the token (never echoing it).
    pub async fn verify(&self, token: &str) -> Result<Arc<Principal>, ApiError> {
        use sha2::Digest as _;
        let digest: Digest = sha2::Sha256::digest(token.as_bytes()).into();
        let now = Instant::now();
        if let Some((principal, until)) = self
            .verified
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&digest)
            && *until > now
        {
            return Ok(principal.clone());
        }
        let (principal, exp) = self.verify_signature(token).await?;
        let principal = Arc::new(principal);
        let remaining = exp.saturating_sub(jsonwebtoken::get_current_timestamp());
        let until = now + CACHE_TTL.min(Duration::from_secs(remaining));
        let mut verified = self.verified.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if verified.len() >= CACHE_LIMIT {
            verified.retain(|_, (_, until)| *until > now);
            if verified.len() >= CACHE_LIMIT {
                verified.clear();
            }
        }
        verified.insert(digest, (principal.clone(), until));
        Ok(principal)
    }

    async fn verify_signature(&self, token: &str) -> Result<(Principal, u64), ApiError> {
        let unauthorized = |detail: &str| ApiError::new(ProblemKind::Unauthorized, detail);
        let header = jsonwebtoken::decode_header(token).map_err(|_| unauthorized("the bearer token is not a JWT"))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(unauthorized("the token must be signed with RS256 or ES256"));
        }
        claims::check_header(&header).map_err(unauthorized)?;
        let key = self
            .keys
            .key_for(header.kid.as_deref(), header.alg)
            .await
            .ok_or_else(|| unauthorized("the token's signing key (kid) is not in the trusted key set"))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = claims::LEEWAY_SECS;
        // Off by default in jsonwebtoken: a token must not be used before its `nbf`.
        validation.validate_nbf = true;
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, &key, &validation)
            .map_err(|e| {
                unauthorized(match e.kind() {
                    ErrorKind::ExpiredSignature => "the token has expired",
                    ErrorKind::InvalidIssuer => "the token was issued by an issuer this service does not trust",
                    ErrorKind::InvalidAudience => "the token is not meant for this service (audience)",
                    ErrorKind::ImmatureSignature => "the token is not valid yet",
                    ErrorKind::InvalidSignature => "the token's signature does not verify",
                    ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim (exp, iss, aud, sub)",
                    ErrorKind::InvalidClaimFormat(_) => "the token's exp and nbf must be NumericDates",
                    _ => "the token is not valid",
                })
            })?;
        claims::principal(&data.claims, &self.issuer, jsonwebtoken::get_current_timestamp()).map_err(unauthorized)
    }
}

/// Anything that can hand out the authenticator (the application state).
pub trait HasAuth {
    /// The authenticator.
    fn authenticator(&self) -> &Arc<Authenticator>;
}

async fn authenticate<S: HasAuth>(parts: &Parts, state: &S, scope: &'static str) -> Result<Arc<Principal>, ApiError> {
    let header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::new(ProblemKind::Unauthorized, "send Authorization: Bearer <token>"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                ProblemKind::Unauthorized,
                "the Authorization header must be `Bearer <token>`",
            )
        })?;
    let principal = state.authenticator().verify(token).await?;
    if !principal.has(scope) {
        return Err(ApiError::new(
            ProblemKind::Forbidden,
            format!("this endpoint needs the scope {scope}"),
        ));
    }
    Ok(principal)
}

/// A caller with `clients:read`.
#[derive(Debug, Clone)]
pub struct Reader(pub Arc<Principal>);

/// A caller with `clients:write`.
#[derive(Debug, Clone)]
pub struct Writer(pub Arc<Principal>);

impl<S: HasAuth + Send + Sync> FromRequestParts<S> for Reader {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        authenticate(parts, state, SCOPE_READ).await.map(Reader)
    }
}

impl<S: HasAuth + Send + Sync> FromRequestParts<S> for Writer {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        authenticate(parts, state, SCOPE_WRITE).await.map(Writer)
    }
}
