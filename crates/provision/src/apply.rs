//! `plan` and `apply`: read the catalog as the admin, diff, and (for apply) execute the plan
//! phase by phase under an advisory lock, then verify that a fresh plan is empty.
//!
//! Apply re-reads the catalog and re-plans before each phase (roles; databases; inside each
//! database): each phase then runs against what is really there (a database just created, a
//! concurrent manual change), and a crash anywhere leaves a catalog the next run converges
//! from. Role and in-database phases are transactions; `CREATE DATABASE` runs alone, outside
//! a transaction, as PostgreSQL requires. The advisory lock lives in the maintenance database
//! (advisory locks are per database), so two pipelines applying to one cluster take turns.

use std::collections::BTreeMap;
use std::time::Duration;

use conninfo::ConnSpec;
use secrets::DbCredential;
use tokio_postgres::Client;

use crate::budget;
use crate::catalog::{ClusterSnapshot, read_cluster, read_database};
use crate::desired::{Desired, desired};
use crate::diff::{Blocked, DbState, Phase, Plan, Step, diff};
use crate::error::ProvisionError;
use crate::manifest::{Environment, Manifest, MaxConnections};
use crate::target::{self, EnvEndpoints};

/// The advisory lock key apply holds ("pccdbapl" as ASCII).
pub const APPLY_LOCK_KEY: i64 = 0x7063_6364_6261_706c;

/// A plan and what it was computed against.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlanReport {
    /// The environment.
    pub environment: String,
    /// The detected platform.
    pub platform: crate::catalog::Platform,
    /// The connected admin role.
    pub admin: String,
    /// Whether it is a superuser.
    pub admin_is_superuser: bool,
    /// `server_version_num`.
    pub server_version_num: u32,
    /// The plan.
    pub plan: Plan,
}

/// What apply did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApplyReport {
    /// The environment.
    pub environment: String,
    /// The connected admin role.
    pub admin: String,
    /// Every statement executed, in order.
    pub executed: Vec<Step>,
    /// Notes of the final plan.
    pub notes: Vec<String>,
}

/// An admin session on an environment: endpoints, credential and a maintenance connection.
pub struct AdminSession {
    /// The environment's endpoints.
    pub endpoints: EnvEndpoints,
    /// The admin credential.
    pub credential: DbCredential,
    /// Connected to the maintenance database.
    pub client: Client,
    maintenance: String,
}

impl AdminSession {
    /// Connects as the environment's admin to its maintenance database.
    ///
    /// # Errors
    /// Endpoint, secret or connection errors.
    pub async fn open(env: &Environment) -> Result<Self, ProvisionError> {
        let endpoints = target::endpoints(env)?;
        let credential = target::admin_credential(env).await?;
        let client = target::connect(&endpoints.primary, &env.maintenance_database, &credential).await?;
        Ok(Self {
            endpoints,
            credential,
            client,
            maintenance: env.maintenance_database.clone(),
        })
    }

    /// A new admin connection to `database` on the primary.
    ///
    /// # Errors
    /// [`ProvisionError::Connect`].
    pub async fn connect_to(&self, database: &str) -> Result<Client, ProvisionError> {
        target::connect(&self.endpoints.primary, database, &self.credential).await
    }

    /// The primary's spec.
    pub fn primary(&self) -> &ConnSpec {
        &self.endpoints.primary
    }

    /// Reads the cluster and every managed database that exists.
    ///
    /// # Errors
    /// Catalog errors of the cluster read; a database that cannot be read becomes [`DbState::Unreadable`].
    pub async fn read_state(
        &self,
        manifest: &Manifest,
        env: &Environment,
    ) -> Result<(ClusterSnapshot, Desired, BTreeMap<String, DbState>), ProvisionError> {
        let cluster = read_cluster(&self.client).await?;
        let want = desired(manifest, env, &cluster);
        let mut dbs = BTreeMap::new();
        for db in &want.databases {
            if !cluster.databases.contains_key(&db.name) {
                continue;
            }
            let state = match self.connect_to(&db.name).await {
                Ok(client) => DbState::Read(read_database(&client, &db.name).await?),
                Err(e) => DbState::Unreadable(e.to_string()),
            };
            dbs.insert(db.name.clone(), state);
        }
        Ok((cluster, want, dbs))
    }

