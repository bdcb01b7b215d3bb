//! Bearer tokens judged by the whole standard, over real HTTP: the service on an ephemeral port, its JWKS
//! served by a stand-in identity provider on another (`PCC_AUTH_JWKS_URL`'s path, fetched with reqwest), and
//! one test per attack class of RFC 8725 (JWT best current practice) and per registered claim of RFC 7519.
//!
//! The identity provider publishes, the way real ones do, several keys: an ES256 key and an RS256 key with
//! their `alg`, a P-256 key without `alg` (pinned to ES256 by its type and curve), an RSA key for encryption
//! (`use: enc`), and a P-384 key without `alg` (ES384, which the service does not accept). Each test sends the
//! valid token first, so a refusal is the attack's and not a broken setup's.
//!
//! The RSA and P-384 keys are fixtures (`tests/fixtures/jwt-test-*.pem`, generated with
//! `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048` and
//! `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384` for these tests only).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use client_api::AppState;
use client_api::auth::{Authenticator, JwksSource, KeySet};
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::TestApp;

const ISSUER: &str = "https://idp.test/";
const AUDIENCE: &str = "pcc-client-api";
const RSA_PEM: &str = include_str!("../fixtures/jwt-test-rsa.pem");
const RSA_PUBLIC_PEM: &str = include_str!("../fixtures/jwt-test-rsa.pub.pem");
const P384_PEM: &str = include_str!("../fixtures/jwt-test-p384.pem");

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn p256_key() -> EncodingKey {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap()
}

fn jwk(key: &EncodingKey, alg: Algorithm, kid: &str, declare_alg: bool, usage: Option<PublicKeyUse>) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(key, alg).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = usage;
    if !declare_alg {
        jwk.common.key_algorithm = None;
    }
    jwk
}

/// The stand-in identity provider: its keys, and a JWKS endpoint that counts its fetches.
struct Idp {
    es: EncodingKey,
    rs: EncodingKey,
    es_noalg: EncodingKey,
    p384: EncodingKey,
    attacker: EncodingKey,
    jwks_url: String,
    fetches: Arc<AtomicUsize>,
}

impl Idp {
    async fn start() -> Idp {
        let es = p256_key();
        let rs = EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap();
        let es_noalg = p256_key();
        let p384 = EncodingKey::from_ec_pem(P384_PEM.as_bytes()).unwrap();
        let enc = EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap();
        let mut verify_only_for_encryption = jwk(&enc, Algorithm::RS256, "rs-ops-encrypt", true, None);
        verify_only_for_encryption.common.key_operations = Some(vec![KeyOperations::Encrypt]);
        let set = JwkSet {
            keys: vec![
                jwk(&es, Algorithm::ES256, "es-1", true, Some(PublicKeyUse::Signature)),
                jwk(&rs, Algorithm::RS256, "rs-1", true, Some(PublicKeyUse::Signature)),
                jwk(&es_noalg, Algorithm::ES256, "es-noalg", false, None),
                jwk(&enc, Algorithm::RS256, "rs-enc", true, Some(PublicKeyUse::Encryption)),
                verify_only_for_encryption,
                jwk(&p384, Algorithm::ES384, "p384", false, None),
            ],
        };
        let body = serde_json::to_string(&set).unwrap();
        let fetches = Arc::new(AtomicUsize::new(0));
        let counter = fetches.clone();
        let app = axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let body = body.clone();
                async move { ([("content-type", "application/json")], body) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let jwks_url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Idp {
            es,
            rs,
            es_noalg,
            p384,
            attacker: p256_key(),
            jwks_url,
            fetches,
        }
    }
}

/// Claims of a valid token; tests change one thing at a time.
fn claims() -> Value {
    let now = jsonwebtoken::get_current_timestamp();
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "scope": "clients:read clients:write",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

fn header(alg: Algorithm, kid: &str) -> Header {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    header
}

fn sign(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    jsonwebtoken::encode(header, claims, key).unwrap()
}

/// A token assembled by hand: any header JSON, any claims, any signature bytes.
fn assemble(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(signature)
    )
}

/// The service over real HTTP, trusting the identity provider's JWKS by URL.
struct Service {
    _app: TestApp,
    base: String,
    http: reqwest::Client,
    stop: CancellationToken,
    idp: Idp,
}

impl Service {
    async fn start() -> Service {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let app = TestApp::new().await;
        let idp = Idp::start().await;
        let keys = KeySet::load(JwksSource::Url(idp.jwks_url.clone()))
            .await
            .expect("the JWKS by URL");
        let auth = Authenticator::new(keys, ISSUER.to_owned(), AUDIENCE.to_owned());
        let state = AppState::new(app.state.db.clone(), Arc::new(auth), None);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        tokio::spawn(client_api::server::serve(
            listener,
            state,
            app.http.clone(),
            stop.clone(),
        ));
        Service {
            _app: app,
            base,
            http: reqwest::Client::new(),
            stop,
            idp,
        }
    }

