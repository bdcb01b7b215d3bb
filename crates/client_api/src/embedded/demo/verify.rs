//! Proof that a load which skipped the schema's triggers left nothing a trigger would have written differently:
//! set-based checks over the whole book, run in the loading transaction before it commits.
//!
//! - hierarchy: every root has `root_id = id`, `path = '/id/'`, `depth = 0`; every other client agrees with
//!   its parent (`root_id`, `path = parent.path || id || '/'`, `depth = parent.depth + 1`), which is what the
//!   insert trigger computes and the commit-time hierarchy check re-checks; no live client under a deleted one;
//! - current risk: each client's `risk_*` columns equal its latest assessment by `(assessed_at, id)`, or are
//!   NULL without one (the assessment trigger's copy);
//! - references: every foreign key of the loaded tables, read from the catalog (so a new one is checked
//!   without touching this file), holds as its trigger would have enforced it (MATCH SIMPLE);
//! - links and assessments only for live clients and contacts (the `PC007` triggers).

use tokio_postgres::Client;

use super::DemoError;

/// The tables the demo load writes, parents first.
pub const LOADED_TABLES: [&str; 5] = [
    "client_api.client",
    "client_api.risk_assessment",
    "client_api.contact",
    "client_api.client_contact",
    "client_api.client_address",
];

/// Hand-written checks: (name, statement returning the number of offending rows).
const CHECKS: &[(&str, &str)] = &[
    (
        "client hierarchy columns (root_id, path, depth) agree with parent_id",
        "SELECT count(*) FROM client_api.client AS c LEFT JOIN client_api.client AS p ON p.id = c.parent_id \
         WHERE CASE WHEN c.parent_id IS NULL \
                    THEN (c.root_id, c.path, c.depth) IS DISTINCT FROM (c.id, '/' || c.id::text || '/', 0::smallint) \
                    ELSE p.id IS NULL \
                         OR (c.root_id, c.path, c.depth) IS DISTINCT FROM (p.root_id, p.path || c.id::text || '/', p.depth + 1) \
                         OR (c.deleted_at IS NULL AND p.deleted_at IS NOT NULL) \
               END",
    ),
    (
        "client risk columns equal the latest risk assessment",
        "SELECT count(*) FROM client_api.client AS c \
         LEFT JOIN (SELECT DISTINCT ON (a.client_id) a.client_id, a.rating, a.assessed_at, a.next_review_due \
                      FROM client_api.risk_assessment AS a \
                     ORDER BY a.client_id, a.assessed_at DESC, a.id DESC) AS l ON l.client_id = c.id \
         WHERE (c.risk_category, c.risk_assessed_at, c.risk_next_review_due) \
               IS DISTINCT FROM (l.rating, l.assessed_at, l.next_review_due)",
    ),
    (
        "no contact link written after its client or contact was deleted",
        "SELECT (SELECT count(*) FROM client_api.client AS c JOIN client_api.client_contact AS l ON l.client_id = c.id \
                  WHERE c.deleted_at IS NOT NULL AND l.updated_at > c.deleted_at) \
              + (SELECT count(*) FROM client_api.contact AS p JOIN client_api.client_contact AS l ON l.contact_id = p.id \
                  WHERE p.deleted_at IS NOT NULL AND l.updated_at > p.deleted_at)",
    ),
    (
        "no risk assessment recorded after its client was deleted",
        "SELECT count(*) FROM client_api.client AS c JOIN client_api.risk_assessment AS a ON a.client_id = c.id \
         WHERE c.deleted_at IS NOT NULL AND a.recorded_at > c.deleted_at",
    ),
];

/// The foreign keys of the loaded tables: (name, child table, parent table, child columns, parent columns).
const FOREIGN_KEYS: &str = "SELECT c.conname::text, c.conrelid::regclass::text, c.confrelid::regclass::text, \
       ARRAY(SELECT pg_catalog.quote_ident(a.attname) FROM unnest(c.conkey) WITH ORDINALITY AS k(n, i) \
             JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i), \
       ARRAY(SELECT pg_catalog.quote_ident(a.attname) FROM unnest(c.confkey) WITH ORDINALITY AS k(n, i) \
             JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i) \
  FROM pg_catalog.pg_constraint AS c \
 WHERE c.contype = 'f' AND c.conrelid IN (SELECT pg_catalog.unnest($1::text[])::regclass) \
 ORDER BY 2, 1";

/// The statement counting the rows that break one foreign key (MATCH SIMPLE: a NULL column exempts the row).
fn foreign_key_check(child: &str, parent: &str, columns: &[String], referenced: &[String]) -> String {
    let not_null: Vec<String> = columns.iter().map(|c| format!("c.{c} IS NOT NULL")).collect();
    let equal: Vec<String> = columns
        .iter()
        .zip(referenced)
        .map(|(c, p)| format!("p.{p} = c.{c}"))
        .collect();
    format!(
        "SELECT count(*) FROM ONLY {child} AS c WHERE {} AND NOT EXISTS (SELECT 1 FROM ONLY {parent} AS p WHERE {})",
        not_null.join(" AND "),
        equal.join(" AND ")
    )
}

/// Runs every check.
///
/// # Errors
/// [`DemoError::Inconsistent`] naming the first failing check and its row count; the server's error.
pub async fn verify(client: &Client) -> Result<(), DemoError> {
    let mut checks: Vec<(String, String)> = CHECKS
        .iter()
        .map(|(name, sql)| ((*name).to_owned(), (*sql).to_owned()))
        .collect();
    let tables: Vec<&str> = LOADED_TABLES.to_vec();
    for row in client.query(FOREIGN_KEYS, &[&tables]).await? {
        let (name, child, parent): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let (columns, referenced): (Vec<String>, Vec<String>) = (row.get(3), row.get(4));
        checks.push((
            format!("foreign key {name} of {child}"),
            foreign_key_check(&child, &parent, &columns, &referenced),
        ));
    }
    for (check, sql) in checks {
        let rows: i64 = client.query_one(&sql, &[]).await?.get(0);
        if rows != 0 {
            return Err(DemoError::Inconsistent { check, rows });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::foreign_key_check;

    #[test]
    fn foreign_key_checks_follow_match_simple() {
        let sql = foreign_key_check(
            "client_api.client",
            "client_api.industry_code",
            &["industry_scheme".into(), "industry_code".into()],
            &["scheme".into(), "code".into()],
        );
        assert_eq!(
            sql,
            "SELECT count(*) FROM ONLY client_api.client AS c WHERE c.industry_scheme IS NOT NULL AND \
             c.industry_code IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ONLY client_api.industry_code AS p \
             WHERE p.scheme = c.industry_scheme AND p.code = c.industry_code)"
        );
    }
}
