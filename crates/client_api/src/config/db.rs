//! Database settings.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PCC_DB_PRIMARY` | - (embedded default) | primary connection string: Npgsql, libpq keyword/URI or JDBC form |
//! | `PCC_DB_REPLICA` | - | replica connection string (lists and reports read from it) |
//! | `PCC_DB_AUTH` | `password` | `password`: the login and password of a credential source below (or of the connection strings); `iam`: an IAM database user (AlloyDB `ALLOYDB_IAM_USER`) whose password is a Google access token, fetched from Application Default Credentials (the metadata server in a pod) and refreshed before it expires; no credential source may be set |
//! | `PCC_DB_IAM_USER` | from the metadata server | with `PCC_DB_AUTH=iam`: the database user; by default the pod's service account e-mail without `.gserviceaccount.com` |
//! | `PCC_DB_CREDENTIALS_FILE` | - | a mounted JSON file `{"username","password"}`; re-read when the server rejects the password |
//! | `PCC_DB_SECRET_GCP_PROJECT` | - | read the credential from GCP Secret Manager in this project ... |
//! | `PCC_DB_SECRET_NAME` | - | ... from this secret (alias `current`, falling back to `latest`) |
//! | `PCC_DB_POOL_MAX` | `15` | primary connections (seed plan: 10-20): 2 shared pipelined read sessions, the rest for transactions; at most the login's CONNECTION LIMIT (the service warns at start when it is larger: the connections past the limit would be refused under load) |
//! | `PCC_DB_REPLICA_POOL_MAX` | `10` | replica connections (same split) |
//! | `PCC_DB_CHECKOUT_TIMEOUT_MS` | `1000` | wait for a free connection; past it the request gets 503 + Retry-After |
//! | `PCC_DB_STATEMENT_TIMEOUT_MS` | `5000` | `statement_timeout` of every session |
//! | `PCC_DB_RYW_WAIT_MS` | `200` | how long a read carrying a consistency token waits for the replica before using the primary |
//! | `PCC_DB_CREDENTIALS_REFRESH_MS` | `30000` | how often the credential (file or Secret Manager, alias `current`) is re-read, so new connections use a rotated login well within the rotation's grace period |
//!
//! Without a credential source the user and password of the connection strings are used.
//! With `PCC_DB_AUTH=iam` the connection strings must hold no password (the token replaces it).

use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, Env, millis_or, parse_or};

/// Where the pools get their password.
#[derive(Debug, Clone)]
pub enum CredentialSource {
    /// From the connection strings.
    Inline,
    /// A mounted JSON file.
    File(PathBuf),
    /// GCP Secret Manager.
    Gcp {
        /// Project id.
        project: String,
        /// Secret name.
        secret: String,
    },
    /// IAM database authentication: the user with an access token as its password.
    Iam {
        /// The database user; `None` derives it from the token source's service account.
        user: Option<String>,
        /// Where tokens come from; `None` is Application Default Credentials, resolved at
        /// connect (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's file, the metadata server at
        /// `GCE_METADATA_HOST` or `metadata.google.internal`).
        tokens: Option<secrets::TokenSource>,
    },
}

/// Database settings.
#[derive(Clone)]
pub struct DbConfig {
    /// Primary.
    pub primary: conninfo::ConnSpec,
    /// Replica.
    pub replica: Option<conninfo::ConnSpec>,
    /// Credential source.
    pub credentials: CredentialSource,
    /// Primary pool size.
    pub pool_max: usize,
    /// Replica pool size.
    pub replica_pool_max: usize,
    /// Checkout wait.
    pub checkout_timeout: Duration,
    /// statement_timeout.
    pub statement_timeout: Duration,
    /// Read-your-writes wait.
    pub ryw_wait: Duration,
    /// How often a credential source is re-read (rotation; `pccdb rotate`).
    pub credential_refresh: Duration,
}

impl std::fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // ConnSpec's Debug redacts the password.
        f.debug_struct("DbConfig")
            .field("primary", &self.primary)
            .field("replica", &self.replica)
            .field("credentials", &self.credentials)
            .field("pool_max", &self.pool_max)
            .finish_non_exhaustive()
    }
}

fn spec(env: &dyn Env, var: &'static str) -> Result<Option<conninfo::ConnSpec>, ConfigError> {
    env.var(var)
        .map(|text| conninfo::ConnSpec::parse(&text).map_err(|e| ConfigError::new(var, e.to_string())))
        .transpose()
}

/// `PCC_DB_AUTH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    Password,
    Iam,
}