    /// Reads the catalog and computes the plan, including the connection budget against the
    /// server's max_connections when the manifest says "server".
    ///
    /// # Errors
    /// Catalog errors.
    pub async fn plan(
        &self,
        manifest: &Manifest,
        env: &Environment,
    ) -> Result<(ClusterSnapshot, Plan), ProvisionError> {
        let (cluster, want, dbs) = self.read_state(manifest, env).await?;
        let mut plan = diff(&want, &cluster, &dbs);
        if env.max_connections == MaxConnections::FromServer {
            let max = cluster.settings.max_connections;
            let budgets = [
                Some(budget::primary(manifest, env, max)),
                budget::replica(manifest, env, max),
            ];
            for b in budgets.into_iter().flatten().filter(|b| !b.fits()) {
                plan.blocked.push(Blocked {
                    what: format!("fit the connection budget of {}", env.name),
                    why: b.explain(),
                    fix: "lower pool sizes or pods in the manifest, or raise max_connections".to_owned(),
                });
            }
        }
        Ok((cluster, plan))
    }

    async fn run(
        &self,
        client: &Client,
        context: &str,
        steps: &[&Step],
        transaction: bool,
    ) -> Result<(), ProvisionError> {
        let exec = |statement: &str| {
            let statement = statement.to_owned();
            async move {
                client
                    .batch_execute(&statement)
                    .await
                    .map_err(|source| ProvisionError::Sql {
                        context: context.to_owned(),
                        statement,
                        source,
                    })
            }
        };
        if transaction {
            exec("BEGIN").await?;
        }
        for step in steps {
            tracing::info!(db.phase = ?step.phase, sql = %step.sql, reason = %step.reason, "applying");
            if let Err(e) = exec(&step.sql).await {
                if transaction {
                    let _ = client.batch_execute("ROLLBACK").await;
                }
                return Err(e);
            }
        }
        if transaction {
            exec("COMMIT").await?;
        }
        Ok(())
    }

    async fn lock(&self, wait: Duration) -> Result<(), ProvisionError> {
        let timeout = format!("SET lock_timeout = '{}ms'", wait.as_millis());
        self.client
            .batch_execute(&timeout)
            .await
            .map_err(|source| ProvisionError::Sql {
                context: "preparing the apply lock".to_owned(),
                statement: timeout.clone(),
                source,
            })?;
        tracing::debug!(db.name = %self.maintenance, "taking the apply advisory lock");
        match self
            .client
            .execute("SELECT pg_advisory_lock($1)", &[&APPLY_LOCK_KEY])
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) => {
                Err(ProvisionError::LockTimeout {
                    what: "apply",
                    database: self.maintenance.clone(),
                    waited_s: wait.as_secs(),
                })
            }
            Err(source) => Err(ProvisionError::Sql {
                context: "taking the apply lock".to_owned(),
                statement: "SELECT pg_advisory_lock(...)".to_owned(),
                source,
            }),
        }
    }

    /// Applies the manifest to the environment and verifies the result.
    ///
    /// # Errors
    /// [`ProvisionError::Blocked`] before anything runs when the plan has blocked items;
    /// [`ProvisionError::Sql`] when a statement fails (its transaction is rolled back);
    /// [`ProvisionError::NotConverged`] when a final plan is not empty; lock, catalog and
    /// connection errors.
    pub async fn apply(
        &self,
        manifest: &Manifest,
        env: &Environment,
        lock_wait: Duration,
    ) -> Result<ApplyReport, ProvisionError> {
        self.lock(lock_wait).await?;
        let result = self.apply_locked(manifest, env).await;
        let _ = self
            .client
            .execute("SELECT pg_advisory_unlock($1)", &[&APPLY_LOCK_KEY])
            .await;
        result
    }

    async fn apply_locked(&self, manifest: &Manifest, env: &Environment) -> Result<ApplyReport, ProvisionError> {
        let mut executed = Vec::new();
        let (cluster, plan) = self.plan(manifest, env).await?;
        refuse_blocked(&cluster, &plan)?;
        let user = cluster.session.user.clone();

        // Phase 1: roles and memberships, one transaction.
        let steps: Vec<&Step> = plan.steps.iter().filter(|s| s.phase == Phase::Cluster).collect();
        self.run(&self.client, "apply roles", &steps, true).await?;
        executed.extend(steps.into_iter().cloned());

        // Phase 2: databases (creation alone; owner and ACL in a transaction per database).
        let (cluster, plan) = self.plan(manifest, env).await?;
        refuse_blocked(&cluster, &plan)?;
        for db in desired(manifest, env, &cluster).databases {
            let create: Vec<&Step> = plan
                .steps
                .iter()
                .filter(|s| s.phase == Phase::CreateDatabase(db.name.clone()))
                .collect();
            self.run(&self.client, &format!("create database {}", db.name), &create, false)
                .await?;
            executed.extend(create.into_iter().cloned());
            let level: Vec<&Step> = plan
                .steps
                .iter()
                .filter(|s| s.phase == Phase::Database(db.name.clone()))
                .collect();
            self.run(&self.client, &format!("apply database {}", db.name), &level, true)
                .await?;
            executed.extend(level.into_iter().cloned());
        }

        // Phase 3: inside each database, planned against what is there now.
        let (cluster, plan) = self.plan(manifest, env).await?;
        refuse_blocked(&cluster, &plan)?;
        for db in desired(manifest, env, &cluster).databases {
            let inside: Vec<&Step> = plan
                .steps
                .iter()
                .filter(|s| s.phase == Phase::InDatabase(db.name.clone()))
                .collect();
            if inside.is_empty() {
                continue;
            }
            let client = self.connect_to(&db.name).await?;
            self.run(&client, &format!("apply in database {}", db.name), &inside, true)
                .await?;
            executed.extend(inside.into_iter().cloned());
        }

        // Verify: a fresh plan must be empty.
        let (_, last) = self.plan(manifest, env).await?;
        if !last.is_empty() {
            let mut remaining: Vec<String> = last.steps.iter().map(|s| s.sql.clone()).collect();
            remaining.extend(last.blocked.iter().map(|b| format!("(blocked) {}: {}", b.what, b.why)));
            return Err(ProvisionError::NotConverged { remaining });
        }
        tracing::info!(env = %env.name, statements = executed.len(), "apply finished");
        Ok(ApplyReport {
            environment: env.name.to_string(),
            admin: user,
            executed,
            notes: last.notes,
        })
    }
}

