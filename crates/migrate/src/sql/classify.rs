//! What a statement needs from its surroundings: statements PostgreSQL refuses to run inside a
//! transaction block, explicit transaction control, and COPY directions the engine cannot serve.
//!
//! Flyway's PostgreSQL list (`PostgreSQLParser.detectCanExecuteInTransaction`): CREATE/DROP
//! DATABASE|TABLESPACE|SUBSCRIPTION, ALTER SYSTEM, CREATE/DROP [UNIQUE] INDEX CONCURRENTLY,
//! REINDEX [VERBOSE] SCHEMA|DATABASE|SYSTEM, VACUUM, DISCARD ALL, ALTER TYPE ... ADD VALUE before 12.
//! Added here because the server refuses them in a transaction block too (PostgreSQL 15 docs):
//! REINDEX ... CONCURRENTLY, ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY,
//! ALTER DATABASE ... SET TABLESPACE, CLUSTER without a table, ALTER SUBSCRIPTION ... PUBLICATION
//! changes that refresh, COMMIT/ROLLBACK PREPARED.

use super::split::Statement;

fn starts_with(words: &[&str], prefix: &[&str]) -> bool {
    words.len() >= prefix.len() && words.iter().zip(prefix).all(|(w, p)| w == p)
}

/// Why `stmt` cannot run inside a transaction block, or `None` when it can.
/// `server_version_num` is `server_version_num` (150004 for 15.4).
pub fn non_transactional_reason(stmt: &Statement, server_version_num: u32) -> Option<&'static str> {
    let top: Vec<&str> = stmt.top_words().collect();
    let shallow: Vec<&str> = stmt
        .words
        .iter()
        .filter(|w| w.depth <= 1)
        .map(|w| w.text.as_str())
        .collect();
    let w = top.as_slice();
    for object in ["DATABASE", "TABLESPACE", "SUBSCRIPTION"] {
        if starts_with(w, &["CREATE", object]) || starts_with(w, &["DROP", object]) {
            return Some("CREATE/DROP DATABASE, TABLESPACE and SUBSCRIPTION cannot run inside a transaction block");
        }
    }
    if starts_with(w, &["ALTER", "SYSTEM"]) {
        return Some("ALTER SYSTEM cannot run inside a transaction block");
    }
    if starts_with(w, &["CREATE", "INDEX", "CONCURRENTLY"])
        || starts_with(w, &["CREATE", "UNIQUE", "INDEX", "CONCURRENTLY"])
        || starts_with(w, &["DROP", "INDEX", "CONCURRENTLY"])
    {
        return Some("CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction block");
    }
    if w.first() == Some(&"REINDEX") {
        let target = w.iter().skip(1).find(|x| **x != "VERBOSE");
        if shallow.contains(&"CONCURRENTLY") || matches!(target, Some(&"SCHEMA" | &"DATABASE" | &"SYSTEM")) {
            return Some(
                "REINDEX CONCURRENTLY and REINDEX SCHEMA/DATABASE/SYSTEM cannot run inside a transaction block",
            );
        }
    }
    if w.first() == Some(&"VACUUM") {
        return Some("VACUUM cannot run inside a transaction block");
    }
    if starts_with(w, &["DISCARD", "ALL"]) {
        return Some("DISCARD ALL cannot run inside a transaction block");
    }
    if server_version_num < 120_000 && starts_with(w, &["ALTER", "TYPE"]) && w.windows(2).any(|p| p == ["ADD", "VALUE"])
    {
        return Some("ALTER TYPE ... ADD VALUE cannot run inside a transaction block before PostgreSQL 12");
    }
    if starts_with(w, &["ALTER", "TABLE"])
        && w.windows(2).any(|p| p == ["DETACH", "PARTITION"])
        && w.contains(&"CONCURRENTLY")
    {
        return Some("ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY cannot run inside a transaction block");
    }
    if starts_with(w, &["ALTER", "DATABASE"]) && w.windows(2).any(|p| p == ["SET", "TABLESPACE"]) {
        return Some("ALTER DATABASE ... SET TABLESPACE cannot run inside a transaction block");
    }
    if w == ["CLUSTER"] || w == ["CLUSTER", "VERBOSE"] {
        return Some("CLUSTER without a table cannot run inside a transaction block");
    }
    if starts_with(w, &["ALTER", "SUBSCRIPTION"]) && (w.contains(&"REFRESH") || w.contains(&"PUBLICATION")) {
        return Some("ALTER SUBSCRIPTION ... (REFRESH|SET|ADD|DROP) PUBLICATION cannot run inside a transaction block");
    }
    if starts_with(w, &["COMMIT", "PREPARED"]) || starts_with(w, &["ROLLBACK", "PREPARED"]) {
        return Some("COMMIT/ROLLBACK PREPARED cannot run inside a transaction block");
    }
    None
}

