//! The naming convention, in one place: from a service name and an environment to every
//! database, role, schema and secret name this tool manages.
//!
//! `pcc-client-api` in `devtest` gives
//! - base `client_api` (the organisation prefix `pcc-` dropped, `-` becomes `_`),
//! - database `client_api_db_devtest` (the seed plan's `{service}_db_{environment}`),
//! - schema `client_api`, owned by the NOLOGIN role `client_api_owner`, which also owns the database,
//! - login roles `client_api_user` and `client_api_user_b` (rotation alternates between them),
//!   both members of the NOLOGIN group `client_api_app` that holds the service's privileges,
//! - the NOLOGIN group `client_api_readonly` for replica and reporting reads,
//! - secret `pcc-client-api-devtest-db` (Secret Manager ids are per project, and the seed plan
//!   names deployed things `{service}-{environment}`).
//!
//! Roles are cluster-wide in PostgreSQL, so role names carry no environment: each environment
//! is its own cluster (AlloyDB devtest, prod), which `check` verifies.

use std::fmt;

use crate::error::NameError;
use crate::ident::Ident;

/// A service name such as `pcc-client-api`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct ServiceName(String);

impl ServiceName {
    /// Parses a service name: `prefix` followed by lower-case words joined by single dashes,
    /// without an environment suffix.
    ///
    /// # Errors
    /// [`NameError::Service`] naming the rule that was broken.
    pub fn parse(raw: &str, prefix: &str, environments: &[&str]) -> Result<Self, NameError> {
        let fail = |reason: String| NameError::Service {
            name: raw.to_owned(),
            reason,
        };
        let Some(rest) = raw.strip_prefix(prefix) else {
            return Err(fail(format!(
                "service names start with {prefix:?} (e.g. \"{prefix}client-api\")"
            )));
        };
        if rest.is_empty() {
            return Err(fail("nothing follows the prefix".to_owned()));
        }
        let word_ok = |w: &str| {
            !w.is_empty()
                && w.as_bytes()[0].is_ascii_lowercase()
                && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        };
        if !rest.split('-').all(word_ok) {
            return Err(fail(
                "use lower-case letters and digits in words joined by single dashes, each word starting with a letter"
                    .to_owned(),
            ));
        }
        if let Some(env) = environments
            .iter()
            .find(|e| rest.ends_with(&format!("-{e}")) || rest == **e)
        {
            let base = raw.trim_end_matches(&format!("-{env}"));
            return Err(fail(format!(
                "it ends with the environment suffix -{env}; name the service without it ({base:?}): the environment is added to the database name"
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An environment name such as `devtest`: lower-case letters and digits, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct EnvName(String);

impl EnvName {
    /// Parses an environment name.
    ///
    /// # Errors
    /// [`NameError::Environment`] when it is empty, longer than 20 characters, or holds
    /// anything but `[a-z0-9]` after a leading letter (`_` would make the database name
    /// ambiguous: `x_db_dev_test`).
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let ok = !raw.is_empty()
            && raw.len() <= 20
            && raw.as_bytes()[0].is_ascii_lowercase()
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(NameError::Environment(raw.to_owned()))
        }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EnvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every name derived for one service in one environment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServiceNames {
    /// `client_api`.
    pub base: String,
    /// `client_api_db_devtest`.
    pub database: Ident,
    /// `client_api` (the service's schema).
    pub schema: Ident,
    /// `client_api_owner` (NOLOGIN; owns the database, schema and objects).
    pub owner: Ident,
    /// `client_api_app` (NOLOGIN group holding the service's DML privileges).
    pub app_group: Ident,
    /// `client_api_readonly` (NOLOGIN group for replica and reporting reads).
    pub readonly_group: Ident,
    /// `client_api_user` and `client_api_user_b` (LOGIN, members of the app group).
    pub logins: [Ident; 2],
    /// `pcc-client-api-devtest-db`.
    pub secret: String,
}

impl ServiceNames {
    /// Derives the names of `service` in `env`, dropping `prefix` from the service name.
    ///
    /// # Errors
    /// [`NameError`] when a derived name would exceed 63 bytes or break identifier rules.
    pub fn derive(service: &ServiceName, prefix: &str, env: &EnvName) -> Result<Self, NameError> {
        let base = service
            .as_str()
            .strip_prefix(prefix)
            .unwrap_or(service.as_str())
            .replace('-', "_");
        let ident = |what: &'static str, name: String| Ident::parse(what, &name);
        Ok(Self {
            database: ident("database", format!("{base}_db_{env}"))?,
            schema: ident("schema", base.clone())?,
            owner: ident("role", format!("{base}_owner"))?,
            app_group: ident("role", format!("{base}_app"))?,
            readonly_group: ident("role", format!("{base}_readonly"))?,
            logins: [
                ident("role", format!("{base}_user"))?,
                ident("role", format!("{base}_user_b"))?,
            ],
            secret: format!("{service}-{env}-db"),
            base,
        })
    }
}

/// The secret holding a platform role's credential in `env`: `flyway_user` -> `flyway-user-devtest-db`.
pub fn role_secret(role: &Ident, env: &EnvName) -> String {
    format!("{}-{env}-db", role.as_str().replace('_', "-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(s: &str) -> Result<ServiceName, NameError> {
        ServiceName::parse(s, "pcc-", &["dev", "devtest", "prod"])
    }

    #[test]
    fn the_seed_example_derives_the_seed_names() {
        let env = EnvName::parse("devtest").unwrap();
        let n = ServiceNames::derive(&svc("pcc-client-api").unwrap(), "pcc-", &env).unwrap();
        assert_eq!(n.database.as_str(), "client_api_db_devtest");
        assert_eq!(n.logins[0].as_str(), "client_api_user");
        assert_eq!(n.logins[1].as_str(), "client_api_user_b");
        assert_eq!(n.owner.as_str(), "client_api_owner");
        assert_eq!(n.schema.as_str(), "client_api");
        assert_eq!(n.secret, "pcc-client-api-devtest-db");
    }

    #[test]
    fn service_names_must_follow_the_convention() {
        assert!(svc("pcc-client-api").is_ok());
        assert!(svc("pcc-a1").is_ok());
        let e = svc("client-api").unwrap_err().to_string();
        assert!(e.contains("start with \"pcc-\""), "{e}");
        assert!(svc("pcc-Client-api").is_err());
        assert!(svc("pcc-client--api").is_err());
        assert!(svc("pcc-client_api").is_err());
        assert!(svc("pcc-client-api-").is_err());
        assert!(svc("pcc-").is_err());
        assert!(svc("pcc-1api").is_err());
    }

    #[test]
    fn an_environment_suffix_in_a_service_name_is_refused_with_the_fix() {
        let e = svc("pcc-client-api-devtest").unwrap_err().to_string();
        assert!(e.contains("-devtest") && e.contains("\"pcc-client-api\""), "{e}");
        // `dev` is an environment, but `-devices` is just a word.
        assert!(svc("pcc-devices").is_ok());
    }

    #[test]
    fn derived_names_over_63_bytes_are_refused() {
        let long = format!("pcc-{}", "a".repeat(53));
        let env = EnvName::parse("devtest").unwrap();
        let e = ServiceNames::derive(&svc(&long).unwrap(), "pcc-", &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("database") && e.contains("64 bytes"), "{e}");
    }

    #[test]
    fn environment_names_are_plain_words() {
        assert!(EnvName::parse("devtest").is_ok());
        assert!(EnvName::parse("prod2").is_ok());
        assert!(EnvName::parse("dev_test").is_err());
        assert!(EnvName::parse("Dev").is_err());
        assert!(EnvName::parse("").is_err());
    }

    #[test]
    fn platform_role_secrets_use_dashes() {
        let env = EnvName::parse("prod").unwrap();
        let role = Ident::parse("role", "flyway_user").unwrap();
        assert_eq!(role_secret(&role, &env), "flyway-user-prod-db");
    }
}
