//! The IAM database user a service logs in as: given (`PCC_DB_IAM_USER`), or derived from the
//! service account behind its token source.
//!
//! AlloyDB names the database user of a service account after its e-mail address without the
//! `.gserviceaccount.com` suffix (`pcc-client-api-devtest@pcc-devtest.iam`); a person's user is
//! the full address. The metadata server tells a pod its service account's address
//! (`.../service-accounts/default/email`, plain text), and a key file names it in
//! `client_email`; gcloud's user credentials name nobody, so they need the user spelled out.

use crate::error::SecretError;
use crate::gcp::credentials::{METADATA_EMAIL_PATH, TokenSource};
use crate::gcp::retry::{Backoff, RetryPolicy};

/// The suffix AlloyDB drops from a service account's address to name its database user.
pub const SERVICE_ACCOUNT_SUFFIX: &str = ".gserviceaccount.com";

/// The database user of a Google identity's e-mail address: a service account's without
/// [`SERVICE_ACCOUNT_SUFFIX`], anyone else's unchanged.
pub fn iam_user_for(email: &str) -> String {
    email.strip_suffix(SERVICE_ACCOUNT_SUFFIX).unwrap_or(email).to_owned()
}

/// The database user of the identity behind `source`.
///
/// # Errors
/// [`SecretError::IamUser`] when the source names no identity (a fixed token, gcloud's user
/// credentials) or the metadata server does not answer within `policy`.
pub(crate) async fn user_of(
    source: &TokenSource,
    http: &reqwest::Client,
    policy: RetryPolicy,
) -> Result<String, SecretError> {
    match source {
        TokenSource::Metadata(base) => metadata_email(base, http, policy).await.map(|e| iam_user_for(&e)),
        TokenSource::ServiceAccount(key) => Ok(iam_user_for(key.client_email())),
        TokenSource::AuthorizedUser(_) | TokenSource::Static(_) => Err(SecretError::IamUser(format!(
            "{} names no service account; set the user explicitly (PCC_DB_IAM_USER: a person's full e-mail address, or a service account's without {SERVICE_ACCOUNT_SUFFIX})",
            source.describe()
        ))),
    }
}

/// The metadata server's e-mail address of the default service account, retried like a token
/// fetch (a new pod's metadata server answers only after a few seconds).
pub(crate) async fn metadata_email(
    base: &url::Url,
    http: &reqwest::Client,
    policy: RetryPolicy,
) -> Result<String, SecretError> {
    let url = base
        .join(METADATA_EMAIL_PATH)
        .map_err(|e| SecretError::IamUser(format!("bad metadata URL {base}: {e}")))?;
    let mut backoff = Backoff::start(policy);
    loop {
        backoff.attempted();
        let (detail, transient) = match http.get(url.clone()).header("Metadata-Flavor", "Google").send().await {
            Ok(response) if response.status().is_success() => {
                let text = response.text().await.unwrap_or_default();
                let email = text.trim();
                if email.contains('@') && !email.contains(char::is_whitespace) {
                    return Ok(email.to_owned());
                }
                ("the answer is not an e-mail address".to_owned(), false)
            }
            Ok(response) => {
                let status = response.status();
                (
                    format!("HTTP {status}"),
                    status.as_u16() == 429 || status.is_server_error(),
                )
            }
            Err(e) => (format!("request failed: {e}"), true),
        };
        if transient && backoff.wait(None).await.is_ok() {
            continue;
        }
        return Err(SecretError::IamUser(format!(
            "the metadata server ({url}) gave no service account e-mail after {} attempts: {detail}; set PCC_DB_IAM_USER, or run where a metadata server answers (a GKE pod under Workload Identity)",
            backoff.attempts()
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_account_loses_its_suffix_and_a_person_keeps_the_address() {
        assert_eq!(
            iam_user_for("pcc-client-api-devtest@pcc-devtest.iam.gserviceaccount.com"),
            "pcc-client-api-devtest@pcc-devtest.iam"
        );
        assert_eq!(iam_user_for("ana@example.com"), "ana@example.com");
    }
}
