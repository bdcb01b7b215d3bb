//! The `SecretStore` methods of [`GcpSecretManager`]: one authenticated request helper with the
//! retry policy, and the API calls built on it.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use futures_util::future::{BoxFuture, FutureExt as _};
use reqwest::Method;
use secrecy::{ExposeSecret as _, SecretString};
use time::OffsetDateTime;

use super::GcpSecretManager;
use super::wire;
use crate::error::SecretError;
use crate::name::{AliasName, SecretName, VersionId, VersionRef};
use crate::store::{SecretStore, SecretVersion, VersionInfo, VersionState};

/// Whether a failed call may be sent again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Reads and idempotent writes: retry on 429, 5xx and transport errors.
    Idempotent,
    /// `addVersion`: retry only when the request never reached the server.
    OnlyUnsent,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Jittered exponential backoff: 100 ms, 200 ms, 400 ms ... each scaled by 0.5-1.5.
fn backoff(attempt: u32) -> Duration {
    let base = 100u64.saturating_mul(1 << attempt.min(6));
    let jitter = u64::from(getrandom::u32().unwrap_or(0) % 1000);
    Duration::from_millis(base / 2 + base * jitter / 1000)
}

impl GcpSecretManager {
    fn secret_path(&self, name: &SecretName) -> String {
        format!("projects/{}/secrets/{}", self.project, name)
    }

    /// Sends one API request with authentication and the retry policy; returns the body of a
    /// 2xx answer or the API's error.
    async fn call(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
        retry: Retry,
    ) -> Result<bytes::Bytes, SecretError> {
        let mut url = self
            .api_base
            .join(&format!("v1/{path}"))
            .map_err(|e| SecretError::Malformed {
                store: self.describe(),
                what: "request URL".to_owned(),
                detail: e.to_string(),
            })?;
        // Errors name the URL without its query string (page tokens are noise there).
        let shown = url.to_string();
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut attempt = 0;
        let mut refreshed_token = false;
        loop {
            attempt += 1;
            let token = self.tokens.token(&self.http).await?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.expose_secret());
            if let Some(body) = &body {
                request = request.header("content-type", "application/json").body(body.clone());
            }
            let retries_left = attempt < self.attempts;
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    let may_retry = retry == Retry::Idempotent || e.is_connect();
                    if retries_left && may_retry {
                        tracing::debug!(gcp.operation = operation, error = %e, attempt, "retrying secret manager call");
                        tokio::time::sleep(backoff(attempt)).await;
                        continue;
                    }
                    return Err(SecretError::Http {
                        url: shown.clone(),
                        source: e,
                    });
                }
            };
            let status = response.status();
            if status.is_success() {
                return response.bytes().await.map_err(|e| SecretError::Http {
                    url: shown.clone(),
                    source: e,
                });
            }
            if status.as_u16() == 401 && !refreshed_token {
                refreshed_token = true;
                self.tokens.invalidate().await;
                continue;
            }
            let transient = status.as_u16() == 429 || status.is_server_error();
            if transient && retries_left && retry == Retry::Idempotent {
                tracing::debug!(
                    gcp.operation = operation,
                    http.status = status.as_u16(),
                    attempt,
                    "retrying secret manager call"
                );
                tokio::time::sleep(backoff(attempt)).await;
                continue;
            }
            let text = response.bytes().await.unwrap_or_default();
            let (code, message) = match serde_json::from_slice::<wire::ErrorEnvelope>(&text) {
                Ok(env) => (env.error.status, env.error.message),
                Err(_) => (
                    String::new(),
                    String::from_utf8_lossy(&text).chars().take(200).collect(),
                ),
            };
            return Err(SecretError::Api {
                operation,
                resource: path.to_owned(),
                status: status.as_u16(),
                code,
                message,
            });
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
            .call("access", Method::GET, &path, &[], None, Retry::Idempotent)
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
            .call("addVersion", Method::POST, &path, &[], Some(body), Retry::OnlyUnsent)
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
                .call("list", Method::GET, &path, &query, None, Retry::Idempotent)
                .await?;
            let page: wire::ListResponse = self.parse("version list", &body)?;
            for v in page.versions {
                let state = match v.state.as_deref() {
                    Some("ENABLED") => VersionState::Enabled,
                    Some("DISABLED") => VersionState::Disabled,
                    _ => VersionState::Destroyed,
                };
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

    async fn get_secret(&self, name: &SecretName) -> Result<wire::Secret, SecretError> {
        let path = self.secret_path(name);
        let body = self
            .call("get", Method::GET, &path, &[], None, Retry::Idempotent)
            .await?;
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
                .call("patch", Method::PATCH, &path, &query, Some(body), Retry::Idempotent)
                .await
            {
                Ok(_) => return Ok(()),
                // The etag moved: someone else changed the secret between our read and write.
                Err(SecretError::Api { status: 409 | 412, .. }) if attempt < self.attempts => {
                    tokio::time::sleep(backoff(attempt)).await;
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
                "disable",
                Method::POST,
                &path,
                &[],
                Some(b"{}".to_vec()),
                Retry::Idempotent,
            )
            .await
            .map(drop)
        }
        .boxed()
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
