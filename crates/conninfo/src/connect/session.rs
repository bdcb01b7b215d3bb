//! The task that drives a connection, and [`SessionWatch`], the cheap view of that session's
//! live state it keeps up to date.
//!
//! PostgreSQL 14+ reports `in_hot_standby` and `default_transaction_read_only` whenever they
//! change (ParameterStatus), e.g. when a standby is promoted. The driver copies them into atomics
//! after every poll, so a pool can notice a role change on an open connection without a query.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::task::AbortHandle;
use tokio_postgres::{AsyncMessage, Connection, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::modes::ServerRole;

type TlsStream = <MakeRustlsConnect as tokio_postgres::tls::MakeTlsConnect<Socket>>::Stream;

/// A driven connection of this crate.
pub(crate) type PgConnection = Connection<Socket, TlsStream>;

const UNKNOWN: u8 = 0;
const OFF: u8 = 1;
const ON: u8 = 2;

#[derive(Debug, Default)]
struct Shared {
    in_hot_standby: AtomicU8,
    read_only: AtomicU8,
    closed: AtomicBool,
    task: Mutex<Option<AbortHandle>>,
}

/// Live facts about one session, updated by its connection task.
#[derive(Debug, Clone, Default)]
pub struct SessionWatch {
    shared: Arc<Shared>,
}

fn flag(value: Option<&str>) -> u8 {
    match value {
        Some("on") => ON,
        Some("off") => OFF,
        _ => UNKNOWN,
    }
}

impl SessionWatch {
    /// The session's current role, if the server reports the facts (PostgreSQL 14+) or they
    /// were queried at connect time.
    pub fn role(&self) -> Option<ServerRole> {
        let hot = self.shared.in_hot_standby.load(Ordering::Relaxed);
        let read_only = self.shared.read_only.load(Ordering::Relaxed);
        if hot == UNKNOWN || read_only == UNKNOWN {
            return None;
        }
        Some(ServerRole::classify(hot == ON, read_only == ON))
    }

    /// Whether the connection has ended (server closed it, network error, client dropped).
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Relaxed)
    }

    /// Closes the connection now, whatever is in flight: the socket is dropped and every
    /// pending request fails with "connection closed". For a session that stopped answering
    /// (a blackholed server), where waiting for TCP to notice could take minutes.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::Relaxed);
        let task = self
            .shared
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            task.abort();
        }
    }

    pub(crate) fn set_task(&self, task: AbortHandle) {
        *self
            .shared
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(task);
    }

    pub(crate) fn set(&self, in_hot_standby: bool, read_only: bool) {
        self.shared
            .in_hot_standby
            .store(if in_hot_standby { ON } else { OFF }, Ordering::Relaxed);
        self.shared
            .read_only
            .store(if read_only { ON } else { OFF }, Ordering::Relaxed);
    }

    /// Reads the reported parameters from a connection not yet spawned.
    pub(crate) fn observe(&self, connection: &PgConnection) {
        self.shared
            .in_hot_standby
            .store(flag(connection.parameter("in_hot_standby")), Ordering::Relaxed);
        self.shared.read_only.store(
            flag(connection.parameter("default_transaction_read_only")),
            Ordering::Relaxed,
        );
    }
}

/// Drives a connection: forwards notices to `tracing`, tracks role parameters, marks the
/// watch closed when the connection ends.
pub(crate) struct Driver {
    pub connection: PgConnection,
    pub watch: SessionWatch,
    pub label: String,
}

impl Future for Driver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            match self.connection.poll_message(cx) {
                Poll::Ready(Some(Ok(AsyncMessage::Notice(notice)))) => {
                    tracing::debug!(server = %self.label, severity = notice.severity(), code = notice.code().code(), "server notice: {}", notice.message());
                }
                Poll::Ready(Some(Ok(_))) => {}
                Poll::Ready(Some(Err(err))) => {
                    tracing::debug!(server = %self.label, error = %err, "connection ended with an error");
                    self.watch.shared.closed.store(true, Ordering::Relaxed);
                    return Poll::Ready(());
                }
                Poll::Ready(None) => {
                    self.watch.shared.closed.store(true, Ordering::Relaxed);
                    return Poll::Ready(());
                }
                Poll::Pending => {
                    // Cheap: two map lookups per wake-up; catches promotion/demotion reports.
                    let this = &*self;
                    let hot = flag(this.connection.parameter("in_hot_standby"));
                    if hot != UNKNOWN {
                        this.watch.shared.in_hot_standby.store(hot, Ordering::Relaxed);
                    }
                    let ro = flag(this.connection.parameter("default_transaction_read_only"));
                    if ro != UNKNOWN {
                        this.watch.shared.read_only.store(ro, Ordering::Relaxed);
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.watch.shared.closed.store(true, Ordering::Relaxed);
    }
}
