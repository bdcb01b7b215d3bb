//! What a Secret Manager error means for the person reading it: a 404 on a secret becomes
//! "create it in Terraform", a 403 names the IAM role the operation needs and the identity that
//! lacks it, a 401 names the credential source in use, and a quota or outage that outlasted the
//! retries says so.
//!
//! Roles are the predefined ones that carry each operation's permission
//! (<https://cloud.google.com/secret-manager/docs/access-control>): `versions.access` is in
//! secretAccessor; `versions.add` in secretVersionAdder (and secretVersionManager);
//! `versions.disable` / `versions.destroy` in secretVersionManager; `versions.list` and
//! `secrets.get` in viewer (and secretVersionManager for the list); `secrets.update` (moving an
//! alias) only in admin among the predefined roles.

use super::GcpSecretManager;
use super::credentials::TokenSource;
use super::retry::{self, Backoff, GiveUp, RetryPolicy};
use crate::error::SecretError;
use crate::name::SecretName;
use crate::store::SecretStore as _;

/// One API call, for error messages.
pub(super) struct CallContext<'a> {
    /// The API method (`access`, `addVersion`, `list`, `get`, `patch`, `disable`, `destroy`).
    pub operation: &'static str,
    /// The secret it concerns.
    pub secret: &'a SecretName,
    /// The version it concerns, for version-level methods.
    pub version: Option<String>,
    /// The resource path (`projects/p/secrets/s/versions/3:access`).
    pub resource: &'a str,
}

/// The predefined role that grants `operation`.
pub(super) fn role_for(operation: &str) -> &'static str {
    match operation {
        "access" => "roles/secretmanager.secretAccessor",
        "addVersion" => "roles/secretmanager.secretVersionAdder (or secretVersionManager)",
        "disable" | "destroy" => "roles/secretmanager.secretVersionManager",
        "list" => "roles/secretmanager.viewer (or secretVersionManager)",
        "get" | "getVersion" => "roles/secretmanager.viewer",
        "patch" => "roles/secretmanager.admin (or a custom role with secretmanager.secrets.update)",
        _ => "a Secret Manager role with this operation's permission",
    }
}

/// Google's messages can be long; keep what identifies the problem.
fn short(message: &str) -> String {
    message.chars().take(300).collect()
}

impl GcpSecretManager {
    /// The error for a final (not retried) non-2xx answer.
    pub(super) fn api_error(&self, ctx: &CallContext<'_>, status: u16, code: String, message: &str) -> SecretError {
        match status {
            404 => self.not_found(ctx, message),
            403 => {
                let mut needed = format!("grant {} on the secret to this identity", role_for(ctx.operation));
                if let TokenSource::AuthorizedUser(user) = self.tokens.source()
                    && user.quota_project().is_none()
                {
                    needed.push_str(&format!(
                        "; user credentials also need a quota project: gcloud auth application-default set-quota-project {}",
                        self.project
                    ));
                }
                SecretError::PermissionDenied {
                    operation: ctx.operation,
                    resource: ctx.resource.to_owned(),
                    credentials: self.tokens.source().describe(),
                    needed,
                    message: short(message),
                }
            }
            401 => SecretError::Unauthenticated {
                operation: ctx.operation,
                resource: ctx.resource.to_owned(),
                credentials: self.tokens.source().describe(),
                message: short(message),
            },
            _ => SecretError::Api {
                operation: ctx.operation,
                resource: ctx.resource.to_owned(),
                status,
                code,
                message: short(message),
            },
        }
    }

    /// [`Self::api_error`], with a 403 naming the identity as well as the credential source: the
    /// metadata server (Cloud Build, GKE, GCE) is asked once which service account it speaks for,
    /// since Google's message names the permission but not the caller, and "metadata server" alone
    /// does not say which account lacks the grant.
    pub(super) async fn final_error(
        &self,
        ctx: &CallContext<'_>,
        status: u16,
        code: String,
        message: &str,
    ) -> SecretError {
        let mut err = self.api_error(ctx, status, code, message);
        if let (SecretError::PermissionDenied { credentials, .. }, TokenSource::Metadata(base)) =
            (&mut err, self.tokens.source())
        {
            let once = RetryPolicy {
                max_attempts: 1,
                ..self.retry
            };
            if let Ok(email) = crate::iam::metadata_email(base, &self.http, once).await {
                credentials.push_str(&format!(" (service account {email})"));
            }
        }
        err
    }

    /// A 404: the version when Google says so ("Secret Version [...] not found."), else the secret.
    fn not_found(&self, ctx: &CallContext<'_>, message: &str) -> SecretError {
        match &ctx.version {
            Some(version) if message.starts_with("Secret Version") => SecretError::VersionNotFound {
                store: self.describe(),
                secret: ctx.secret.to_string(),
                version: version.clone(),
            },
            // "Secret [...] not found or has no versions.": missing, or no enabled version yet.
            Some(_) => SecretError::GcpSecretMissing {
                project: self.project.clone(),
                secret: ctx.secret.to_string(),
                also: "; if it exists, it has no enabled version yet: `pccdb apply` writes the first",
            },
            None => SecretError::GcpSecretMissing {
                project: self.project.clone(),
                secret: ctx.secret.to_string(),
                also: "",
            },
        }
    }

    /// A transient failure (429, 5xx) that outlasted the retry policy.
    pub(super) fn exhausted(
        &self,
        ctx: &CallContext<'_>,
        backoff: &Backoff,
        why: GiveUp,
        status: u16,
        code: &str,
        message: &str,
    ) -> SecretError {
        let spent = retry::seconds(backoff.elapsed());
        let waited = match why {
            GiveUp::Attempts => spent,
            GiveUp::Budget { wanted } => format!(
                "{spent} (the next wait, {}, would pass the {} budget)",
                retry::seconds(wanted),
                retry::seconds(self.retry.budget)
            ),
        };
        let advice = if status == 429 {
            "the project's Secret Manager request quota is exhausted (quotas are per minute, per project): run again in a minute, spread the callers out, or raise the quota for secretmanager.googleapis.com"
        } else {
            "Secret Manager is unavailable: run again later (https://status.cloud.google.com)"
        };
        let message = if code.is_empty() {
            short(message)
        } else {
            format!("{code}: {}", short(message))
        };
        SecretError::RetriesExhausted {
            operation: ctx.operation,
            resource: ctx.resource.to_owned(),
            status,
            attempts: backoff.attempts(),
            waited,
            advice,
            message,
        }
    }
}
