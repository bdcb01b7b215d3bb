//! A corpus of tricky migration files, applied by real Flyway to one database and by pccdb to
//! another: the same history rows (checksums, descriptions, types, order), the same schema, the
//! same data and callback runs; then each tool validates the other's database, both show the
//! same `info`, and a changed repeatable is re-applied the same way by both.
//!
//! The files are written from byte strings here (not checked in), so byte-order marks and line
//! endings reach the tools exactly as intended whatever git does to text files.

use interop_tests::{db, flyway};

use crate::common::{Migrations, assert_flyway_valid, assert_same, assert_same_info, config, history, pccdb};

/// Every row `probe` collects, in order: what the migrations and callbacks saw.
const PROBE: &str = "SELECT seq, left(t, 60), length(t) FROM probe ORDER BY seq";

fn corpus(m: &Migrations) {
    let long = "x".repeat(9000);
    let wide = "é".repeat(5000);
    let files: Vec<(&str, String)> = vec![
        ("V1__probe.sql", "CREATE TABLE probe (seq serial PRIMARY KEY, t text NOT NULL);\n".into()),
        ("V1.1__bom.sql", "\u{feff}INSERT INTO probe (t) VALUES ('bom');\n".into()),
        (
            "V1.2__crlf.sql",
            "CREATE TABLE crlf_t (\r\n  id int\r\n);\r\nINSERT INTO probe (t) VALUES ('crlf');\r\n".into(),
        ),
        (
            "V1.3__cr_only.sql",
            "CREATE TABLE cr_t (id int);\rINSERT INTO probe (t) VALUES ('cr');\r".into(),
        ),
        (
            "V1.4__mixed_endings.sql",
            "CREATE TABLE mixed_t (a int,\r\n b int,\n c int\r);\n\r\nINSERT INTO probe (t) VALUES ('mixed\r\nline');\n"
                .into(),
        ),
        (
            "V1.5__trailing_whitespace.sql",
            "INSERT INTO probe (t) VALUES ('ws');   \t\n\t\n  \n".into(),
        ),
        (
            "V1.6__non_ascii_café_東京.sql",
            "CREATE TABLE ünïcode (näme text DEFAULT 'Zürich – 東京 – 😀');\n\
             COMMENT ON TABLE ünïcode IS 'ñ – 🐘';\nINSERT INTO probe (t) VALUES ('ünïcode 😀');\n"
                .into(),
        ),
        ("V1.7__empty.sql", String::new()),
        ("V1.8__comments_only.sql", "-- nothing here\n/* a block\n   comment; with a semicolon */\n".into()),
        (
            "V1.9__dollar_quoted.sql",
            "CREATE FUNCTION dq() RETURNS text LANGUAGE plpgsql AS $body$\nBEGIN\n  -- ; inside\n  RETURN $x$;'$x$ || $$a;b$$;\nEND;\n$body$;\n\
             DO $tag$ BEGIN INSERT INTO probe (t) VALUES (dq()); END $tag$;\n"
                .into(),
        ),
        (
            "V1.10__placeholders.sql",
            "INSERT INTO probe (t) VALUES ('${note}'), ('${Note}'), ('${flyway:defaultSchema}'), ('${flyway:user}'), \
             ('${flyway:table}'), ('${flyway:filename}'), ('${flyway:environment}'), \
             ('database matches: ' || ('${flyway:database}' = current_database())::text);\n"
                .into(),
        ),
        (
            "V1.11__long_lines.sql",
            format!(
                "INSERT INTO probe (t) VALUES ('{long}'), ('{wide}');\nCOMMENT ON TABLE crlf_t IS '{long}';\n-- {long}\n"
            ),
        ),
        ("V002_1__leading_zeros.sql", "INSERT INTO probe (t) VALUES ('v002_1');\n".into()),
        ("V2_1_1__underscores.sql", "INSERT INTO probe (t) VALUES ('v2_1_1');\n".into()),
        ("V02.10__ten_after_two.sql", "INSERT INTO probe (t) VALUES ('v02.10');\n".into()),
        (
            "V3__concurrent_index.sql",
            "CREATE INDEX CONCURRENTLY probe_t ON probe (t);\nINSERT INTO probe (t) VALUES ('cic');\n".into(),
        ),
        ("V3__concurrent_index.sql.conf", "executeInTransaction=false\n".into()),
        (
            "R__views.sql",
            "CREATE OR REPLACE VIEW probe_view AS SELECT seq, t FROM probe;\r\n".into(),
        ),
        (
            "R__note.sql",
            "CREATE OR REPLACE VIEW note_view AS SELECT '${note}'::text AS note;\n".into(),
        ),
        ("v9__lower_case_prefix.sql", "SELECT 1;\n".into()),
        ("notes.txt", "not a migration\n".into()),
        (
            "beforeMigrate.sql",
            "CREATE TABLE IF NOT EXISTS callback_log (seq serial, event text);\nINSERT INTO callback_log (event) VALUES ('beforeMigrate');\n"
                .into(),
        ),
        (
            "beforeEachMigrate.sql",
            "INSERT INTO callback_log (event) VALUES ('beforeEachMigrate');\n".into(),
        ),
        (
            "afterEachMigrate__log.sql",
            "INSERT INTO callback_log (event) VALUES ('afterEachMigrate ${flyway:filename}');\n".into(),
        ),
        (
            "afterVersioned.sql",
            "INSERT INTO callback_log (event) VALUES ('afterVersioned');\n".into(),
        ),
        (
            "beforeRepeatables.sql",
            "INSERT INTO callback_log (event) VALUES ('beforeRepeatables');\n".into(),
        ),
        (
            "afterMigrateApplied.sql",
            "INSERT INTO callback_log (event) VALUES ('afterMigrateApplied');\n".into(),
        ),
        ("afterMigrate.sql", "INSERT INTO callback_log (event) VALUES ('afterMigrate');\n".into()),
    ];
    for (name, text) in files {
        m.write(name, text);
    }
}

