//! Opening one router connection: conninfo's multi-host connect with the router's session
//! settings, credentials from the provider (re-read once on 28P01), the role check that drops
//! a connection that is not what its pool expects, and the per-connection statement cache.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use conninfo::{ConnSpec, ConnectedHost, Connector, ServerRole, TargetSessionAttrs};
use tokio_postgres::types::PgLsn;
use tokio_postgres::{Client, Statement};

use crate::backoff::jittered;
use crate::class::Target;
use crate::consistency::Lsn;
use crate::credentials::CredentialCache;
use crate::error::RouterError;
use crate::lag::SessionLag;
use crate::metrics::Metrics;

/// Prepared statements kept per connection before the cache is cleared.
const STATEMENT_CACHE: usize = 512;

/// What one side of the router needs to open connections.
pub(crate) struct TargetCore {
    pub target: Target,
    /// Read-write sessions (primary only).
    rw: Option<Connector>,
    /// Read-only sessions (`default_transaction_read_only=on`).
    ro: Connector,
    credentials: Option<Arc<CredentialCache>>,
    lifetime: Option<Duration>,
    jitter: f64,
    pub include_detail: bool,
    /// Client-side limit per statement: the server's statement timeout plus a grace period.
    pub client_timeout: Option<Duration>,
    pub metrics: Arc<Metrics>,
}

/// Settings for [`TargetCore::new`].
pub(crate) struct CoreSettings {
    pub statement_timeout: Option<Duration>,
    pub grace: Duration,
    pub jitter: f64,
    pub credentials: Option<Arc<CredentialCache>>,
    pub metrics: Arc<Metrics>,
}

impl TargetCore {
    pub(crate) fn new(target: Target, spec: &ConnSpec, settings: CoreSettings) -> Result<Self, RouterError> {
        let mut base = spec.clone().with_target_session_attrs(match target {
            // The router checks the exact role itself; these only make conninfo skip hosts that
            // cannot be right (a standby for the primary, a primary for the replica).
            Target::Primary => TargetSessionAttrs::Primary,
            Target::Replica => TargetSessionAttrs::Standby,
        });
        if base.connect_timeout.is_none() {
            base.connect_timeout = Some(conninfo::FALLBACK_CONNECT_TIMEOUT);
        }
        if let Some(timeout) = settings.statement_timeout {
            base = base.with_setting("statement_timeout", &timeout.as_millis().to_string());
        }
        let connector =
            |spec: &ConnSpec| Connector::new(spec).map_err(|source| RouterError::Connect { target, source });
        let rw = match target {
            Target::Primary => Some(connector(&base)?),
            Target::Replica => None,
        };
        let ro = connector(&base.with_setting("default_transaction_read_only", "on"))?;
        Ok(TargetCore {
            target,
            rw,
            ro,
            credentials: settings.credentials,
            lifetime: spec.pool.max_lifetime,
            jitter: settings.jitter,
            include_detail: spec.include_error_detail,
            client_timeout: settings.statement_timeout.map(|t| t + settings.grace),
            metrics: settings.metrics,
        })
    }

    /// The role a session of this core must have.
    pub(crate) fn expected_role(&self, read_only: bool) -> ServerRole {
        match (self.target, read_only) {
            (Target::Replica, _) => ServerRole::Standby,
            (Target::Primary, true) => ServerRole::PrimaryReadOnly,
            (Target::Primary, false) => ServerRole::PrimaryReadWrite,
        }
    }

    /// Opens a session (read-only or read-write) and checks its role.
    pub(crate) async fn open(&self, read_only: bool) -> Result<OpenConn, RouterError> {
        let connector = match (&self.rw, read_only) {
            (Some(rw), false) => rw,
            _ => &self.ro,
        };
        let (client, host) = match self.connect(connector).await {
            Ok(pair) => pair,
            Err(err) => {
                self.metrics.connect_failure(self.target);
                return Err(err);
            }
        };
        let expected = self.expected_role(read_only);
        if host.role != expected {
            self.metrics.rejected(self.target);
            tracing::warn!(target = %self.target, host = %host.host, role = %host.role, expected = %expected, "dropping a new connection with the wrong role");
            return Err(RouterError::WrongRole {
                target: self.target,
                host: host.host.to_string(),
                role: host.role,
            });
        }
        let probe_sql = match self.target {
            Target::Primary => "SELECT pg_catalog.pg_current_wal_insert_lsn()",
            Target::Replica => "SELECT pg_catalog.pg_last_wal_replay_lsn()",
        };
        let probe = client
            .prepare(probe_sql)
            .await
            .map_err(|e| RouterError::db(self.target, e, self.include_detail))?;
        self.metrics.opened(self.target);
        // Each replica session learns its own position: behind a load-balanced endpoint another
        // session to the same host may be on another node.
        let lag = (self.target == Target::Replica).then(SessionLag::default);
        Ok(OpenConn {
            client,
            expected,
            expires_at: self
                .lifetime
                .map(|lifetime| Instant::now() + jittered(lifetime, self.jitter)),
            statements: Mutex::new(HashMap::new()),
            in_transaction: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            probe,
            lag,
            host,
            inflight: AtomicU32::new(0),
            progress_us: AtomicU64::new(0),
            opened: Instant::now(),
        })
    }