fn auth(env: &dyn Env) -> Result<Auth, ConfigError> {
    match env.var("PCC_DB_AUTH").as_deref().map(str::trim) {
        None | Some("password") => {
            if env.var("PCC_DB_IAM_USER").is_some() {
                return Err(ConfigError::new(
                    "PCC_DB_IAM_USER",
                    "is set but PCC_DB_AUTH is not `iam`",
                ));
            }
            Ok(Auth::Password)
        }
        Some("iam") => Ok(Auth::Iam),
        Some(other) => Err(ConfigError::new(
            "PCC_DB_AUTH",
            format!("`{other}` is not `password` or `iam`"),
        )),
    }
}

/// The credential source of password logins.
fn password_source(env: &dyn Env) -> Result<CredentialSource, ConfigError> {
    Ok(
        match (
            env.var("PCC_DB_CREDENTIALS_FILE"),
            env.var("PCC_DB_SECRET_GCP_PROJECT"),
            env.var("PCC_DB_SECRET_NAME"),
        ) {
            (None, None, None) => CredentialSource::Inline,
            (Some(file), None, None) => CredentialSource::File(PathBuf::from(file)),
            (None, Some(project), Some(secret)) => CredentialSource::Gcp { project, secret },
            (Some(_), _, _) => {
                return Err(ConfigError::new(
                    "PCC_DB_CREDENTIALS_FILE",
                    "cannot be combined with PCC_DB_SECRET_*",
                ));
            }
            (None, None, Some(_)) => {
                return Err(ConfigError::new(
                    "PCC_DB_SECRET_GCP_PROJECT",
                    "is required with PCC_DB_SECRET_NAME",
                ));
            }
            (None, Some(_), None) => {
                return Err(ConfigError::new(
                    "PCC_DB_SECRET_NAME",
                    "is required with PCC_DB_SECRET_GCP_PROJECT",
                ));
            }
        },
    )
}

/// IAM logins: no password anywhere, neither a credential source nor in a connection string.
fn iam_source(
    env: &dyn Env,
    primary: &conninfo::ConnSpec,
    replica: Option<&conninfo::ConnSpec>,
) -> Result<CredentialSource, ConfigError> {
    for var in [
        "PCC_DB_CREDENTIALS_FILE",
        "PCC_DB_SECRET_GCP_PROJECT",
        "PCC_DB_SECRET_NAME",
    ] {
        if env.var(var).is_some() {
            return Err(ConfigError::new(
                var,
                "cannot be combined with PCC_DB_AUTH=iam: an IAM login has no password to read (its password is an access token)",
            ));
        }
    }
    for (var, spec) in [("PCC_DB_PRIMARY", Some(primary)), ("PCC_DB_REPLICA", replica)] {
        if spec.is_some_and(|s| s.password.is_some()) {
            return Err(ConfigError::new(
                var,
                "holds a password, but PCC_DB_AUTH=iam logs in with an access token: remove the password",
            ));
        }
    }
    let user = env.var("PCC_DB_IAM_USER").map(|u| u.trim().to_owned());
    if let Some(u) = &user
        && u.ends_with(secrets::iam::SERVICE_ACCOUNT_SUFFIX)
    {
        return Err(ConfigError::new(
            "PCC_DB_IAM_USER",
            format!(
                "`{u}` ends with {}; AlloyDB names a service account's database user without it (`{}`)",
                secrets::iam::SERVICE_ACCOUNT_SUFFIX,
                secrets::iam::iam_user_for(u)
            ),
        ));
    }
    Ok(CredentialSource::Iam { user, tokens: None })
}

