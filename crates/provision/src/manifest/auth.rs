//! How a service logs in to its database in an environment: with a password (the rotated login pair
//! and its secret) or as an IAM database user (AlloyDB `ALLOYDB_IAM_USER`: the login is the service's
//! Google service account, the password a fresh access token its pods fetch, so there is no secret and
//! nothing to rotate).
//!
//! An environment's `auth` is the default of every service deployed there; a service's
//! `overrides.<env>.auth` chooses otherwise for itself, and `overrides.<env>.iam_user` names the IAM user
//! when it is not the one of the service's Google service account. That account is
//! `<service>-<env>@<gke.project>.iam.gserviceaccount.com` (deploy/terraform creates it, `pccdb render
//! k8s` binds the pods to it), and AlloyDB names its database user after the address without
//! `.gserviceaccount.com`: `pcc-client-api-devtest@pcc-devtest.iam`.

use super::validate::Problems;
use super::{Environment, Gke};
use crate::ident::MAX_IDENT_BYTES;
use crate::naming::{EnvName, ServiceName};

/// The suffix AlloyDB drops from a service account's address to name its database user.
pub const SERVICE_ACCOUNT_SUFFIX: &str = ".gserviceaccount.com";

/// An environment's default login method (`auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// The rotated login pair, its password in the environment's secret store.
    #[default]
    Password,
    /// IAM database users.
    Iam,
}

/// How one service logs in in one environment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "auth", rename_all = "snake_case")]
pub enum ServiceLogin {
    /// `<base>_user` / `<base>_user_b` with a rotated password.
    Password,
    /// The IAM database user (created by Terraform, granted by `apply`), no password.
    Iam {
        /// Its role name (`pcc-client-api-devtest@pcc-devtest.iam`).
        user: String,
    },
}

impl ServiceLogin {
    /// The IAM user, for an IAM login.
    pub fn iam_user(&self) -> Option<&str> {
        match self {
            ServiceLogin::Password => None,
            ServiceLogin::Iam { user } => Some(user),
        }
    }
}

/// The database user of a Google service account's address: without [`SERVICE_ACCOUNT_SUFFIX`].
pub fn iam_user_for(email: &str) -> String {
    email.strip_suffix(SERVICE_ACCOUNT_SUFFIX).unwrap_or(email).to_owned()
}

/// The Google service account of `service` in `env` (what deploy/terraform creates and the pods use).
pub fn service_account(service: &ServiceName, env: &EnvName, gke: &Gke) -> String {
    format!("{service}-{env}@{}.iam{SERVICE_ACCOUNT_SUFFIX}", gke.project)
}

fn method(p: &mut Problems, key: &str, raw: &str) -> Option<AuthMethod> {
    match raw {
        "password" => Some(AuthMethod::Password),
        "iam" => Some(AuthMethod::Iam),
        other => {
            p.push(key, format!("{other:?} must be \"password\" or \"iam\""));
            None
        }
    }
}

/// `environments.<env>.auth`; default password.
pub(super) fn environment(p: &mut Problems, key: &str, raw: Option<&str>) -> AuthMethod {
    raw.and_then(|r| method(p, &format!("{key}.auth"), r))
        .unwrap_or_default()
}

/// The login of `service` in `env`: the override's `auth`, else the environment's; for IAM, the override's
/// `iam_user` or the user of the service's Google service account.
pub(super) fn service_login(
    p: &mut Problems,
    override_key: &str,
    service: &ServiceName,
    environment: &Environment,
    raw_auth: Option<&str>,
    raw_user: Option<&str>,
) -> ServiceLogin {
    let env = &environment.name;
    let gke = environment.gke.as_ref();
    let auth = raw_auth
        .and_then(|r| method(p, &format!("{override_key}.auth"), r))
        .unwrap_or(environment.auth);
    let user_key = format!("{override_key}.iam_user");
    match (auth, raw_user) {
        (AuthMethod::Password, None) => ServiceLogin::Password,
        (AuthMethod::Password, Some(_)) => {
            p.push(
                &user_key,
                format!("is set but {service} logs in to {env} with a password (set auth = \"iam\")"),
            );
            ServiceLogin::Password
        }
        (AuthMethod::Iam, Some(user)) => {
            check_user(p, &user_key, user);
            ServiceLogin::Iam { user: user.to_owned() }
        }
        (AuthMethod::Iam, None) => match gke {
            Some(gke) => {
                let user = iam_user_for(&service_account(service, env, gke));
                check_user(p, override_key, &user);
                ServiceLogin::Iam { user }
            }
            None => {
                p.push(
                    &user_key,
                    format!(
                        "{service} logs in to {env} as an IAM user, which is its Google service account's; set environments.{env}.gke (the project of the service accounts) or name the user here"
                    ),
                );
                ServiceLogin::Iam { user: String::new() }
            }
        },
    }
}

/// An IAM user is a Google identity's address as AlloyDB names it, and a role name (63 bytes at most).
fn check_user(p: &mut Problems, key: &str, user: &str) {
    if user.ends_with(SERVICE_ACCOUNT_SUFFIX) {
        p.push(
            key,
            format!(
                "{user:?} ends with {SERVICE_ACCOUNT_SUFFIX}; AlloyDB names a service account's database user without it ({:?})",
                iam_user_for(user)
            ),
        );
        return;
    }
    let plain = user
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"@.-_".contains(&b));
    if !plain || user.matches('@').count() != 1 || user.starts_with('@') || user.ends_with('@') {
        p.push(
            key,
            format!("{user:?} is not an IAM user (a lower-case e-mail address, a service account's without {SERVICE_ACCOUNT_SUFFIX})"),
        );
    } else if user.len() > MAX_IDENT_BYTES {
        p.push(
            key,
            format!(
                "{user:?} is {} bytes; PostgreSQL role names keep {MAX_IDENT_BYTES} (shorten the service account id)",
                user.len()
            ),
        );
    }
}
