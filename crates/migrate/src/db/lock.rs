//! The migration lock: Flyway's PostgreSQL advisory lock, so pccdb and Flyway exclude each other.
//!
//! Key: 0x466C79776179 ("Flyway") + Java `String.hashCode()` of `"schema"."table"` (crates/migrate/FLYWAY.md,
//! "The lock").
//! pccdb takes the session-level form (`pg_try_advisory_lock`, what Flyway uses with
//! `postgresql.transactional.lock=false`): it conflicts with Flyway's transactional form too, and,
//! unlike a lock held in an open transaction, it never makes CREATE INDEX CONCURRENTLY wait
//! (Flyway's known hang). Waiting polls `pg_try_advisory_lock` in short autocommit statements,
//! so a waiting process never holds a snapshot either. The wait is bounded by `lockRetryCount`
//! seconds without progress: while the holder keeps adding history rows, waiting continues.

use std::time::{Duration, Instant};

use tokio_postgres::Client;
use tokio_postgres::types::Type;

use super::history::HistoryTable;
use crate::error::Error;

const FLYWAY: i64 = 0x466C_7977_6179;

/// Java's `String.hashCode()`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16 units, wrapping i32.
pub fn java_hash_code(text: &str) -> i32 {
    text.encode_utf16()
        .fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(i32::from(unit)))
}

/// Flyway's advisory lock key for a history table.
pub fn lock_key(history: &HistoryTable) -> i64 {
    FLYWAY + i64::from(java_hash_code(&history.qualified()))
}

/// A held migration lock; release it with [`MigrationLock::release`].
#[derive(Debug)]
pub struct MigrationLock {
    key: i64,
}

async fn try_lock(client: &Client, key: i64) -> Result<bool, Error> {
    let row = client
        .query_typed_one("SELECT pg_try_advisory_lock($1)", &[(&key, Type::INT8)])
        .await
        .map_err(|e| Error::db("taking the migration lock", e))?;
    Ok(row.get(0))
}

async fn progress(client: &Client, history: &HistoryTable) -> Option<i32> {
    let sql = format!("SELECT max(\"installed_rank\") FROM {}", history.qualified());
    client.query_typed_one(&sql, &[]).await.ok().and_then(|row| row.get(0))
}

async fn holder(client: &Client, key: i64) -> String {
    let sql = "SELECT a.pid, coalesce(a.usename::text, ''), coalesce(a.application_name, ''), \
               coalesce(to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS'), '') \
               FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid \
               WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
               AND l.classid = ($1 >> 32)::oid AND l.objid = ($1 & 4294967295)::oid LIMIT 1";
    match client.query_typed(sql, &[(&key, Type::INT8)]).await {
        Ok(rows) if !rows.is_empty() => {
            let (pid, user, app, since): (i32, String, String, String) =
                (rows[0].get(0), rows[0].get(1), rows[0].get(2), rows[0].get(3));
            // backend_start is hidden from roles without the holder's privileges (the migrator runs
            // as the owner role after initSql): then it is left out rather than printed empty.
            let since = if since.is_empty() {
                String::new()
            } else {
                format!(", connected since {since}")
            };
            format!(", held by server process {pid} (user {user:?}, application {app:?}{since})")
        }
        _ => String::new(),
    }
}

impl MigrationLock {
    /// Takes the lock, waiting while another run holds it (see the module docs).
    /// `on_wait` is called once, when waiting starts, with a description of the holder.
    ///
    /// # Errors
    /// [`Error::LockTimeout`] after `retry_count` seconds without progress (`-1`: never);
    /// [`Error::Db`] when the server cannot be asked.
    pub async fn acquire(
        client: &Client,
        history: &HistoryTable,
        retry_count: i32,
        on_wait: &(dyn Fn(&str) + Sync),
    ) -> Result<Self, Error> {
        let key = lock_key(history);
        let limit = u64::try_from(retry_count).ok().map(Duration::from_secs);
        let started = Instant::now();
        let mut since_progress = Instant::now();
        let mut last_seen = None;
        let mut last_check = Instant::now();
        let mut pause = Duration::from_millis(20);
        let mut told = false;
        // Look for progress several times per allowed wait, so one slow look never ends the wait.
        let check_every = limit.map_or(Duration::from_secs(1), |l| {
            (l / 4).clamp(Duration::from_millis(100), Duration::from_secs(1))
        });
        loop {
            if try_lock(client, key).await? {
                return Ok(Self { key });
            }
            if !told {
                told = true;
                on_wait(&holder(client, key).await);
                last_seen = progress(client, history).await;
            }
            if last_check.elapsed() >= check_every {
                last_check = Instant::now();
                let seen = progress(client, history).await;
                if seen != last_seen {
                    last_seen = seen;
                    since_progress = Instant::now();
                }
            }
            if limit.is_some_and(|limit| since_progress.elapsed() >= limit) {
                return Err(Error::LockTimeout {
                    table: history.qualified(),
                    key,
                    waited_secs: started.elapsed().as_secs(),
                    holder: holder(client, key).await,
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// The advisory lock key.
    pub fn key(&self) -> i64 {
        self.key
    }

    /// Releases the lock (ending the session releases it too).
    ///
    /// # Errors
    /// [`Error::Db`] when the server cannot be reached.
    pub async fn release(self, client: &Client) -> Result<(), Error> {
        client
            .query_typed("SELECT pg_advisory_unlock($1)", &[(&self.key, Type::INT8)])
            .await
            .map_err(|e| Error::db("releasing the migration lock", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_of_the_default_table_is_flyways() {
        let t = HistoryTable {
            schema: "public".into(),
            table: "flyway_schema_history".into(),
        };
        assert_eq!(lock_key(&t), 77_433_833_903_597);
    }

    #[test]
    fn java_hash_codes_match_known_values() {
        assert_eq!(java_hash_code(""), 0);
        assert_eq!(java_hash_code("a"), 97);
        assert_eq!(java_hash_code("hello"), 99_162_322);
        // Wraps like Java's int arithmetic, and counts UTF-16 units (two for 😀).
        assert_eq!(java_hash_code("polygenelubricants"), i32::MIN);
        assert_eq!(java_hash_code("😀"), 0xD83D * 31 + 0xDE00);
    }

    #[test]
    fn different_tables_get_different_keys() {
        let a = HistoryTable {
            schema: "a".into(),
            table: "flyway_schema_history".into(),
        };
        let b = HistoryTable {
            schema: "b".into(),
            table: "flyway_schema_history".into(),
        };
        assert_ne!(lock_key(&a), lock_key(&b));
    }
}
