//! Sending statements one per query, pipelined: every query of a batch is written before the
//! first answer is awaited, so a migration with its history row costs one round trip instead of
//! one per statement. Only statements inside one transaction are pipelined (after a failure the
//! server rejects the rest of the transaction, and the pipelined COMMIT becomes a ROLLBACK), so
//! pipelining never changes what commits. COPY ... FROM STDIN splits a batch: its data goes
//! through the COPY protocol once the statements before it have answered.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use bytes::Bytes;
use futures_util::SinkExt;
use tokio_postgres::Client;
use tokio_postgres::types::{ToSql, Type};

use crate::sql::split::Statement;

/// One operation of a batch.
pub(crate) enum Op<'s> {
    /// A statement sent as a simple query (one statement, never several).
    Sql(&'s str),
    /// A parsed statement of a script (may be COPY ... FROM STDIN).
    Stmt(&'s Statement),
    /// A parameterized statement (history rows).
    Params(&'s str, Vec<(&'s (dyn ToSql + Sync), Type)>),
    /// A prepared statement (the history insert of a run: parsed and planned once).
    Prepared(&'s tokio_postgres::Statement, Vec<&'s (dyn ToSql + Sync)>),
}

/// The first failure of a batch.
pub(crate) struct BatchFailure {
    /// Index of the failing operation.
    pub index: usize,
    /// The driver error.
    pub error: tokio_postgres::Error,
    /// How many operations were sent (a pipelined COMMIT after the failure was sent too).
    pub sent: usize,
}

type BoxFuture<'f> = Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + Send + 'f>>;

/// At most this many queries are in flight at once (bounds memory for huge scripts).
const WINDOW: usize = 512;

/// Polls every future in index order until all are done. The first poll of each future is what
/// sends its query, so queries go out in order.
async fn join_in_order(mut futures: Vec<BoxFuture<'_>>) -> Vec<Result<(), tokio_postgres::Error>> {
    let mut results: Vec<Option<Result<(), tokio_postgres::Error>>> = futures.iter().map(|_| None).collect();
    let mut all_sent = false;
    let mut next = 0;
    std::future::poll_fn(|cx| {
        // The first pass polls every future (sending every query); afterwards answers arrive in
        // order, so polling resumes at the first unfinished one and stops at the first pending.
        let mut pending = false;
        for (i, f) in futures.iter_mut().enumerate().skip(next) {
            if results[i].is_some() {
                continue;
            }
            match f.as_mut().poll(cx) {
                Poll::Ready(r) => results[i] = Some(r),
                Poll::Pending => {
                    pending = true;
                    if all_sent {
                        break;
                    }
                }
            }
        }
        all_sent = true;
        while next < results.len() && results[next].is_some() {
            next += 1;
        }
        // Every unfinished future was polled in this pass and registered the waker.
        debug_assert!(pending || next == results.len());
        if pending { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    results
        .into_iter()
        .map(|r| r.expect("every future completed"))
        .collect()
}

async fn copy_in(client: &Client, stmt: &Statement) -> Result<(), tokio_postgres::Error> {
    let sink = client.copy_in::<_, Bytes>(stmt.text.as_str()).await?;
    futures_util::pin_mut!(sink);
    let data = stmt.copy_data.clone().unwrap_or_default();
    if !data.is_empty() {
        sink.send(Bytes::from(data)).await?;
    }
    sink.as_mut().finish().await?;
    Ok(())
}

/// Runs `ops` in order, pipelining all but COPY; stops at the first failure.
pub(crate) async fn run(client: &Client, ops: &[Op<'_>]) -> Result<(), BatchFailure> {
    let mut start = 0;
    while start < ops.len() {
        if let Op::Stmt(stmt) = &ops[start]
            && stmt.copy_data.is_some()
        {
            copy_in(client, stmt).await.map_err(|error| BatchFailure {
                index: start,
                error,
                sent: start + 1,
            })?;
            start += 1;
            continue;
        }
        let end = ops[start..]
            .iter()
            .position(|op| matches!(op, Op::Stmt(s) if s.copy_data.is_some()))
            .map_or(ops.len(), |n| start + n)
            .min(start + WINDOW);
        let futures: Vec<BoxFuture<'_>> = ops[start..end]
            .iter()
            .map(|op| -> BoxFuture<'_> {
                match op {
                    Op::Sql(text) => Box::pin(client.batch_execute(text)),
                    Op::Stmt(stmt) => Box::pin(client.batch_execute(&stmt.text)),
                    Op::Params(sql, params) => {
                        Box::pin(async move { client.execute_typed(sql, params).await.map(|_| ()) })
                    }
                    Op::Prepared(statement, params) => {
                        Box::pin(async move { client.execute(*statement, params).await.map(|_| ()) })
                    }
                }
            })
            .collect();
        let results = join_in_order(futures).await;
        if let Some((offset, error)) = results
            .into_iter()
            .enumerate()
            .find_map(|(i, r)| r.err().map(|e| (i, e)))
        {
            return Err(BatchFailure {
                index: start + offset,
                error,
                sent: end,
            });
        }
        start = end;
    }
    Ok(())
}
