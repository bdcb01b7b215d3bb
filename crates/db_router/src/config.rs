//! Router settings: the two connection specs (pool sizes, lifetimes and timeouts come from
//! them, as the seed plan's strings say) plus the routing knobs, with defaults that suit the
//! client portfolio service.

use std::sync::Arc;
use std::time::Duration;

use conninfo::ConnSpec;

use crate::credentials::CredentialProvider;
use crate::error::RouterError;
use crate::fallback::FallbackConfig;

/// Everything a [`crate::Router`] needs.
#[derive(Clone)]
pub struct RouterConfig {
    /// The primary (read-write). Pool size, connection lifetime, connect and command timeouts
    /// come from here. A multi-host string lets writes follow a failover.
    pub primary: ConnSpec,
    /// The replica (read-only), if any; without one every read goes to the primary.
    pub replica: Option<ConnSpec>,
    /// Where passwords come from; `None` uses each spec's own (password, passfile).
    pub credentials: Option<Arc<dyn CredentialProvider>>,
    /// Connections per target kept for pipelined single-statement reads (not from the pool;
    /// counted against the spec's maximum pool size).
    pub shared_connections: usize,
    /// Shared sessions on the replica side when its spec is a load-balanced read pool
    /// (`Read Pool=true`): more sessions land on more of the pool's nodes, and token reads go to
    /// whichever session's own node has replayed the token.
    pub read_pool_sessions: usize,
    /// Server-side `statement_timeout` of every session; default: the spec's command timeout.
    pub statement_timeout: Option<Duration>,
    /// How long a checkout may wait for a free pooled connection.
    pub checkout_timeout: Duration,
    /// Connection lifetimes are shortened by a random fraction up to this (0.2 = up to 20 %),
    /// so connections opened together do not all expire together and a scaled-out replica
    /// set rebalances.
    pub lifetime_jitter: f64,
    /// How long a read-your-writes read waits for a replica to replay its token.
    pub token_wait: Duration,
    /// Pause between replay probes while reads wait for a token.
    pub token_poll: Duration,
    /// Heartbeat: primary position and replica replay are sampled this often.
    pub probe_interval: Duration,
    /// A replica read piggy-backs a replay probe when the last one is older than this.
    pub piggyback_after: Duration,
    /// Admission of reads meant for a replica that go to the primary (the README's "Fallback to the
    /// primary"): an in-flight limit that follows the primary's headroom.
    pub fallback: FallbackConfig,
    /// First reconnect delay after a failure (jittered, doubling).
    pub reconnect_initial: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
    /// Credentials are re-read at most this often after authentication failures.
    pub min_credential_refresh: Duration,
    /// Extra time a client waits past the statement timeout before declaring the server gone.
    pub timeout_grace: Duration,
}

impl RouterConfig {
    /// Defaults around two specs.
    pub fn new(primary: ConnSpec, replica: Option<ConnSpec>) -> Self {
        RouterConfig {
            primary,
            replica,
            credentials: None,
            shared_connections: 2,
            read_pool_sessions: 4,
            statement_timeout: None,
            checkout_timeout: Duration::from_secs(5),
            lifetime_jitter: 0.2,
            token_wait: Duration::from_millis(250),
            token_poll: Duration::from_millis(2),
            probe_interval: Duration::from_millis(250),
            piggyback_after: Duration::from_millis(100),
            fallback: FallbackConfig::default(),
            reconnect_initial: Duration::from_millis(50),
            reconnect_max: Duration::from_secs(2),
            min_credential_refresh: Duration::from_secs(5),
            timeout_grace: Duration::from_secs(2),
        }
    }

    /// Uses `provider` for credentials.
    #[must_use]
    pub fn with_credentials(mut self, provider: Arc<dyn CredentialProvider>) -> Self {
        self.credentials = Some(provider);
        self
    }

    /// The statement timeout in effect.
    pub fn effective_statement_timeout(&self) -> Option<Duration> {
        self.statement_timeout.or(self.primary.command_timeout)
    }

    /// Shared sessions of the replica side: `read_pool_sessions` for a read pool, else
    /// `shared_connections`.
    pub fn replica_sessions(&self) -> usize {
        match &self.replica {
            Some(spec) if spec.read_pool => self.read_pool_sessions,
            _ => self.shared_connections,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), RouterError> {
        let fail = |what: String| Err(RouterError::Config(what));
        if self.shared_connections == 0 || self.read_pool_sessions == 0 {
            return fail("shared_connections and read_pool_sessions must be at least 1".into());
        }
        for (name, spec, shared) in [
            ("primary", Some(&self.primary), self.shared_connections),
            ("replica", self.replica.as_ref(), self.replica_sessions()),
        ] {
            let Some(spec) = spec else { continue };
            if spec.hosts.is_empty() {
                return fail(format!("the {name} spec has no host"));
            }
            let max = usize::try_from(spec.pool.max_size).unwrap_or(usize::MAX);
            if max <= shared {
                return fail(format!(
                    "the {name} pool maximum ({max}) must exceed its shared sessions ({shared})"
                ));
            }
        }
        if let Some((setting, problem)) = self.fallback.problem() {
            return fail(format!("fallback {setting}: {problem}"));
        }
        if !(0.0..=1.0).contains(&self.lifetime_jitter) {
            return fail(format!(
                "lifetime_jitter {} is not between 0 and 1",
                self.lifetime_jitter
            ));
        }
        if self.probe_interval.is_zero() || self.token_poll.is_zero() {
            return fail("probe_interval and token_poll must be positive".into());
        }
        Ok(())
    }
}

impl std::fmt::Debug for RouterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterConfig")
            .field("primary", &self.primary.to_string())
            .field("replica", &self.replica.as_ref().map(ToString::to_string))
            .field("credentials", &self.credentials.as_ref().map(|_| "provider"))
            .field("shared_connections", &self.shared_connections)
            .field("token_wait", &self.token_wait)
            .field("fallback", &self.fallback)
            .finish_non_exhaustive()
    }
}