    /// Connects with the provider's credentials, re-reading them once after a 28P01.
    async fn connect(&self, connector: &Connector) -> Result<(Client, ConnectedHost), RouterError> {
        let target = self.target;
        let Some(cache) = &self.credentials else {
            return connector
                .connect()
                .await
                .map_err(|source| RouterError::Connect { target, source });
        };
        let (credentials, generation) = cache.current();
        let first = connector
            .connect_as(credentials.username.as_deref(), Some(&credentials.password))
            .await;
        match first {
            Ok(pair) => Ok(pair),
            Err(source) if source.sqlstate() == Some("28P01") => {
                let (fresh, _, reread) = cache.after_rejection(generation).await?;
                if reread {
                    self.metrics.credential_refresh();
                    tracing::info!(target = %target, "password rejected; re-read the credentials and retrying once");
                }
                connector
                    .connect_as(fresh.username.as_deref(), Some(&fresh.password))
                    .await
                    .map_err(|source| {
                        if source.is_auth_failure() {
                            RouterError::AuthFailed { target, source }
                        } else {
                            RouterError::Connect { target, source }
                        }
                    })
            }
            Err(source) => Err(RouterError::Connect { target, source }),
        }
    }
}

/// A request in flight on a shared session.
pub(crate) struct InFlight<'a>(&'a OpenConn);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.progress_us.store(self.0.now_us(), Ordering::Release);
        self.0.inflight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Whether an error says a prepared statement outlived a schema change: "cached plan must not
/// change result type" (0A000), e.g. `SELECT *` after a migration added a column while the
/// service kept running.
pub(crate) fn stale_plan(err: &RouterError) -> bool {
    err.as_db_error()
        .is_some_and(|db| db.code().code() == "0A000" && db.message().contains("cached plan"))
}

/// Runs an autocommit statement; if its cached plan went stale, prepares it again and retries
/// once (the failed attempt had no effect: the error is raised before execution).
pub(crate) async fn retry_stale<T, F, Fut>(conn: &OpenConn, sql: &str, mut attempt: F) -> Result<T, RouterError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RouterError>>,
{
    match attempt().await {
        Err(err) if stale_plan(&err) => {
            tracing::debug!(sql, "prepared statement outlived a schema change; preparing it again");
            conn.forget(sql);
            attempt().await
        }
        other => other,
    }
}

/// One open session with its metadata.
pub(crate) struct OpenConn {
    pub client: Client,
    pub host: ConnectedHost,
    expected: ServerRole,
    expires_at: Option<Instant>,
    statements: Mutex<HashMap<String, Statement>>,
    /// A transaction was begun and not finished: the pool rolls it back before reuse.
    pub in_transaction: AtomicBool,
    /// A failure made the session unusable (lost, timed out, demoted).
    pub broken: AtomicBool,
    probe: Statement,
    /// Replica only: this session's replay position (never another session's).
    pub lag: Option<SessionLag>,
    /// Watchdog of shared sessions: requests in flight, and when the session last made
    /// progress (a request completed, or it went from idle to busy), in µs since `opened`.
    inflight: AtomicU32,
    progress_us: AtomicU64,
    opened: Instant,
}

impl OpenConn {
    /// Open, not broken, and still the role it was opened for.
    pub(crate) fn usable(&self) -> bool {
        !self.broken.load(Ordering::Relaxed)
            && !self.host.session.is_closed()
            && self.host.session.role().is_none_or(|role| role == self.expected)
    }

    /// Past its (jittered) lifetime.
    pub(crate) fn expired(&self) -> bool {
        self.expires_at.is_some_and(|at| Instant::now() >= at)
    }

    pub(crate) fn mark_broken(&self) {
        self.broken.store(true, Ordering::Relaxed);
    }

    fn now_us(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Counts a request in flight until the guard drops (the shared-session watchdog instead of
    /// one timer per request: two atomic operations and a clock read).
    pub(crate) fn track(&self) -> InFlight<'_> {
        if self.inflight.fetch_add(1, Ordering::AcqRel) == 0 {
            self.progress_us.store(self.now_us(), Ordering::Release);
        }
        InFlight(self)
    }

    /// Busy without any request completing for longer than `limit`: the server stopped
    /// answering (a statement that runs too long is cancelled by `statement_timeout` sooner).
    pub(crate) fn stalled(&self, limit: Duration) -> bool {
        self.inflight.load(Ordering::Acquire) > 0
            && self.now_us().saturating_sub(self.progress_us.load(Ordering::Acquire))
                > u64::try_from(limit.as_micros()).unwrap_or(u64::MAX)
    }

    /// The prepared statement for `sql`, preparing it on first use.
    pub(crate) async fn statement(&self, sql: &str) -> Result<Statement, tokio_postgres::Error> {
        if let Some(statement) = self.cached(sql) {
            return Ok(statement);
        }
        let statement = self.client.prepare(sql).await?;
        let mut cache = self
            .statements
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= STATEMENT_CACHE {
            cache.clear();
        }
        cache.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    /// Drops a cached statement (its plan no longer matches the tables).
    pub(crate) fn forget(&self, sql: &str) {
        let mut cache = self
            .statements
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.remove(sql);
    }

    /// The cached statement for `sql`, if prepared already (no I/O).
    pub(crate) fn cached(&self, sql: &str) -> Option<Statement> {
        let cache = self
            .statements
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.get(sql).cloned()
    }

    /// The WAL position: insert position on the primary, replay position on a replica
    /// (`None` when the replica left recovery).
    pub(crate) async fn probe(&self) -> Result<Option<Lsn>, tokio_postgres::Error> {
        let row = self.client.query_one(&self.probe, &[]).await?;
        Ok(row.get::<_, Option<PgLsn>>(0).map(Lsn::from))
    }

    /// The probe statement, for pipelining it next to another query.
    pub(crate) fn probe_statement(&self) -> &Statement {
        &self.probe
    }
}
