//! Secondary indexes and exclusion constraints set aside during a bulk load and rebuilt after it, inside the
//! loading transaction (so a failure leaves the schema exactly as it was): the pg_restore recipe. Building a
//! btree from sorted input is several times cheaper than a million single-row insertions into 20 indexes, and
//! the three GIN indexes (full text, two trigram) are the most expensive of all to maintain row by row.
//!
//! Definitions are read from the catalog (`pg_get_indexdef`, `pg_get_constraintdef`), so the set follows the
//! migrations. Primary keys stay: UUIDv7 keys arrive in order (cheap right-edge insertions) and foreign keys
//! depend on them. Unique indexes that are not constraints (the live-LEI key, the live-registration key, one
//! address per type) are rebuilt as they were, which re-checks uniqueness over the whole table; exclusion
//! constraints are re-added, which re-checks them.

use std::time::Instant;

use tokio_postgres::Client;

/// One object set aside.
#[derive(Debug, Clone)]
pub struct SetAside {
    /// Index or constraint name.
    pub name: String,
    /// The statement that drops it.
    pub drop: String,
    /// The statement that rebuilds it.
    pub create: String,
    /// Bytes on disk before the load (largest first when rebuilding).
    pub bytes: i64,
}

/// Indexes that back no constraint, and exclusion constraints, of `tables` (qualified names), with their
/// comments.
const SET_ASIDE: &str = "SELECT i.indexrelid::regclass::text, i.indrelid::regclass::text, \
       'DROP INDEX ' || i.indexrelid::regclass::text, \
       pg_catalog.pg_get_indexdef(i.indexrelid) || COALESCE('; COMMENT ON INDEX ' || i.indexrelid::regclass::text \
           || ' IS ' || pg_catalog.quote_literal(pg_catalog.obj_description(i.indexrelid, 'pg_class')), ''), \
       pg_catalog.pg_relation_size(i.indexrelid) \
  FROM pg_catalog.pg_index AS i \
 WHERE i.indrelid IN (SELECT pg_catalog.unnest($1::text[])::regclass) \
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS c WHERE c.conindid = i.indexrelid) \
UNION ALL \
SELECT pg_catalog.quote_ident(c.conname), c.conrelid::regclass::text, \
       'ALTER TABLE ' || c.conrelid::regclass::text || ' DROP CONSTRAINT ' || pg_catalog.quote_ident(c.conname), \
       'ALTER TABLE ' || c.conrelid::regclass::text || ' ADD CONSTRAINT ' || pg_catalog.quote_ident(c.conname) \
           || ' ' || pg_catalog.pg_get_constraintdef(c.oid) \
           || COALESCE('; COMMENT ON CONSTRAINT ' || pg_catalog.quote_ident(c.conname) || ' ON ' \
               || c.conrelid::regclass::text || ' IS ' \
               || pg_catalog.quote_literal(pg_catalog.obj_description(c.oid, 'pg_constraint')), ''), \
       pg_catalog.pg_relation_size(c.conindid) \
  FROM pg_catalog.pg_constraint AS c \
 WHERE c.contype = 'x' AND c.conrelid IN (SELECT pg_catalog.unnest($1::text[])::regclass)";

/// Reads what to set aside for `tables`.
///
/// # Errors
/// The server's error.
pub async fn plan(client: &Client, tables: &[&str]) -> Result<Vec<SetAside>, tokio_postgres::Error> {
    let rows = client.query(SET_ASIDE, &[&tables]).await?;
    let mut found: Vec<SetAside> = rows
        .iter()
        .map(|r| SetAside {
            name: r.get(0),
            drop: r.get(2),
            create: r.get(3),
            bytes: r.get(4),
        })
        .collect();
    // Largest first: the long builds start while the machine is otherwise idle.
    found.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    Ok(found)
}

/// Drops them (in the caller's transaction).
///
/// # Errors
/// The server's error.
pub async fn drop_all(client: &Client, set_aside: &[SetAside]) -> Result<(), tokio_postgres::Error> {
    for object in set_aside {
        client.batch_execute(&object.drop).await?;
    }
    Ok(())
}

/// Rebuilds them; returns each one's build time in seconds.
///
/// # Errors
/// The server's error, e.g. a duplicate key found by a unique index or an exclusion constraint.
pub async fn rebuild_all(client: &Client, set_aside: &[SetAside]) -> Result<Vec<(String, f64)>, tokio_postgres::Error> {
    let mut times = Vec::with_capacity(set_aside.len());
    for object in set_aside {
        let started = Instant::now();
        client.batch_execute(&object.create).await?;
        times.push((object.name.clone(), started.elapsed().as_secs_f64()));
    }
    Ok(times)
}
