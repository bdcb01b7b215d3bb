//! The dedicated connection pool of one target, for transactions and writes.
//!
//! Built on `deadpool` (its generic managed pool) rather than `deadpool-postgres`: the pool
//! mechanics (semaphore, FIFO waiters, wait/create/recycle timeouts, resize, retain) are the
//! hard part and deadpool's are proven, but `deadpool-postgres`'s manager connects with a
//! fixed `tokio_postgres::Config`, which cannot walk a multi-host list by role, re-read a
//! rotated password, apply VerifyCa/VerifyFull, or check the role of a new connection. Our
//! manager does those through `conninfo` and recycles without a round trip: liveness and role
//! come from the connection task's `SessionWatch`, lifetime from the jittered expiry.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use deadpool::Runtime;
use deadpool::managed::{self, Metrics, PoolError, RecycleError, RecycleResult, TimeoutType, Timeouts};

use crate::conn::{OpenConn, TargetCore};
use crate::error::RouterError;

/// Opens and recycles router connections.
pub(crate) struct Manager {
    core: Arc<TargetCore>,
    read_only: bool,
}

impl managed::Manager for Manager {
    type Type = OpenConn;
    type Error = RouterError;

    async fn create(&self) -> Result<OpenConn, RouterError> {
        // Boxed: a connect (TLS, SCRAM, multi-host walk) is a large future, and every checkout
        // future would otherwise carry its size.
        Box::pin(self.core.open(self.read_only)).await
    }

    async fn recycle(&self, conn: &mut OpenConn, _: &Metrics) -> RecycleResult<RouterError> {
        if !conn.usable() {
            return Err(RecycleError::message("connection closed, broken or changed role"));
        }
        if conn.expired() {
            return Err(RecycleError::message("connection reached its lifetime"));
        }
        if conn.in_transaction.load(Ordering::Relaxed) {
            // A transaction handle was dropped without commit or rollback.
            conn.client
                .batch_execute("ROLLBACK")
                .await
                .map_err(|e| RecycleError::Backend(RouterError::db(self.core.target, e, false)))?;
            conn.in_transaction.store(false, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// The pool type.
pub(crate) type Pool = managed::Pool<Manager>;

/// A checked-out connection; returns to the pool when dropped.
pub(crate) type Pooled = managed::Object<Manager>;

pub(crate) fn build(
    core: Arc<TargetCore>,
    read_only: bool,
    max_size: usize,
    wait: Duration,
    connect: Duration,
) -> Pool {
    let timeouts = Timeouts {
        wait: Some(wait),
        // The connect timeout is per host; leave room for a multi-host walk.
        create: Some(connect * 2 + Duration::from_secs(1)),
        recycle: Some(Duration::from_secs(5)),
    };
    Pool::builder(Manager { core, read_only })
        .max_size(max_size.max(1))
        .timeouts(timeouts)
        .runtime(Runtime::Tokio1)
        .build()
        .unwrap_or_else(|err| unreachable!("a runtime and timeouts are set: {err}"))
}

/// Maps a pool error to the router's.
pub(crate) fn checkout_error(core: &TargetCore, pool: &Pool, err: PoolError<RouterError>) -> RouterError {
    match err {
        PoolError::Backend(err) => err,
        PoolError::Timeout(TimeoutType::Wait) => {
            core.metrics.checkout_timeout(core.target);
            RouterError::CheckoutTimeout {
                target: core.target,
                waited: pool.timeouts().wait.unwrap_or_default(),
                max_size: pool.status().max_size,
            }
        }
        PoolError::Timeout(TimeoutType::Create | TimeoutType::Recycle) => RouterError::Timeout {
            target: core.target,
            after: pool.timeouts().create.unwrap_or_default(),
        },
        PoolError::Closed | PoolError::NoRuntimeSpecified | PoolError::PostCreateHook(_) => {
            RouterError::Config(format!("the {} pool is closed", core.target))
        }
    }
}