impl DbConfig {
    /// Reads the variables above; `None` when `PCC_DB_PRIMARY` is not set (embedded default).
    ///
    /// # Errors
    /// An unparsable connection string or number, or an incomplete credential source.
    pub fn from_env(env: &dyn Env) -> Result<Option<Self>, ConfigError> {
        let Some(primary) = spec(env, "PCC_DB_PRIMARY")? else {
            if env.var("PCC_DB_REPLICA").is_some() {
                return Err(ConfigError::new("PCC_DB_REPLICA", "is set but PCC_DB_PRIMARY is not"));
            }
            return Ok(None);
        };
        let replica = spec(env, "PCC_DB_REPLICA")?;
        let credentials = match auth(env)? {
            Auth::Password => password_source(env)?,
            Auth::Iam => iam_source(env, &primary, replica.as_ref())?,
        };
        let pool_max: usize = parse_or(env, "PCC_DB_POOL_MAX", 15)?;
        let replica_pool_max: usize = parse_or(env, "PCC_DB_REPLICA_POOL_MAX", 10)?;
        // db_router keeps 2 pipelined shared sessions per side and pools the rest for transactions.
        if pool_max < 3 {
            return Err(ConfigError::new(
                "PCC_DB_POOL_MAX",
                "must be at least 3 (2 shared read sessions + transactions)",
            ));
        }
        if replica_pool_max < 3 {
            return Err(ConfigError::new(
                "PCC_DB_REPLICA_POOL_MAX",
                "must be at least 3 (2 shared read sessions + transactions)",
            ));
        }
        let refresh = millis_or(env, "PCC_DB_CREDENTIALS_REFRESH_MS", 30_000)?;
        if refresh < Duration::from_millis(100) {
            return Err(ConfigError::new(
                "PCC_DB_CREDENTIALS_REFRESH_MS",
                "must be at least 100 (each refresh reads the secret store)",
            ));
        }
        Ok(Some(Self {
            primary,
            replica,
            credentials,
            pool_max,
            replica_pool_max,
            checkout_timeout: millis_or(env, "PCC_DB_CHECKOUT_TIMEOUT_MS", 1000)?,
            statement_timeout: millis_or(env, "PCC_DB_STATEMENT_TIMEOUT_MS", 5000)?,
            ryw_wait: millis_or(env, "PCC_DB_RYW_WAIT_MS", 200)?,
            credential_refresh: refresh,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn iam_logins_take_a_user_or_derive_it_and_refuse_any_password() {
        let config = DbConfig::from_env(&env(&[("PCC_DB_PRIMARY", "Host=db1"), ("PCC_DB_AUTH", "iam")]))
            .unwrap()
            .unwrap();
        assert!(matches!(
            config.credentials,
            CredentialSource::Iam {
                user: None,
                tokens: None
            }
        ));
        let config = DbConfig::from_env(&env(&[
            ("PCC_DB_PRIMARY", "Host=db1"),
            ("PCC_DB_AUTH", "iam"),
            ("PCC_DB_IAM_USER", "pcc-client-api-devtest@pcc-devtest.iam"),
        ]))
        .unwrap()
        .unwrap();
        let CredentialSource::Iam { user, .. } = config.credentials else {
            panic!("not iam")
        };
        assert_eq!(user.as_deref(), Some("pcc-client-api-devtest@pcc-devtest.iam"));
        // The default stays password.
        let config = DbConfig::from_env(&env(&[("PCC_DB_PRIMARY", "Host=db1")]))
            .unwrap()
            .unwrap();
        assert!(matches!(config.credentials, CredentialSource::Inline));
        for (pairs, var, says) in [
            (
                vec![("PCC_DB_AUTH", "iam"), ("PCC_DB_CREDENTIALS_FILE", "/run/secrets/db")],
                "PCC_DB_CREDENTIALS_FILE",
                "cannot be combined with PCC_DB_AUTH=iam",
            ),
            (
                vec![("PCC_DB_AUTH", "iam"), ("PCC_DB_SECRET_NAME", "s")],
                "PCC_DB_SECRET_NAME",
                "cannot be combined with PCC_DB_AUTH=iam",
            ),
            (
                vec![("PCC_DB_AUTH", "iam"), ("PCC_DB_REPLICA", "Host=db2;Password=hunter2")],
                "PCC_DB_REPLICA",
                "holds a password",
            ),
            (
                vec![
                    ("PCC_DB_AUTH", "iam"),
                    ("PCC_DB_IAM_USER", "svc@p.iam.gserviceaccount.com"),
                ],
                "PCC_DB_IAM_USER",
                "`svc@p.iam`",
            ),
            (vec![("PCC_DB_IAM_USER", "svc@p.iam")], "PCC_DB_IAM_USER", "not `iam`"),
            (
                vec![("PCC_DB_AUTH", "token")],
                "PCC_DB_AUTH",
                "`token` is not `password` or `iam`",
            ),
        ] {
            let mut all = vec![("PCC_DB_PRIMARY", "Host=db1")];
            all.extend(pairs);
            let error = DbConfig::from_env(&env(&all)).unwrap_err();
            assert_eq!(error.var, var, "{all:?}: {error}");
            assert!(error.reason.contains(says), "{error}");
            assert!(!error.to_string().contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn the_credential_is_refreshed_every_30_seconds_unless_configured() {
        let base = [
            ("PCC_DB_PRIMARY", "Host=db1"),
            ("PCC_DB_CREDENTIALS_FILE", "/run/secrets/db"),
        ];
        let config = DbConfig::from_env(&env(&base)).unwrap().unwrap();
        assert_eq!(config.credential_refresh, Duration::from_secs(30));
        let config = DbConfig::from_env(&env(&[base[0], base[1], ("PCC_DB_CREDENTIALS_REFRESH_MS", "500")]))
            .unwrap()
            .unwrap();
        assert_eq!(config.credential_refresh, Duration::from_millis(500));
        let error = DbConfig::from_env(&env(&[base[0], ("PCC_DB_CREDENTIALS_REFRESH_MS", "0")])).unwrap_err();
        assert_eq!(error.var, "PCC_DB_CREDENTIALS_REFRESH_MS");
    }
}
