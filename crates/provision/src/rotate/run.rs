//! Rotation against real systems: execute one step, observe again (`observe.rs`), until done.
//! The loop holds an advisory lock per secret so two rotations of one secret
//! never interleave; `Rotator::observe` and `Rotator::execute` are public so tests can stop
//! between any two steps (a crash) and check that a fresh run converges.
//!
//! The new password is generated here (OS CSPRNG), stored in the secret, and reaches the
//! database only as a SCRAM-SHA-256 verifier computed in this process. The verifier travels as
//! a bind parameter (its `Debug` redacted: tokio-postgres logs parameters at debug level) into a
//! transaction-local setting that a DO block reads, so neither the client library's log nor
//! the server's DDL log ever shows it (only `log_statement = all` would show the parameter,
//! and it is a verifier, not the password).

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret as _;
use secrets::{AliasName, DbCredential, SecretError, SecretStore, VersionId, generate_password};
use time::OffsetDateTime;

use super::decide::{Mode, Step, decide};
use super::redacted::Redacted;
use super::target::RotationTarget;
use crate::apply::AdminSession;
use crate::error::ProvisionError;
use crate::ident::{quote_ident, quote_literal};

/// Prefix of the retirement mark in a role comment.
pub const MARK_PREFIX: &str = "pccdb rotation: retired login; disable after ";
/// Advisory lock class of rotations ("pcr" + 1).
const ROTATE_LOCK_CLASS: i32 = 0x0070_6372;
/// Steps one run may take before it is considered stuck.
const MAX_STEPS: usize = 32;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Converged: nothing left to do.
    Done,
    /// The previous login is in its grace period; run again after `until` to finish.
    Waiting {
        /// The login.
        user: String,
        /// The end of its grace period.
        #[serde(with = "time::serde::rfc3339")]
        until: OffsetDateTime,
    },
}

/// What one run did to one target.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RotationReport {
    /// The target.
    pub target: RotationTarget,
    /// The steps executed, in order.
    pub steps: Vec<Step>,
    /// How it ended.
    pub outcome: Outcome,
    /// The `current` version afterwards.
    pub current_version: Option<VersionId>,
    /// The login of the current credential afterwards.
    pub current_user: Option<String>,
}

/// Parses a retirement mark.
pub fn parse_mark(comment: &str) -> Option<OffsetDateTime> {
    let rest = comment.strip_prefix(MARK_PREFIX)?;
    OffsetDateTime::parse(rest.trim(), &time::format_description::well_known::Rfc3339).ok()
}

fn lock_key(secret: &str) -> i32 {
    // FNV-1a: stable across processes and versions (unlike Rust's hasher).
    let mut h: u32 = 0x811c_9dc5;
    for b in secret.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    i32::from_ne_bytes(h.to_ne_bytes())
}

/// Rotates one target as the admin of its environment.
pub struct Rotator<'a> {
    pub(super) admin: &'a AdminSession,
    pub(super) store: Arc<dyn SecretStore>,
    pub(super) target: RotationTarget,
    pub(super) replica_wait: Duration,
}

impl<'a> Rotator<'a> {
    /// A rotator for `target`, writing to `store`.
    pub fn new(admin: &'a AdminSession, store: Arc<dyn SecretStore>, target: RotationTarget) -> Self {
        Self {
            admin,
            store,
            target,
            replica_wait: Duration::from_secs(60),
        }
    }

    /// How long to wait for the replica to accept a new password before giving up (default 60 s).
    #[must_use]
    pub fn with_replica_wait(mut self, wait: Duration) -> Self {
        self.replica_wait = wait;
        self
    }

    pub(super) fn secret_err(&self, what: &str, source: SecretError) -> ProvisionError {
        ProvisionError::Secret {
            what: format!("{what} of secret {} in {}", self.target.secret, self.store.describe()),
            source: Box::new(source),
        }
    }

    pub(super) fn sql_err(&self, statement: String, source: tokio_postgres::Error) -> ProvisionError {
        ProvisionError::Sql {
            context: format!("rotation of {}", self.target.secret),
            statement,
            source,
        }
    }