/// Whether `stmt` begins, ends or prepares a transaction (which would break a migration's
/// atomicity when the engine wraps it in a transaction). Savepoints are fine.
pub fn is_transaction_control(stmt: &Statement) -> bool {
    let top: Vec<&str> = stmt.top_words().collect();
    match top.as_slice() {
        ["BEGIN", ..] | ["START", "TRANSACTION", ..] | ["END", ..] | ["ABORT", ..] => true,
        ["PREPARE", "TRANSACTION", ..] => true,
        ["COMMIT", rest @ ..] => rest.first() != Some(&"PREPARED"),
        ["ROLLBACK", rest @ ..] => {
            let rest: Vec<&&str> = rest.iter().filter(|w| !matches!(**w, "WORK" | "TRANSACTION")).collect();
            !matches!(rest.first(), Some(&&"PREPARED" | &&"TO"))
        }
        _ => false,
    }
}

/// Whether `stmt` is `COPY ... TO STDOUT`, whose output a migration has nowhere to send.
pub fn is_copy_to_stdout(stmt: &Statement) -> bool {
    let top: Vec<&str> = stmt.top_words().collect();
    top.first() == Some(&"COPY") && top.windows(2).any(|p| p == ["TO", "STDOUT"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::split::split;

    fn one(sql: &str) -> Statement {
        let mut all = split(sql).unwrap();
        assert_eq!(all.len(), 1, "{sql}");
        all.remove(0)
    }

    fn non_tx(sql: &str) -> bool {
        non_transactional_reason(&one(sql), 150_000).is_some()
    }

    #[test]
    fn flyways_list_is_non_transactional() {
        for sql in [
            "CREATE DATABASE x",
            "drop database if exists x",
            "CREATE TABLESPACE t LOCATION '/x'",
            "DROP SUBSCRIPTION s",
            "ALTER SYSTEM SET work_mem = '8MB'",
            "CREATE INDEX CONCURRENTLY i ON t (a)",
            "create unique index concurrently if not exists i on t (a)",
            "DROP INDEX CONCURRENTLY IF EXISTS i",
            "REINDEX SCHEMA public",
            "REINDEX VERBOSE DATABASE d",
            "REINDEX SYSTEM d",
            "VACUUM t",
            "vacuum (analyze) t",
            "DISCARD ALL",
        ] {
            assert!(non_tx(sql), "{sql}");
        }
    }

    #[test]
    fn the_statements_flyway_misses_are_non_transactional_too() {
        for sql in [
            "REINDEX TABLE CONCURRENTLY t",
            "REINDEX INDEX CONCURRENTLY i",
            "REINDEX (VERBOSE, CONCURRENTLY) TABLE t",
            "ALTER TABLE measurements DETACH PARTITION measurements_2020 CONCURRENTLY",
            "ALTER DATABASE d SET TABLESPACE fast",
            "CLUSTER",
            "COMMIT PREPARED 'x'",
        ] {
            assert!(non_tx(sql), "{sql}");
        }
    }

    #[test]
    fn ordinary_statements_are_transactional() {
        for sql in [
            "CREATE INDEX i ON t (a)",
            "REINDEX TABLE t",
            "ALTER TABLE m DETACH PARTITION p",
            "ALTER TYPE \"myschema\".\"colors\" ADD ATTRIBUTE f3 int",
            "ALTER DATABASE d SET work_mem = '8MB'",
            "CLUSTER t USING i",
            "CREATE TABLE concurrently (a int)",
            "SELECT 'CREATE INDEX CONCURRENTLY'",
            "COPY CSV_FILES FROM '/path/to/filename.csv' DELIMITER ';' CSV HEADER",
        ] {
            assert!(!non_tx(sql), "{sql}");
        }
    }

    #[test]
    fn alter_type_add_value_depends_on_the_server_version() {
        let stmt = one("ALTER TYPE \"myschema\".\"colors\" ADD VALUE 'orange' AFTER 'red'");
        assert!(non_transactional_reason(&stmt, 110_000).is_some());
        assert!(non_transactional_reason(&stmt, 120_000).is_none());
    }

    #[test]
    fn transaction_control_is_detected_but_savepoints_are_not() {
        for sql in [
            "BEGIN",
            "begin transaction isolation level serializable",
            "START TRANSACTION",
            "COMMIT",
            "END",
            "ROLLBACK",
            "ROLLBACK AND CHAIN",
            "ABORT",
            "PREPARE TRANSACTION 'x'",
        ] {
            assert!(is_transaction_control(&one(sql)), "{sql}");
        }
        for sql in [
            "SAVEPOINT a",
            "ROLLBACK TO SAVEPOINT a",
            "ROLLBACK WORK TO a",
            "RELEASE SAVEPOINT a",
            "COMMIT PREPARED 'x'",
            "ROLLBACK PREPARED 'x'",
            "SELECT 1",
        ] {
            assert!(!is_transaction_control(&one(sql)), "{sql}");
        }
    }

    #[test]
    fn copy_to_stdout_is_detected() {
        assert!(is_copy_to_stdout(&one("COPY (SELECT 1) TO STDOUT")));
        assert!(is_copy_to_stdout(&one("copy t to stdout with csv")));
        assert!(!is_copy_to_stdout(&one("COPY t TO '/tmp/x'")));
    }
}
