//! The `SecretStore` methods of [`GcpSecretManager`]: one authenticated request helper with the
//! retry policy (`retry.rs`) and error mapping (`errors.rs`), and the API calls built on it.

use base64::Engine as _;
use futures_util::future::{BoxFuture, FutureExt as _};
use reqwest::Method;
use secrecy::{ExposeSecret as _, SecretString};
use std::collections::BTreeMap;
use std::time::Duration;
use time::OffsetDateTime;

use super::GcpSecretManager;
use super::errors::CallContext;
use super::retry::{self, Backoff, GiveUp};
use super::wire;
use crate::error::SecretError;
use crate::name::{AliasName, SecretName, VersionId, VersionRef};
use crate::store::{SecretStore, SecretVersion, VersionInfo, VersionState};

/// Whether a failed call may be sent again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Reads and idempotent writes: retry on 429, 5xx and transport errors.
    Idempotent,
    /// `addVersion`: retry only what cannot have been applied: a 429 (refused by quota before
    /// anything ran) or a request that never reached the server.
    OnlyUnapplied,
}

/// One API request.
struct Call<'a> {
    operation: &'static str,
    secret: &'a SecretName,
    version: Option<String>,
    method: Method,
    path: String,
    query: &'a [(&'a str, &'a str)],
    body: Option<Vec<u8>>,
    retry: Retry,
}

impl<'a> Call<'a> {
    fn new(operation: &'static str, secret: &'a SecretName, method: Method, path: String) -> Self {
        Self {
            operation,
            secret,
            version: None,
            method,
            path,
            query: &[],
            body: None,
            retry: Retry::Idempotent,
        }
    }

    fn version(mut self, version: &dyn std::fmt::Display) -> Self {
        self.version = Some(version.to_string());
        self
    }

    fn query(mut self, query: &'a [(&'a str, &'a str)]) -> Self {
        self.query = query;
        self
    }

    fn body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }
}

