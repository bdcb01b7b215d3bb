//! Observing a rotation target: the secret store (versions, the `current` alias, a pending
//! version, disabled versions no alias points to) and the catalog (each login's LOGIN flag and retirement mark), plus login tests of
//! the current and pending credentials (the pending one on the replica too, once it has
//! replayed the password change).

use std::time::Duration;

use secrets::{AliasName, DbCredential, VersionId, VersionRef, VersionState};
use time::OffsetDateTime;

use super::decide::{DisabledVersion, LoginState, Observed, VersionCredential};
use super::run::{Rotator, parse_mark};
use crate::error::ProvisionError;

impl Rotator<'_> {
    pub(super) async fn credential(&self, version: VersionId) -> Result<DbCredential, ProvisionError> {
        let read = self
            .store
            .access(&self.target.secret, &VersionRef::Number(version))
            .await
            .map_err(|e| self.secret_err("reading a version", e))?;
        DbCredential::from_json(&read.value).map_err(|e| ProvisionError::Rotation {
            secret: self.target.secret.to_string(),
            detail: format!("version {version} is not a credential ({e}); disable it or fix it by hand"),
        })
    }

    /// Whether `credential` logs in to the target database (any failure counts as no).
    pub(super) async fn logs_in(&self, credential: &DbCredential) -> bool {
        self.logs_in_at(self.admin.primary(), credential).await
    }

    async fn logs_in_at(&self, spec: &conninfo::ConnSpec, credential: &DbCredential) -> bool {
        match crate::target::connect(spec, &self.target.database, credential).await {
            Ok(_) => true,
            Err(e) => {
                tracing::debug!(db.user = %credential.username, error = %e, "login test failed");
                false
            }
        }
    }

    /// Whether a pending credential works where services will use it: on the primary, and on
    /// the replica once it has replayed the password change (waiting up to `replica_wait`, so
    /// replication lag never sends a replica pool a password its server does not know yet).
    async fn pending_works_everywhere(&self, credential: &DbCredential) -> bool {
        if !self.logs_in(credential).await {
            return false;
        }
        let Some(replica) = &self.admin.endpoints.replica else {
            return true;
        };
        let deadline = tokio::time::Instant::now() + self.replica_wait;
        loop {
            if self.logs_in_at(replica, credential).await {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(db.user = %credential.username, "the replica still rejects the new password; it lags or is down");
                return false;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Reads the state `decide` needs.
    ///
    /// # Errors
    /// Secret store and catalog errors; [`ProvisionError::Rotation`] when a login role is missing.
    pub async fn observe(&self) -> Result<Observed, ProvisionError> {
        let secret = &self.target.secret;
        let (aliases, versions) = match self.store.aliases(secret).await {
            Ok(aliases) => {
                let versions = self
                    .store
                    .list_versions(secret)
                    .await
                    .map_err(|e| self.secret_err("listing versions", e))?;
                (aliases, versions)
            }
            Err(e) if e.is_secret_missing() => (Default::default(), Vec::new()),
            Err(e) => return Err(self.secret_err("reading aliases", e)),
        };
        let current_alias = AliasName::parse("current").expect("constant alias");
        let current = match aliases.get(&current_alias) {
            Some(v) => {
                let created = versions.iter().find(|i| i.version == *v).and_then(|i| i.created);
                Some(VersionCredential {
                    version: *v,
                    created,
                    credential: self.credential(*v).await?,
                })
            }
            None => None,
        };
        let floor = current.as_ref().map(|c| c.version);
        let mut enabled: Vec<_> = versions.iter().filter(|v| v.state == VersionState::Enabled).collect();
        enabled.sort_by_key(|v| std::cmp::Reverse(v.version));
        let mut pending = None;
        let mut stale = Vec::new();
        for v in enabled {
            if Some(v.version) == floor {
                continue;
            }
            let newer = floor.is_none_or(|f| v.version > f);
            if newer && pending.is_none() {
                let credential = self.credential(v.version).await?;
                let pair = self.target.logins.len() > 1;
                let fits = self.target.logins.contains(&credential.username)
                    && (!pair
                        || current
                            .as_ref()
                            .is_none_or(|c| c.credential.username != credential.username));
                if fits {
                    pending = Some(VersionCredential {
                        version: v.version,
                        created: v.created,
                        credential,
                    });
                    continue;
                }
            }
            stale.push(v.version);
        }
        stale.sort();
        let aliased: Vec<VersionId> = aliases.values().copied().collect();
        let disabled_versions = versions
            .iter()
            .filter(|v| v.state == VersionState::Disabled && !aliased.contains(&v.version))
            .map(|v| DisabledVersion {
                version: v.version,
                superseded: versions
                    .iter()
                    .filter(|n| n.version > v.version)
                    .min_by_key(|n| n.version)
                    .and_then(|n| n.created),
            })
            .collect();
        let rows = self
            .admin
            .client
            .query(
                "SELECT rolname::text, rolcanlogin, shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = ANY($1)",
                &[&self.target.logins],
            )
            .await
            .map_err(|e| self.sql_err("SELECT ... FROM pg_roles".to_owned(), e))?;
        let mut logins = Vec::new();
        for name in &self.target.logins {
            let Some(row) = rows.iter().find(|r| r.get::<_, String>(0) == *name) else {
                return Err(ProvisionError::Rotation {
                    secret: secret.to_string(),
                    detail: format!("login role {name} does not exist; run `pccdb apply` first"),
                });
            };
            let comment: Option<String> = row.get(2);
            logins.push(LoginState {
                name: name.clone(),
                login: row.get(1),
                retire_after: comment.as_deref().and_then(parse_mark),
            });
        }
        let pending_works = match &pending {
            Some(p) => self.pending_works_everywhere(&p.credential).await,
            None => false,
        };
        let current_works = match &current {
            Some(c) => Some(self.logs_in(&c.credential).await),
            None => None,
        };
        Ok(Observed {
            current,
            current_works,
            pending,
            pending_works,
            stale_versions: stale,
            disabled_versions,
            logins,
            now: OffsetDateTime::now_utc(),
        })
    }
}
