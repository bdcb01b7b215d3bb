//! Catalog facts and changes outside the history table: which schemas exist, which hold
//! objects (Flyway's `Schema.empty()`), and `clean` (drop every object of a schema).

use std::collections::HashSet;

use tokio_postgres::Client;
use tokio_postgres::types::Type;

use super::history::quote_ident;
use crate::error::Error;

/// Which of `names` exist.
///
/// # Errors
/// [`Error::Db`] when the catalog cannot be read.
pub async fn existing_schemas(client: &Client, names: &[String]) -> Result<HashSet<String>, Error> {
    let rows = client
        .query_typed(
            "SELECT nspname::text FROM pg_catalog.pg_namespace WHERE nspname = ANY($1)",
            &[(&names, Type::TEXT_ARRAY)],
        )
        .await
        .map_err(|e| Error::db("checking which schemas exist", e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Which of `names` hold objects not owned by an extension (tables, views, sequences, foreign
/// tables, composite types, functions, procedures, domains, enums, ranges).
///
/// # Errors
/// [`Error::Db`] when the catalog cannot be read.
pub async fn non_empty_schemas(client: &Client, names: &[String]) -> Result<Vec<String>, Error> {
    let sql = "SELECT n.nspname::text FROM pg_catalog.pg_namespace n WHERE n.nspname = ANY($1) AND (\
        EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r','p','v','m','S','f','c') \
                AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')) \
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc p WHERE p.pronamespace = n.oid \
                AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')) \
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_type t WHERE t.typnamespace = n.oid AND t.typtype IN ('d','e','r') \
                AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e'))) \
        ORDER BY 1";
    let rows = client
        .query_typed(sql, &[(&names, Type::TEXT_ARRAY)])
        .await
        .map_err(|e| Error::db("checking whether the schemas are empty", e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// `CREATE SCHEMA "<name>"`.
pub fn create_schema_sql(name: &str) -> String {
    format!("CREATE SCHEMA {}", quote_ident(name))
}

/// The DROP statements that empty `schema`, in an order where CASCADE and IF EXISTS make
/// dependencies harmless: extensions, views, tables, sequences, routines, types, collations.
///
/// # Errors
/// [`Error::Db`] when the catalog cannot be read.
pub async fn clean_statements(client: &Client, schema: &str) -> Result<Vec<String>, Error> {
    let not_ext = |catalog: &str, oid: &str| {
        format!(
            "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = '{catalog}'::regclass AND d.objid = {oid} AND d.deptype = 'e')"
        )
    };
    let sql = format!(
        "SELECT 0, 'DROP EXTENSION IF EXISTS ' || quote_ident(e.extname) || ' CASCADE' FROM pg_catalog.pg_extension e \
           JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE n.nspname = $1 \
         UNION ALL SELECT CASE c.relkind WHEN 'm' THEN 1 WHEN 'v' THEN 2 WHEN 'f' THEN 3 WHEN 'S' THEN 5 WHEN 'c' THEN 7 ELSE 4 END, \
           'DROP ' || CASE c.relkind WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'v' THEN 'VIEW' WHEN 'f' THEN 'FOREIGN TABLE' \
           WHEN 'S' THEN 'SEQUENCE' WHEN 'c' THEN 'TYPE' ELSE 'TABLE' END || ' IF EXISTS ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || ' CASCADE' \
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
           WHERE n.nspname = $1 AND c.relkind IN ('r','p','v','m','S','f','c') AND NOT c.relispartition AND {} \
         UNION ALL SELECT 6, 'DROP ' || CASE p.prokind WHEN 'a' THEN 'AGGREGATE' WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END \
           || ' IF EXISTS ' || quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ') CASCADE' \
           FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND {} \
         UNION ALL SELECT 7, 'DROP ' || CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END || ' IF EXISTS ' || quote_ident(n.nspname) || '.' \
           || quote_ident(t.typname) || ' CASCADE' FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
           WHERE n.nspname = $1 AND t.typtype IN ('d','e','r') AND {} \
         UNION ALL SELECT 8, 'DROP COLLATION IF EXISTS ' || quote_ident(n.nspname) || '.' || quote_ident(c.collname) || ' CASCADE' \
           FROM pg_catalog.pg_collation c JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace WHERE n.nspname = $1 AND {} \
         ORDER BY 1, 2",
        not_ext("pg_catalog.pg_class", "c.oid"),
        not_ext("pg_catalog.pg_proc", "p.oid"),
        not_ext("pg_catalog.pg_type", "t.oid"),
        not_ext("pg_catalog.pg_collation", "c.oid"),
    );
    let rows = client
        .query_typed(&sql, &[(&schema, Type::TEXT)])
        .await
        .map_err(|e| Error::db(&format!("listing the objects of schema \"{schema}\""), e))?;
    Ok(rows.iter().map(|r| r.get(1)).collect())
}