/// A listed version's state; one whose destruction is scheduled (delayed destruction) counts
/// as destroyed: it is disabled now and will be gone, and destroying it again is refused.
fn version_state(v: &wire::Version) -> VersionState {
    match v.state.as_deref() {
        Some("ENABLED") => VersionState::Enabled,
        Some("DISABLED") if v.scheduled_destroy_time.is_some() => VersionState::Destroyed,
        Some("DISABLED") => VersionState::Disabled,
        _ => VersionState::Destroyed,
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl GcpSecretManager {
    fn secret_path(&self, name: &SecretName) -> String {
        format!("projects/{}/secrets/{}", self.project, name)
    }

    /// Sends one API request with authentication and the retry policy; returns the body of a
    /// 2xx answer or the mapped error.
    async fn call(&self, call: Call<'_>) -> Result<bytes::Bytes, SecretError> {
        let ctx = CallContext {
            operation: call.operation,
            secret: call.secret,
            version: call.version.clone(),
            resource: &call.path,
        };
        let mut url = self
            .api_base
            .join(&format!("v1/{}", call.path))
            .map_err(|e| SecretError::Malformed {
                store: self.describe(),
                what: "request URL".to_owned(),
                detail: e.to_string(),
            })?;
        // Errors name the URL without its query string (page tokens are noise there).
        let shown = url.to_string();
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(call.query);
        }
        let mut backoff = Backoff::start(self.retry);
        let mut refreshed_token = false;
        loop {
            backoff.attempted();
            let token = self.tokens.token(&self.http).await?;
            let mut request = self
                .http
                .request(call.method.clone(), url.clone())
                .bearer_auth(token.expose_secret());
            if let Some(project) = self.tokens.source().quota_project() {
                request = request.header("x-goog-user-project", project);
            }
            if let Some(body) = &call.body {
                request = request.header("content-type", "application/json").body(body.clone());
            }
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    let may_retry = call.retry == Retry::Idempotent || e.is_connect();
                    if may_retry && backoff.wait(None).await.is_ok() {
                        tracing::debug!(gcp.operation = call.operation, error = %e, attempt = backoff.attempts(), "retrying secret manager call");
                        continue;
                    }
                    return Err(SecretError::Http { url: shown, source: e });
                }
            };
            let status = response.status();
            if status.is_success() {
                return response
                    .bytes()
                    .await
                    .map_err(|e| SecretError::Http { url: shown, source: e });
            }
            let code = status.as_u16();
            if code == 401 && !refreshed_token {
                // The token expired early or was revoked: fetch a new one, once.
                refreshed_token = true;
                self.tokens.invalidate().await;
                continue;
            }
            let server_said = retry::retry_after(response.headers()).filter(|_| code == 429 || code == 503);
            let text = response.bytes().await.unwrap_or_default();
            let (google_code, message) = match serde_json::from_slice::<wire::ErrorEnvelope>(&text) {
                Ok(env) => (env.error.status, env.error.message),
                Err(_) => (
                    String::new(),
                    String::from_utf8_lossy(&text).chars().take(200).collect(),
                ),
            };
            let transient = code == 429 || status.is_server_error();
            let may_retry = call.retry == Retry::Idempotent || code == 429;
            if !(transient && may_retry) {
                return Err(self.final_error(&ctx, code, google_code, &message).await);
            }
            match backoff.wait(server_said).await {
                Ok(()) => {
                    tracing::debug!(
                        gcp.operation = call.operation,
                        http.status = code,
                        attempt = backoff.attempts(),
                        retry_after_s = server_said.map(|d| d.as_secs()),
                        "retrying secret manager call"
                    );
                }
                // With retries turned off, the answer itself is the error.
                Err(GiveUp::Attempts) if backoff.attempts() == 1 => {
                    return Err(self.final_error(&ctx, code, google_code, &message).await);
                }
                Err(why) => return Err(self.exhausted(&ctx, &backoff, why, code, &google_code, &message)),
            }
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(&self, what: &str, body: &[u8]) -> Result<T, SecretError> {
        // serde_json's messages may quote input; report the position only.
        serde_json::from_slice(body).map_err(|e| SecretError::Malformed {
            store: self.describe(),
            what: what.to_owned(),
            detail: format!("unexpected JSON at line {} column {}", e.line(), e.column()),
        })
    }

    fn version_of(&self, resource: &str) -> Result<VersionId, SecretError> {
        resource
            .rsplit('/')
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| SecretError::Malformed {
                store: self.describe(),
                what: "version resource name".to_owned(),
                detail: format!("{resource:?} does not end in a version number"),
            })
    }

    async fn access_impl(&self, name: &SecretName, version: &VersionRef) -> Result<SecretVersion, SecretError> {
        let path = format!("{}/versions/{version}:access", self.secret_path(name));
        let body = self
            .call(Call::new("access", name, Method::GET, path).version(version))
            .await?;
        let parsed: wire::AccessResponse = self.parse("access response", &body)?;
        let number = self.version_of(&parsed.name)?;
        let mut bytes = b64()
            .decode(parsed.payload.data.expose_secret().as_bytes())
            .map_err(|_| SecretError::Malformed {
                store: self.describe(),
                what: format!("payload of {}", parsed.name),
                detail: "the data is not base64".to_owned(),
            })?;
        match parsed.payload.data_crc32c {
            Some(expected) if i64::from(crc32c::crc32c(&bytes)) != expected => {
                secrecy::zeroize::Zeroize::zeroize(&mut bytes);
                return Err(SecretError::Checksum {
                    secret: name.to_string(),
                    version: number.to_string(),
                });
            }
            Some(_) => {}
            None => {
                tracing::debug!(secret.name = %name, secret.version = %number, "payload has no checksum to verify")
            }
        }
        let value = String::from_utf8(bytes).map_err(|e| {
            let mut bytes = e.into_bytes();
            secrecy::zeroize::Zeroize::zeroize(&mut bytes);
            SecretError::Malformed {
                store: self.describe(),
                what: format!("payload of {}", parsed.name),
                detail: "the value is not valid UTF-8".to_owned(),
            }
        })?;
        Ok(SecretVersion {
            version: Some(number),
            value: SecretString::from(value),
        })
    }

    async fn add_impl(&self, name: &SecretName, value: &SecretString) -> Result<VersionId, SecretError> {
        let raw = value.expose_secret().as_bytes();
        let encoded = SecretString::from(b64().encode(raw));
        let request = wire::AddVersionRequest {
            payload: wire::PayloadOut {
                data: encoded.expose_secret(),
                data_crc32c: crc32c::crc32c(raw).to_string(),
            },
        };
        let body = serde_json::to_vec(&request).expect("serializing plain strings cannot fail");
        let path = format!("{}:addVersion", self.secret_path(name));
        let answer = self
            .call(
                Call::new("addVersion", name, Method::POST, path)
                    .body(body)
                    .retry(Retry::OnlyUnapplied),
            )
            .await?;
        let version: wire::Version = self.parse("addVersion response", &answer)?;
        self.version_of(&version.name)
    }

    async fn list_impl(&self, name: &SecretName) -> Result<Vec<VersionInfo>, SecretError> {
        let path = format!("{}/versions", self.secret_path(name));
        let mut out = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut query = vec![("pageSize", "100")];
            if let Some(t) = &page_token {
                query.push(("pageToken", t.as_str()));
            }
            let body = self
                .call(Call::new("list", name, Method::GET, path.clone()).query(&query))
                .await?;
            let page: wire::ListResponse = self.parse("version list", &body)?;
            for v in page.versions {
                let state = version_state(&v);
                let created = v
                    .create_time
                    .as_deref()
                    .and_then(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok());
                out.push(VersionInfo {
                    version: self.version_of(&v.name)?,
                    state,
                    created,
                });
            }
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(t) => page_token = Some(t),
                None => break,
            }
        }
        out.sort_by_key(|v| v.version);
        Ok(out)
    }

    /// `:destroy`, made idempotent: Secret Manager refuses to destroy a destroyed version
    /// (FAILED_PRECONDITION), so that answer is checked against the version's state.
    async fn destroy_impl(&self, name: &SecretName, version: VersionId) -> Result<(), SecretError> {
        let path = format!("{}/versions/{version}:destroy", self.secret_path(name));
        let call = Call::new("destroy", name, Method::POST, path)
            .version(&version)
            .body(b"{}".to_vec());
        match self.call(call).await {
            Ok(_) => Ok(()),
            Err(SecretError::Api {
                status: 400, ref code, ..
            }) if code == "FAILED_PRECONDITION" => {
                let path = format!("{}/versions/{version}", self.secret_path(name));
                let body = self
                    .call(Call::new("getVersion", name, Method::GET, path).version(&version))
                    .await?;
                let v: wire::Version = self.parse("version", &body)?;
                match version_state(&v) {
                    VersionState::Destroyed => Ok(()),
                    other => Err(SecretError::Malformed {
                        store: self.describe(),
                        what: format!("destroy of version {version} of secret {name}"),
                        detail: format!("refused with FAILED_PRECONDITION while the version is {other}"),
                    }),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn get_secret(&self, name: &SecretName) -> Result<wire::Secret, SecretError> {
        let path = self.secret_path(name);
        let body = self.call(Call::new("get", name, Method::GET, path)).await?;
        self.parse("secret", &body)
    }

    fn alias_map(&self, secret: &wire::Secret) -> Result<BTreeMap<AliasName, VersionId>, SecretError> {
        secret
            .version_aliases
            .iter()
            .map(|(k, v)| {
                let alias = AliasName::parse(k)?;
                let version = u64::try_from(*v).map_err(|_| crate::error::NameError::Version(v.to_string()))?;
                Ok((alias, VersionId::new(version)?))
            })
            .collect()
    }

    async fn set_alias_impl(
        &self,
        name: &SecretName,
        alias: &AliasName,
        version: VersionId,
    ) -> Result<(), SecretError> {
        let path = self.secret_path(name);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let secret = self.get_secret(name).await?;
            let mut aliases: BTreeMap<String, String> = secret
                .version_aliases
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect();
            if aliases.get(alias.as_str()) == Some(&version.to_string()) {
                return Ok(());
            }
            aliases.insert(alias.to_string(), version.to_string());
            let patch = wire::AliasPatch {
                version_aliases: aliases,
                etag: secret.etag,
            };
            let body = serde_json::to_vec(&patch).expect("serializing strings cannot fail");
            let query = [("updateMask", "versionAliases")];
            match self
                .call(
                    Call::new("patch", name, Method::PATCH, path.clone())
                        .query(&query)
                        .body(body),
                )
                .await
            {
                Ok(_) => return Ok(()),
                // The etag moved: someone else changed the secret between our read and write.
                Err(SecretError::Api { status: 409 | 412, .. }) if attempt < self.retry.max_attempts => {
                    tokio::time::sleep(retry::jittered(Duration::from_millis(20 * u64::from(attempt.min(50))))).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl SecretStore for GcpSecretManager {
    fn describe(&self) -> String {
        format!("gcp:projects/{}", self.project)
    }

    fn access<'a>(
        &'a self,
        name: &'a SecretName,
        version: &'a VersionRef,
    ) -> BoxFuture<'a, Result<SecretVersion, SecretError>> {
        self.access_impl(name, version).boxed()
    }

    fn add_version<'a>(
        &'a self,
        name: &'a SecretName,
        value: &'a SecretString,
    ) -> BoxFuture<'a, Result<VersionId, SecretError>> {
        self.add_impl(name, value).boxed()
    }

    fn list_versions<'a>(&'a self, name: &'a SecretName) -> BoxFuture<'a, Result<Vec<VersionInfo>, SecretError>> {
        self.list_impl(name).boxed()
    }

    fn disable_version<'a>(
        &'a self,
        name: &'a SecretName,
        version: VersionId,
    ) -> BoxFuture<'a, Result<(), SecretError>> {
        async move {
            let path = format!("{}/versions/{version}:disable", self.secret_path(name));
            self.call(
                Call::new("disable", name, Method::POST, path)
                    .version(&version)
                    .body(b"{}".to_vec()),
            )
            .await
            .map(drop)
        }
        .boxed()
    }

    fn destroy_version<'a>(
        &'a self,
        name: &'a SecretName,
        version: VersionId,
    ) -> BoxFuture<'a, Result<(), SecretError>> {
        self.destroy_impl(name, version).boxed()
    }

    fn aliases<'a>(
        &'a self,
        name: &'a SecretName,
    ) -> BoxFuture<'a, Result<BTreeMap<AliasName, VersionId>, SecretError>> {
        async move {
            let secret = self.get_secret(name).await?;
            self.alias_map(&secret)
        }
        .boxed()
    }

    fn set_alias<'a>(
        &'a self,
        name: &'a SecretName,
        alias: &'a AliasName,
        version: VersionId,
    ) -> BoxFuture<'a, Result<(), SecretError>> {
        self.set_alias_impl(name, alias, version).boxed()
    }
}