    /// The status and problem detail of a list read with `token`.
    async fn read(&self, token: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}/v1/clients?limit=1", self.base))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        (status, body["detail"].as_str().unwrap_or_default().to_owned())
    }

    /// Asserts the valid token is accepted, then that each attack is refused with 401.
    async fn refuses(&self, valid: &str, attacks: &[(impl std::fmt::Display, String)]) {
        assert_eq!(
            self.read(valid).await.0,
            200,
            "the valid token of this test is accepted"
        );
        let mut accepted = Vec::new();
        for (what, token) in attacks {
            let (status, detail) = self.read(token).await;
            if status != 401 {
                accepted.push(format!("{what}: {status} {detail}"));
            }
        }
        assert!(accepted.is_empty(), "attacks not refused with 401: {accepted:#?}");
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[tokio::test]
async fn tokens_verify_against_a_jwks_fetched_by_url() {
    let service = Service::start().await;
    assert_eq!(service.idp.fetches.load(Ordering::SeqCst), 1, "fetched once at start");
    let es = sign(&header(Algorithm::ES256, "es-1"), &claims(), &service.idp.es);
    let rs = sign(&header(Algorithm::RS256, "rs-1"), &claims(), &service.idp.rs);
    let noalg = sign(&header(Algorithm::ES256, "es-noalg"), &claims(), &service.idp.es_noalg);
    for token in [&es, &rs, &noalg] {
        assert_eq!(service.read(token).await.0, 200);
    }
    // Explicitly typed access tokens (RFC 9068) and plain JWTs are both access tokens.
    let mut typed = header(Algorithm::ES256, "es-1");
    typed.typ = Some("at+jwt".to_owned());
    assert_eq!(service.read(&sign(&typed, &claims(), &service.idp.es)).await.0, 200);
    // An audience list that names this service, among others, is meant for it (RFC 7519 4.1.3).
    let mut several = claims();
    several["aud"] = json!(["another-api", AUDIENCE]);
    assert_eq!(
        service
            .read(&sign(&header(Algorithm::ES256, "es-1"), &several, &service.idp.es))
            .await
            .0,
        200
    );
    assert_eq!(
        service.idp.fetches.load(Ordering::SeqCst),
        1,
        "known keys need no refetch"
    );
}

#[tokio::test]
async fn alg_none_is_refused() {
    let service = Service::start().await;
    let valid = sign(&header(Algorithm::ES256, "es-1"), &claims(), &service.idp.es);
    let mut attacks = Vec::new();
    for alg in ["none", "None", "NONE", "nOnE"] {
        for signature in [&b""[..], b"x"] {
            attacks.push((
                "alg none",
                assemble(&json!({"alg": alg, "typ": "JWT", "kid": "es-1"}), &claims(), signature),
            ));
        }
    }
    // Unsigned, with the signature part missing altogether.
    let unsigned = assemble(&json!({"alg": "none"}), &claims(), b"");
    attacks.push(("two parts only", unsigned.trim_end_matches('.').to_owned()));
    service.refuses(&valid, &attacks).await;
}

#[tokio::test]
async fn hmac_signed_with_the_public_key_is_refused() {
    // Algorithm confusion: the public key (PEM as published, or the JWK's modulus) used as an HMAC secret.
    let service = Service::start().await;
    let valid = sign(&header(Algorithm::RS256, "rs-1"), &claims(), &service.idp.rs);
    let rsa_jwk = Jwk::from_encoding_key(&service.idp.rs, Algorithm::RS256).unwrap();
    let jwk_json = serde_json::to_vec(&rsa_jwk).unwrap();
    let mut attacks = Vec::new();
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        for secret in [RSA_PUBLIC_PEM.as_bytes(), &jwk_json] {
            for kid in ["rs-1", "es-1"] {
                attacks.push((
                    "HMAC with the public key",
                    sign(&header(alg, kid), &claims(), &EncodingKey::from_secret(secret)),
                ));
            }
        }
    }
    service.refuses(&valid, &attacks).await;
}

#[tokio::test]
async fn the_algorithm_is_pinned_per_key() {
    let service = Service::start().await;
    let idp = &service.idp;
    let valid = sign(&header(Algorithm::ES256, "es-noalg"), &claims(), &idp.es_noalg);
    let attacks = vec![
        // The RSA key's kid with another algorithm family.
        (
            "ES256 under the RS256 key's kid",
            sign(&header(Algorithm::ES256, "rs-1"), &claims(), &idp.es),
        ),
        // RSA-PSS and larger hashes with the RS256 key: same key, other algorithm.
        (
            "PS256 with the RS256 key",
            sign(&header(Algorithm::PS256, "rs-1"), &claims(), &idp.rs),
        ),
        (
            "RS512 with the RS256 key",
            sign(&header(Algorithm::RS512, "rs-1"), &claims(), &idp.rs),
        ),
        // The EC key's kid with RS256.
        (
            "RS256 under the ES256 key's kid",
            sign(&header(Algorithm::RS256, "es-1"), &claims(), &idp.rs),
        ),
        // A P-384 key without `alg` is ES384, which the service does not accept.
        (
            "ES384 with the P-384 key",
            sign(&header(Algorithm::ES384, "p384"), &claims(), &idp.p384),
        ),
        // The key published without `alg` is pinned to what its type and curve allow.
        (
            "RS256 under a P-256 key's kid",
            sign(&header(Algorithm::RS256, "es-noalg"), &claims(), &idp.rs),
        ),
    ];
    service.refuses(&valid, &attacks).await;
}

#[tokio::test]
async fn keys_published_for_encryption_never_verify() {
    let service = Service::start().await;
    let valid = sign(&header(Algorithm::RS256, "rs-1"), &claims(), &service.idp.rs);
    // Same RSA key material as published with `use: enc` and with `key_ops: [encrypt]`.
    let attacks = vec![
        (
            "use: enc",
            sign(&header(Algorithm::RS256, "rs-enc"), &claims(), &service.idp.rs),
        ),
        (
            "key_ops without verify",
            sign(&header(Algorithm::RS256, "rs-ops-encrypt"), &claims(), &service.idp.rs),
        ),
    ];
    service.refuses(&valid, &attacks).await;
}

#[tokio::test]
async fn unknown_and_injected_kids_are_refused_without_a_fetch_storm() {
    let service = Service::start().await;
    let valid = sign(&header(Algorithm::ES256, "es-1"), &claims(), &service.idp.es);
    let mut attacks = Vec::new();
    for kid in [
        "no-such-key",
        "../../../../etc/passwd",
        "' OR '1'='1",
        "es-1\u{0}",
        "es-1 ",
        "ES-1",
        "http://attacker.test/key.pem",
        &"k".repeat(4096),
    ] {
        attacks.push((
            "injected kid",
            sign(&header(Algorithm::ES256, kid), &claims(), &service.idp.es),
        ));
    }
    // Without a kid, a set with several ES256 keys is ambiguous.
    let mut no_kid = Header::new(Algorithm::ES256);
    no_kid.kid = None;
    attacks.push(("no kid", sign(&no_kid, &claims(), &service.idp.es)));
    service.refuses(&valid, &attacks).await;
    // Unknown kids refetch the set at most once per refresh interval, not once per token.
    let fetches = service.idp.fetches.load(Ordering::SeqCst);
    assert!(fetches <= 2, "{fetches} JWKS fetches for {} forged kids", attacks.len());
}

#[tokio::test]
async fn keys_named_by_the_token_itself_are_ignored() {
    // jwk / jku / x5u / x5c headers: the attacker supplies the key. Only the service's own JWKS counts.
    let service = Service::start().await;
    let attacker = &service.idp.attacker;
    let valid = sign(&header(Algorithm::ES256, "es-1"), &claims(), &service.idp.es);
    let attacker_jwk = jwk(attacker, Algorithm::ES256, "es-1", true, Some(PublicKeyUse::Signature));
    let mut embedded = header(Algorithm::ES256, "es-1");
    embedded.jwk = Some(attacker_jwk.clone());
    let mut by_url = header(Algorithm::ES256, "attacker");
    by_url.jku = Some("http://127.0.0.1:9/jwks.json".to_owned());
    let mut x5u = header(Algorithm::ES256, "attacker");
    x5u.x5u = Some("http://127.0.0.1:9/cert.pem".to_owned());
    let mut no_kid_embedded = Header::new(Algorithm::ES256);
    no_kid_embedded.jwk = Some(attacker_jwk);
    let attacks = vec![
        ("embedded jwk", sign(&embedded, &claims(), attacker)),
        ("jku", sign(&by_url, &claims(), attacker)),
        ("x5u", sign(&x5u, &claims(), attacker)),
        ("embedded jwk without kid", sign(&no_kid_embedded, &claims(), attacker)),
    ];
    service.refuses(&valid, &attacks).await;
}

#[tokio::test]
async fn critical_header_extensions_are_refused() {
    // RFC 7515 4.1.11: a recipient that does not understand a `crit` extension must reject the token.
    let service = Service::start().await;
    let valid = sign(&header(Algorithm::ES256, "es-1"), &claims(), &service.idp.es);
    let mut attacks = Vec::new();
    for crit in [vec!["exp"], vec!["b64"], vec!["http://example.com/ext"], vec![]] {
        let mut h = header(Algorithm::ES256, "es-1");
        h.crit = Some(crit.iter().map(|c| (*c).to_owned()).collect());
        h.extras.insert("b64", false);
        attacks.push((format!("crit {crit:?}"), sign(&h, &claims(), &service.idp.es)));
    }
    service.refuses(&valid, &attacks).await;
}

#[tokio::test]
async fn tokens_of_other_types_are_refused() {
    // RFC 8725 3.11 (explicit typing): an ID token, a logout token, a DPoP proof or a security event signed by
    // the same issuer are not access tokens for this service.
    let service = Service::start().await;
    let valid = sign(&header(Algorithm::ES256, "es-1"), &claims(), &service.idp.es);
    let mut attacks = Vec::new();
    for typ in [
        "dpop+jwt",
        "logout+jwt",
        "secevent+jwt",
        "id_token+jwt",
        "JOSE+JSON",
        "application/jwk+json",
        "",
    ] {
        let mut h = header(Algorithm::ES256, "es-1");
        h.typ = Some(typ.to_owned());
        attacks.push((format!("typ {typ:?}"), sign(&h, &claims(), &service.idp.es)));
    }
    service.refuses(&valid, &attacks).await;
}

/// Signs `claims` with the ES256 key.
fn with_claims(service: &Service, claims: &Value) -> String {
    sign(&header(Algorithm::ES256, "es-1"), claims, &service.idp.es)
}

/// `claims()` with `key` set to `value` (or removed when `value` is null).
fn changed(key: &str, value: Value) -> Value {
    let mut c = claims();
    if value.is_null() {
        c.as_object_mut().unwrap().remove(key);
    } else {
        c[key] = value;
    }
    c
}

#[tokio::test]
async fn the_audience_must_name_this_service() {
    let service = Service::start().await;
    let valid = with_claims(&service, &claims());
    let attacks = [
        ("another service", json!("pcc-billing-api")),
        ("several others", json!(["pcc-billing-api", "pcc-reports"])),
        ("empty list", json!([])),
        ("a prefix", json!("pcc-client")),
        ("not a string", json!(42)),
        ("missing", Value::Null),
    ]
    .map(|(what, aud)| (what, with_claims(&service, &changed("aud", aud))));
    service.refuses(&valid, &attacks).await;
}

#[tokio::test]
async fn the_issuer_must_be_exactly_the_trusted_one() {
    let service = Service::start().await;
    let valid = with_claims(&service, &claims());
    let attacks = [
        ("another issuer", json!("https://evil.test/")),
        ("without the trailing slash", json!("https://idp.test")),
        // RFC 7519 4.1.1: `iss` is one StringOrURI, not a list that merely contains the trusted one.
        ("a list holding it", json!(["https://evil.test/", ISSUER])),
        ("not a string", json!(1)),
        ("missing", Value::Null),
    ]
    .map(|(what, iss)| (what, with_claims(&service, &changed("iss", iss))));
    service.refuses(&valid, &attacks).await;
}

#[tokio::test]
async fn tokens_outside_their_validity_window_are_refused() {
    // exp (RFC 7519 4.1.4), nbf (4.1.5), iat (4.1.6), with the service's 30 s clock leeway.
    let service = Service::start().await;
    let now = jsonwebtoken::get_current_timestamp();
    let valid = with_claims(&service, &claims());
    let attacks = [
        ("expired", "exp", json!(now - 120)),
        ("exp missing", "exp", Value::Null),
        ("exp a string", "exp", json!("tomorrow")),
        ("not valid before an hour from now", "nbf", json!(now + 3600)),
        ("nbf a string", "nbf", json!("soon")),
        ("issued an hour in the future", "iat", json!(now + 3600)),
        ("iat a string", "iat", json!("now")),
    ]
    .map(|(what, key, value)| (what, with_claims(&service, &changed(key, value))));
    service.refuses(&valid, &attacks).await;
}

#[tokio::test]
async fn the_subject_and_token_id_must_be_well_formed() {
    let service = Service::start().await;
    let valid = with_claims(&service, &claims());
    let attacks = [
        ("sub missing", "sub", Value::Null),
        ("sub empty", "sub", json!("")),
        ("sub not a string", "sub", json!(7)),
        ("sub with a control character", "sub", json!("alice\nadmin")),
        ("sub too long", "sub", json!("a".repeat(201))),
        ("jti not a string", "jti", json!(12)),
    ]
    .map(|(what, key, value)| (what, with_claims(&service, &changed(key, value))));
    service.refuses(&valid, &attacks).await;
}

#[tokio::test]
async fn altered_and_foreign_signed_tokens_are_refused() {
    let service = Service::start().await;
    let valid = with_claims(&service, &claims());
    let parts: Vec<&str> = valid.split('.').collect();
    // The payload changed after signing (a broader scope, another subject).
    let mut broader = claims();
    broader["sub"] = json!("admin");
    let altered = format!("{}.{}.{}", parts[0], b64(broader.to_string().as_bytes()), parts[2]);
    // Signed by a key that is not in the set, under a trusted kid.
    let foreign = sign(&header(Algorithm::ES256, "es-1"), &claims(), &service.idp.attacker);
    // The signature truncated, or from another token.
    let truncated = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..parts[2].len() - 4]);
    let other = with_claims(&service, &changed("sub", json!("bob")));
    let swapped = format!("{}.{}.{}", parts[0], parts[1], other.split('.').nth(2).unwrap());
    let attacks = vec![
        ("altered payload", altered),
        ("foreign key", foreign),
        ("truncated signature", truncated),
        ("another token's signature", swapped),
        ("four parts", format!("{valid}.x")),
    ];
    service.refuses(&valid, &attacks).await;
}