    /// Causes one step's effect.
    ///
    /// # Errors
    /// Secret store and SQL errors.
    pub async fn execute(&self, step: &Step) -> Result<(), ProvisionError> {
        tracing::info!(secret.name = %self.target.secret, rotation.step = ?step, "rotation step");
        let client = &self.admin.client;
        let exec = |sql: String| async move {
            client
                .batch_execute(&sql)
                .await
                .map_err(|e| self.sql_err(sql.clone(), e))
        };
        match step {
            Step::AddPending { user } => {
                let password = generate_password().map_err(|e| self.secret_err("generating a password", e))?;
                let value = DbCredential::new(user.clone(), password).to_json();
                let version = self
                    .store
                    .add_version(&self.target.secret, &value)
                    .await
                    .map_err(|e| self.secret_err("adding a version", e))?;
                tracing::info!(secret.name = %self.target.secret, secret.version = %version, db.user = %user, "added pending credential");
            }
            Step::SetPassword { user, version } => {
                let credential = self.credential(*version).await?;
                let verifier =
                    postgres_protocol::password::scram_sha_256(credential.password.expose_secret().as_bytes());
                exec("BEGIN".to_owned()).await?;
                let set = client
                    .query(
                        "SELECT set_config('pcc.rotation_verifier', $1, true)",
                        &[&Redacted(&verifier)],
                    )
                    .await
                    .map_err(|e| {
                        self.sql_err(
                            "SELECT set_config('pcc.rotation_verifier', <verifier>, true)".to_owned(),
                            e,
                        )
                    });
                if let Err(e) = set {
                    let _ = client.batch_execute("ROLLBACK").await;
                    return Err(e);
                }
                let alter = format!(
                    "DO $pcc$ BEGIN EXECUTE format('ALTER ROLE %I WITH LOGIN PASSWORD %L', {}, current_setting('pcc.rotation_verifier')); END $pcc$",
                    quote_literal(user)
                );
                if let Err(e) = exec(alter).await {
                    let _ = client.batch_execute("ROLLBACK").await;
                    return Err(e);
                }
                exec("COMMIT".to_owned()).await?;
            }
            Step::MarkRetiring { user, until } => {
                let when = until
                    .format(&time::format_description::well_known::Rfc3339)
                    .expect("RFC 3339 formats any UTC time");
                exec(format!(
                    "COMMENT ON ROLE {} IS {}",
                    quote_ident(user),
                    quote_literal(&format!("{MARK_PREFIX}{when}"))
                ))
                .await?;
            }
            Step::Promote { version } => {
                let alias = AliasName::parse("current").expect("constant alias");
                self.store
                    .set_alias(&self.target.secret, &alias, *version)
                    .await
                    .map_err(|e| self.secret_err("moving alias current", e))?;
            }
            Step::DisableLogin { user } => {
                exec(format!("ALTER ROLE {} WITH NOLOGIN PASSWORD NULL", quote_ident(user))).await?;
                // Open sessions survive NOLOGIN; after a grace period longer than the pools'
                // connection lifetime there should be none. Say so when there are.
                let open: i64 = client
                    .query_one("SELECT count(*) FROM pg_stat_activity WHERE usename = $1", &[user])
                    .await
                    .map(|r| r.get(0))
                    .unwrap_or(0);
                if open > 0 {
                    tracing::warn!(
                        db.user = %user,
                        sessions = open,
                        "the retired login still has open sessions; pools should have replaced them within the grace period"
                    );
                }
            }
            Step::ClearMark { user } => exec(format!("COMMENT ON ROLE {} IS NULL", quote_ident(user))).await?,
            Step::DisableVersions { versions } => {
                for v in versions {
                    self.store
                        .disable_version(&self.target.secret, *v)
                        .await
                        .map_err(|e| self.secret_err("disabling a version", e))?;
                }
            }
            Step::DestroyVersions { versions } => {
                for v in versions {
                    self.store
                        .destroy_version(&self.target.secret, *v)
                        .await
                        .map_err(|e| self.secret_err("destroying a version", e))?;
                }
                tracing::info!(secret.name = %self.target.secret, versions = ?versions, "destroyed disabled versions beyond the retention");
            }
            Step::Wait { .. } | Step::Done => {}
        }
        Ok(())
    }