fn refuse_blocked(cluster: &ClusterSnapshot, plan: &Plan) -> Result<(), ProvisionError> {
    if plan.blocked.is_empty() {
        Ok(())
    } else {
        Err(ProvisionError::Blocked {
            user: cluster.session.user.clone(),
            blocked: plan.blocked.clone(),
        })
    }
}

/// Connects as the admin of `env` and computes the plan.
///
/// # Errors
/// Manifest, endpoint, secret, connection and catalog errors.
pub async fn plan(manifest: &Manifest, env_name: &str) -> Result<PlanReport, ProvisionError> {
    let env = manifest.environment(env_name)?;
    let session = AdminSession::open(env).await?;
    let (cluster, plan) = session.plan(manifest, env).await?;
    Ok(PlanReport {
        environment: env.name.to_string(),
        platform: cluster.platform,
        admin: cluster.session.user.clone(),
        admin_is_superuser: cluster.session.superuser,
        server_version_num: cluster.settings.version_num,
        plan,
    })
}

/// Connects as the admin of `env` and applies the manifest (waiting up to `lock_wait` for a
/// concurrent apply).
///
/// # Errors
/// As [`AdminSession::apply`], plus manifest, endpoint, secret and connection errors.
pub async fn apply(manifest: &Manifest, env_name: &str, lock_wait: Duration) -> Result<ApplyReport, ProvisionError> {
    let env = manifest.environment(env_name)?;
    let session = AdminSession::open(env).await?;
    session.apply(manifest, env, lock_wait).await
}

/// What [`provision`] did: the schema apply and the credential convergence.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProvisionReport {
    /// Roles, databases, schemas, privileges.
    pub apply: ApplyReport,
    /// First credentials created, rotations finished.
    pub credentials: Vec<crate::rotate::RotationReport>,
}

/// Everything `pccdb apply` does, in one call: provisions `env` and converges its credentials
/// (creating first ones, finishing rotations past their grace period). The service's
/// embedded default calls this for `dev`, whose secrets live in a file store under `.pcc/`.
///
/// # Errors
/// As [`apply`] and [`crate::rotate::converge`].
pub async fn provision(
    manifest: &Manifest,
    env_name: &str,
    lock_wait: Duration,
) -> Result<ProvisionReport, ProvisionError> {
    let env = manifest.environment(env_name)?;
    let session = AdminSession::open(env).await?;
    let apply = session.apply(manifest, env, lock_wait).await?;
    let credentials = crate::rotate::converge(&session, manifest, env, lock_wait).await?;
    Ok(ProvisionReport { apply, credentials })
}
