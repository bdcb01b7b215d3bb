//! Opening a session from a [`ConnSpec`]: walk the hosts (shuffled when load balancing),
//! connect with the TLS mode and a per-host timeout covering TCP, TLS and authentication,
//! classify the server, and pick a host exactly as Npgsql does for target session attributes
//! (see [`crate::choose_host`]).
//!
//! A single host with a target other than `any` is accepted (Npgsql refuses it): the role is
//! checked after connecting and a mismatch is an error, as in libpq. So the seed's replica string
//! `Host=<replica>;Target Session Attributes=read-only` fails loudly if the replica was promoted.

mod attempt;
mod error;
mod host_state;
mod passfile;
mod session;
mod walk;

use std::time::Duration;

use rand::seq::SliceRandom;
use secrecy::SecretString;
use tokio_postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::host::HostSpec;
use crate::modes::ServerRole;
use crate::spec::ConnSpec;
use crate::tls::tls_connector;

pub use error::{ConnectError, FailureReason, HostFailure};
pub use session::SessionWatch;

/// Where a connection landed.
#[derive(Debug, Clone)]
pub struct ConnectedHost {
    /// The host.
    pub host: HostSpec,
    /// Its position in the spec's host list.
    pub index: usize,
    /// What the server was when the session started.
    pub role: ServerRole,
    /// `server_version` as reported.
    pub server_version: Option<String>,
    /// Live view of the session (role changes, closed).
    pub session: SessionWatch,
}

/// A reusable connector for one spec: TLS configuration loaded once, startup settings
/// precomputed. Cheap to share; every [`Connector::connect`] opens a new session.
#[derive(Clone)]
pub struct Connector {
    spec: ConnSpec,
    tls: MakeRustlsConnect,
    base: tokio_postgres::Config,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

/// Connects with the spec's own credentials (spawning the connection task on the current
/// Tokio runtime). See [`Connector`] to reuse TLS setup across connections.
///
/// # Errors
/// [`ConnectError`] listing what happened on each host.
pub async fn connect(spec: &ConnSpec) -> Result<(Client, ConnectedHost), ConnectError> {
    Connector::new(spec)?.connect().await
}

/// Connects with a password supplied by the caller (e.g. freshly read from a secret store)
/// instead of the spec's.
///
/// # Errors
/// [`ConnectError`] listing what happened on each host.
pub async fn connect_with_password(
    spec: &ConnSpec,
    password: &SecretString,
) -> Result<(Client, ConnectedHost), ConnectError> {
    Connector::new(spec)?.connect_as(None, Some(password)).await
}

impl Connector {
    /// Prepares connections for `spec`: loads TLS files, resolves the default user name
    /// (spec, else `USER`/`LOGNAME`; a connection may also bring its own, see
    /// [`Connector::connect_as`]), checks the client encoding.
    ///
    /// # Errors
    /// [`ConnectError::Tls`] or [`ConnectError::Encoding`].
    pub fn new(spec: &ConnSpec) -> Result<Self, ConnectError> {
        let tls = tls_connector(spec)?;
        let base = attempt::base_config(spec)?;
        Ok(Connector {
            spec: spec.clone(),
            tls,
            base,
        })
    }

    /// The spec this connector serves.
    pub fn spec(&self) -> &ConnSpec {
        &self.spec
    }

    /// Opens a session with the spec's credentials.
    ///
    /// # Errors
    /// [`ConnectError`] listing what happened on each host.
    pub async fn connect(&self) -> Result<(Client, ConnectedHost), ConnectError> {
        self.connect_as(None, None).await
    }

    /// Opens a session, overriding the user and/or password.
    ///
    /// # Errors
    /// [`ConnectError::NoUser`] when neither `user`, the spec nor `USER`/`LOGNAME` names one;
    /// otherwise [`ConnectError`] listing what happened on each host.
    pub async fn connect_as(
        &self,
        user: Option<&str>,
        password: Option<&SecretString>,
    ) -> Result<(Client, ConnectedHost), ConnectError> {
        let spec = &self.spec;
        if user.is_none() && self.base.get_user().is_none() {
            return Err(ConnectError::NoUser);
        }
        let mut order: Vec<usize> = (0..spec.hosts.len()).collect();
        if spec.load_balance_hosts {
            order.shuffle(&mut rand::rng());
        }
        let credentials = attempt::Credentials { user, password };
        let scope = format!(
            "{}\0{}\0{}",
            user.or(self.base.get_user()).unwrap_or_default(),
            self.base.get_dbname().unwrap_or_default(),
            self.base.get_options().unwrap_or_default()
        );
        walk::walk(
            &scope,
            &spec.hosts,
            order,
            spec.target_session_attrs,
            spec.host_recheck,
            |index| self.attempt(index, &credentials),
        )
        .await
        .map_err(|failures| ConnectError::from_failures(spec.target_session_attrs, failures))
    }

    /// One host, bounded by the connect timeout.
    async fn attempt(
        &self,
        index: usize,
        credentials: &attempt::Credentials<'_>,
    ) -> Result<((Client, ConnectedHost), ServerRole), error::FailureReason> {
        // Boxed: TLS + SCRAM + startup make a large future; callers keep a pointer instead.
        let work = Box::pin(attempt::one_host(self, index, credentials));
        match self.spec.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, work)
                .await
                .unwrap_or(Err(error::FailureReason::Timeout(limit))),
            None => work.await,
        }
        .map(|(client, connected)| {
            let role = connected.role;
            ((client, connected), role)
        })
    }
}

/// Default upper bound db_router and tools use when a spec sets no connect timeout.
pub const FALLBACK_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