#[tokio::test]
async fn a_token_without_the_scope_is_forbidden() {
    let service = Service::start().await;
    for scope in [
        json!(null),
        json!(""),
        json!("clients:write"),
        json!("clients:read:all"),
    ] {
        let token = with_claims(&service, &changed("scope", scope.clone()));
        assert_eq!(service.read(&token).await.0, 403, "scope {scope}");
    }
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_from_the_url() {
    // The identity provider rotates: the service refetches the set when a token names a kid it has not seen.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fresh = p256_key();
    let first = JwkSet {
        keys: vec![jwk(
            &p256_key(),
            Algorithm::ES256,
            "old",
            true,
            Some(PublicKeyUse::Signature),
        )],
    };
    let second = JwkSet {
        keys: vec![jwk(
            &fresh,
            Algorithm::ES256,
            "new",
            true,
            Some(PublicKeyUse::Signature),
        )],
    };
    let served = Arc::new(std::sync::Mutex::new(serde_json::to_string(&first).unwrap()));
    let body = served.clone();
    let jwks = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let text = body.lock().unwrap().clone();
            async move { text }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, jwks).await });
    let keys = KeySet::load(JwksSource::Url(url))
        .await
        .unwrap()
        .with_min_refresh(Duration::from_millis(100));
    let auth = Authenticator::new(keys, ISSUER.to_owned(), AUDIENCE.to_owned());
    let token = sign(&header(Algorithm::ES256, "new"), &claims(), &fresh);
    assert!(auth.verify(&token).await.is_err(), "the new key is not published yet");
    *served.lock().unwrap() = serde_json::to_string(&second).unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(auth.verify(&token).await.unwrap().subject, "alice");
}