#[tokio::test]
async fn the_corpus_gives_the_same_history_schema_and_data_with_either_tool() {
    let m = Migrations::new();
    corpus(&m);
    let (a, b) = (test_support::database().await, test_support::database().await);
    let with_note = |db, note: &str| config(db, m.path()).placeholder("note", note);
    let (fa, fb) = (with_note(&a, "first"), with_note(&b, "first"));

    let result = flyway::migrate(&fa).await.expect("real Flyway migrates the corpus");
    assert!(result.success);
    let run = pccdb("migrate", &fb).expect(0);
    assert!(
        run.stdout.contains(&format!(
            "Successfully applied {} migrations",
            result.migrations_executed
        )),
        "pccdb applied as many migrations as Flyway ({}):\n{}",
        result.migrations_executed,
        run.stdout
    );
    let (ha, hb) = (history(&a).await, history(&b).await);
    assert_eq!(ha.len(), 18, "every migration has its row: {ha:#?}");
    assert_same(&ha, &hb, &a, &b);
    let (ca, cb) = (a.connect().await, b.connect().await);
    for query in [PROBE, "SELECT seq, event FROM callback_log ORDER BY seq"] {
        assert_eq!(db::rows(&ca, query).await, db::rows(&cb, query).await, "{query}");
    }
    // The probe saw every placeholder resolved alike, a row per file, in version order.
    let probe = db::rows(&ca, "SELECT t FROM probe ORDER BY seq").await;
    assert!(probe.contains(&"database matches: true".to_owned()), "{probe:?}");

    // Each tool accepts the other's database, and both show the same info on it.
    assert_flyway_valid(&fb).await;
    pccdb("validate", &fa).expect(0);
    let lines = assert_same_info(&fa).await;
    assert!(lines.iter().all(|l| l.5 == "Success"), "{lines:#?}");
    assert_same_info(&fb).await;

    // A repeatable whose placeholder changed runs again, with the same new checksum in both.
    let (fa, fb) = (with_note(&a, "second"), with_note(&b, "second"));
    assert_eq!(
        flyway::migrate(&fa)
            .await
            .expect("Flyway re-applies")
            .migrations_executed,
        1
    );
    pccdb("migrate", &fb).expect(0);
    let (ha2, hb2) = (history(&a).await, history(&b).await);
    assert_eq!(ha2.len(), ha.len() + 1);
    assert_same(&ha2, &hb2, &a, &b);
    let states = assert_same_info(&fa).await;
    assert!(states.iter().any(|l| l.5 == "Superseded"), "{states:#?}");
}

/// Files neither tool may apply: both refuse them, and neither leaves a migration row or any of
/// the file's objects behind (pccdb checks every script before it writes anything, even the
/// history table; Flyway creates the table first, so only the rows are compared).
#[tokio::test]
async fn both_tools_refuse_the_same_broken_files() {
    let cases: [(&str, &[u8]); 4] = [
        (
            "unterminated placeholder",
            b"CREATE TABLE t1 (id int);\nSELECT '${oops';\n",
        ),
        (
            "undefined placeholder",
            b"CREATE TABLE t1 (id int);\nSELECT '${nobody}';\n",
        ),
        ("\\c meta-command", b"CREATE TABLE t1 (id int);\n\\c other\n"),
        // Both decode strictly (Flyway cannot compute the checksum of a file that is not UTF-8).
        ("latin-1 text", b"CREATE TABLE t1 (name text DEFAULT 'caf\xe9');\n"),
    ];
    for (what, bytes) in cases {
        let m = Migrations::new();
        m.write("V1__broken.sql", bytes);
        let (a, b) = (test_support::database().await, test_support::database().await);
        let theirs = flyway::migrate(&config(&a, m.path())).await;
        assert!(theirs.is_err(), "{what}: real Flyway refuses it: {theirs:?}");
        let ours = pccdb("migrate", &config(&b, m.path()));
        assert_eq!(
            ours.code, 1,
            "{what}: pccdb refuses it:\n{}{}",
            ours.stdout, ours.stderr
        );
        for db in [&a, &b] {
            let rows = db::rows(
                &db.connect().await,
                "SELECT count(*) FROM pg_tables WHERE tablename = 't1'",
            )
            .await;
            assert_eq!(rows, ["0"], "{what}: nothing of the file was applied");
        }
        // Flyway may have created the (empty) history table before it found the problem.
        let client = a.connect().await;
        let table = db::rows(
            &client,
            "SELECT to_regclass('public.flyway_schema_history') IS NOT NULL",
        )
        .await;
        if table == ["t"] {
            let flyway_rows = history(&a).await;
            assert!(flyway_rows.is_empty(), "{what}: {flyway_rows:?}");
        }
    }
}