    async fn lock(&self, wait: Duration) -> Result<(), ProvisionError> {
        let client = &self.admin.client;
        let timeout = format!("SET lock_timeout = '{}ms'", wait.as_millis());
        client
            .batch_execute(&timeout)
            .await
            .map_err(|e| self.sql_err(timeout.clone(), e))?;
        let key = lock_key(self.target.secret.as_str());
        match client
            .execute("SELECT pg_advisory_lock($1, $2)", &[&ROTATE_LOCK_CLASS, &key])
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
                Err(ProvisionError::LockTimeout {
                    what: "rotate",
                    database: "the maintenance database".to_owned(),
                    waited_s: wait.as_secs(),
                })
            }
            Err(e) => Err(self.sql_err("SELECT pg_advisory_lock(...)".to_owned(), e)),
        }
    }

    /// Runs the state machine until it is done, or waiting for a grace period (which it
    /// sleeps through when `wait_for_grace`).
    ///
    /// # Errors
    /// Store, SQL and lock errors; [`ProvisionError::Rotation`] when a freshly set password
    /// still does not log in, or the run does not settle.
    pub async fn run(
        &self,
        mode: Mode,
        wait_for_grace: bool,
        lock_wait: Duration,
    ) -> Result<RotationReport, ProvisionError> {
        self.lock(lock_wait).await?;
        let result = self.run_locked(mode, wait_for_grace).await;
        let key = lock_key(self.target.secret.as_str());
        let _ = self
            .admin
            .client
            .execute("SELECT pg_advisory_unlock($1, $2)", &[&ROTATE_LOCK_CLASS, &key])
            .await;
        result
    }

    /// A store without versions (environment variables, a mounted plain file) is managed
    /// elsewhere: converging accepts a working credential there, rotating is refused.
    async fn externally_managed(&self, mode: Mode) -> Option<Result<RotationReport, ProvisionError>> {
        match self.store.list_versions(&self.target.secret).await {
            Err(SecretError::Unsupported { .. }) => {}
            _ => return None,
        }
        let refuse = |detail: String| {
            Some(Err(ProvisionError::Rotation {
                secret: self.target.secret.to_string(),
                detail,
            }))
        };
        if mode != Mode::Converge {
            return refuse(format!(
                "{} is read-only here; rotate the credential where it is managed",
                self.store.describe()
            ));
        }
        let current = match crate::target::read_credential(
            self.store.as_ref(),
            self.target.secret.as_str(),
            &secrets::VersionRef::current(),
        )
        .await
        {
            Ok(c) => c,
            Err(e) => return Some(Err(e)),
        };
        if !self.logs_in(&current).await {
            return refuse(format!(
                "the credential in read-only {} does not log in; fix it where it is managed",
                self.store.describe()
            ));
        }
        Some(Ok(RotationReport {
            target: self.target.clone(),
            steps: Vec::new(),
            outcome: Outcome::Done,
            current_version: None,
            current_user: Some(current.username),
        }))
    }

    async fn run_locked(&self, mode: Mode, wait_for_grace: bool) -> Result<RotationReport, ProvisionError> {
        if let Some(result) = self.externally_managed(mode).await {
            return result;
        }
        let mut steps = Vec::new();
        let mut promoted = false;
        let mut password_set: Option<VersionId> = None;
        loop {
            let obs = self.observe().await?;
            let step = decide(&obs, &self.target.policy(), mode, promoted);
            let outcome = match &step {
                Step::Done => Some(Outcome::Done),
                Step::Wait { user, until } if !wait_for_grace => Some(Outcome::Waiting {
                    user: user.clone(),
                    until: *until,
                }),
                Step::Wait { user, until } => {
                    let left = (*until - obs.now).max(time::Duration::ZERO) + time::Duration::milliseconds(50);
                    tracing::info!(db.user = %user, wait_ms = left.whole_milliseconds(), "waiting for the grace period");
                    tokio::time::sleep(left.try_into().unwrap_or(Duration::ZERO)).await;
                    continue;
                }
                _ => None,
            };
            if let Some(outcome) = outcome {
                return Ok(RotationReport {
                    target: self.target.clone(),
                    steps,
                    outcome,
                    current_version: obs.current.as_ref().map(|c| c.version),
                    current_user: obs.current.map(|c| c.credential.username),
                });
            }
            if let Step::SetPassword { user, version } = &step {
                if password_set == Some(*version) {
                    return Err(ProvisionError::Rotation {
                        secret: self.target.secret.to_string(),
                        detail: format!(
                            "{user} was given the password of version {version}, but logging in to {} with it still fails on the primary or the replica; check pg_hba.conf, replication and the server log, then rerun",
                            self.target.database
                        ),
                    });
                }
                password_set = Some(*version);
            }
            self.execute(&step).await?;
            promoted |= matches!(step, Step::Promote { .. });
            steps.push(step);
            if steps.len() > MAX_STEPS {
                return Err(ProvisionError::Rotation {
                    secret: self.target.secret.to_string(),
                    detail: format!("did not settle after {MAX_STEPS} steps: {steps:?}"),
                });
            }
        }
    }
}
