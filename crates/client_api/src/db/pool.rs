//! One connection pool for one server role (primary or replica): deadpool over sessions opened by
//! `conninfo::Connector` (multi-host, TLS modes, target session attributes), with the password taken from the
//! credential source and re-read once when the server rejects it (SQLSTATE 28P01 after a rotation).
//!
//! This is the service's stand-in for the pools of `crates/db_router` (issue 5), which was not usable when the
//! service was written; it keeps db_router's shape (typed intent above it, see `db/mod.rs`) so the swap is local.

use std::sync::Arc;
use std::time::Duration;

use std::collections::HashMap;
use std::sync::Mutex;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use secrecy::SecretString;
use tokio_postgres::{Client, Statement};

use super::credentials::Credentials;

/// Which server a pool talks to; replica sessions are made read-only at the session level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The read-write primary.
    Primary,
    /// The streaming replica.
    Replica,
}

impl Role {
    /// Label for metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Replica => "replica",
        }
    }
}

/// Why a session could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectFailure {
    /// conninfo could not open a session.
    #[error("{0}")]
    Connect(#[from] conninfo::ConnectError),
    /// The credential source failed.
    #[error("reading the database credential: {0}")]
    Secret(#[from] secrets::SecretError),
    /// The session setup statements failed.
    #[error("setting up the session: {0}")]
    Setup(#[from] tokio_postgres::Error),
}

/// Statements kept prepared per session (beyond this, the cache is cleared: dynamic list queries vary).
const STATEMENT_CACHE_LIMIT: usize = 512;

/// One database session and its prepared statements (a point read is then one round trip, as with
/// `pgbench -M prepared`).
pub struct Session {
    client: Client,
    statements: Mutex<HashMap<String, Statement>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("closed", &self.client.is_closed())
            .finish_non_exhaustive()
    }
}

impl Session {
    fn new(client: Client) -> Self {
        Self {
            client,
            statements: Mutex::new(HashMap::new()),
        }
    }

    /// The statement for `sql`, prepared on first use in this session.
    ///
    /// # Errors
    /// The server's error for an invalid statement.
    pub async fn prepare_cached(&self, sql: &str) -> Result<Statement, tokio_postgres::Error> {
        let cached = self
            .statements
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(sql)
            .cloned();
        if let Some(statement) = cached {
            return Ok(statement);
        }
        let statement = self.client.prepare(sql).await?;
        let mut statements = self
            .statements
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if statements.len() >= STATEMENT_CACHE_LIMIT {
            statements.clear();
        }
        statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

impl std::ops::Deref for Session {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

/// Opens sessions for one pool.
pub struct Manager {
    connector: conninfo::Connector,
    credentials: Arc<Credentials>,
    role: Role,
    statement_timeout: Duration,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Manager {
    /// A manager for `spec` (its user and password are overridden by `credentials` when those come from a store).
    ///
    /// # Errors
    /// TLS files that cannot be loaded, a missing user name.
    pub fn new(
        spec: &conninfo::ConnSpec,
        credentials: Arc<Credentials>,
        role: Role,
        statement_timeout: Duration,
    ) -> Result<Self, conninfo::ConnectError> {
        Ok(Self {
            connector: conninfo::Connector::new(spec)?,
            credentials,
            role,
            statement_timeout,
        })
    }

    async fn open(&self, user: Option<&str>, password: Option<&SecretString>) -> Result<Session, ConnectFailure> {
        let (client, _host) = self.connector.connect_as(user, password).await?;
        let mut setup = format!("SET statement_timeout = {}", self.statement_timeout.as_millis());
        if self.role == Role::Replica {
            setup.push_str("; SET default_transaction_read_only = on");
        }
        client.batch_execute(&setup).await?;
        Ok(Session::new(client))
    }
}

impl managed::Manager for Manager {
    type Type = Session;
    type Error = ConnectFailure;

    async fn create(&self) -> Result<Session, ConnectFailure> {
        let started = std::time::Instant::now();
        let result = match self.credentials.current().await? {
            None => self.open(None, None).await,
            Some((user, password, generation)) => match self.open(Some(&user), Some(&password)).await {
                Err(ConnectFailure::Connect(e)) if e.is_auth_failure() => {
                    // The password may have been rotated: re-read it once (single flight) and retry.
                    tracing::warn!(
                        db.role = self.role.as_str(),
                        "database rejected the password; re-reading the credential"
                    );
                    let (user, password) = self.credentials.reload_after(generation).await?;
                    self.open(Some(&user), Some(&password)).await
                }
                other => other,
            },
        };
        metrics::histogram!("db_connect_seconds", "role" => self.role.as_str()).record(started.elapsed().as_secs_f64());
        if let Err(e) = &result {
            metrics::counter!("db_connect_failures_total", "role" => self.role.as_str()).increment(1);
            tracing::warn!(db.role = self.role.as_str(), error = %e, "could not open a database session");
        }
        result
    }

    async fn recycle(&self, client: &mut Session, _: &Metrics) -> RecycleResult<ConnectFailure> {
        if client.is_closed() {
            return Err(RecycleError::Message("session closed".into()));
        }
        Ok(())
    }
}

/// The pool type.
pub type Pool = managed::Pool<Manager>;
/// A checked-out session.
pub type Conn = managed::Object<Manager>;

/// Builds a pool of at most `max_size` sessions whose checkout waits at most `wait`.
///
/// # Errors
/// Only on an invalid configuration (never with the values this crate passes).
pub fn build(manager: Manager, max_size: usize, wait: Duration) -> Result<Pool, managed::BuildError> {
    Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(wait))
        .create_timeout(Some(Duration::from_secs(10)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
}
