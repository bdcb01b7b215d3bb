// The statement-splitting cases of Flyway's own PostgreSQL parser tests, in our words, plus regressions of
// ours (crates/migrate/FLYWAY.md, "Statement splitting", says where they come from). Included by the splitter's unit tests (split
// only) and by tests/parser_cases_on_server.rs (every case also runs on a real server).

/// One splitting case.
pub struct ParserCase {
    /// Name from parser-cases.md.
    pub name: &'static str,
    /// Statements to run first on the server (not split-checked).
    pub setup: &'static str,
    /// The script.
    pub script: &'static str,
    /// 1-based starting lines of the expected statements (its length is the statement count).
    pub lines: &'static [usize],
    /// A query run after the script on the server, and its expected single text result.
    pub check: Option<(&'static str, &'static str)>,
}

pub const CASES: &[ParserCase] = &[
    ParserCase {
        name: "domain with casts",
        setup: "",
        script: "CREATE DOMAIN some_domain AS CHARACTER(3)\nCONSTRAINT some_domain_check CHECK (((VALUE) :: TEXT = ANY (ARRAY ['FOO' :: TEXT, 'BAR' :: TEXT])));",
        lines: &[1],
        check: None,
    },
    ParserCase {
        name: "regclass",
        setup: "CREATE SEQUENCE base_table_seq",
        script: "CREATE TABLE base_table (\nbase_table_id integer DEFAULT nextval('base_table_seq'::regclass) NOT NULL\n);",
        lines: &[1],
        check: None,
    },
    ParserCase {
        name: "tagged dollar body",
        setup: "",
        script: "CREATE FUNCTION add(integer, integer) RETURNS integer\n    LANGUAGE sql IMMUTABLE STRICT\n    AS $_$select $1 + $2;$_$;\n",
        lines: &[1],
        check: Some(("SELECT add(2, 3)::text", "5")),
    },
    ParserCase {
        name: "typed literal",
        setup: "CREATE TABLE testDate (d timestamp)",
        script: "insert into testDate values (TIMESTAMP '2004-10-19 10:23:54');\n",
        lines: &[1],
        check: Some(("SELECT d::text FROM testDate", "2004-10-19 10:23:54")),
    },
    ParserCase {
        name: "E string in CHECK",
        setup: "",
        script: "CREATE TABLE sometable1 (\n  id        SERIAL PRIMARY KEY,\n  somefield TEXT CHECK (somefield ~ E'.')\n);\n",
        lines: &[1],
        check: None,
    },
    ParserCase {
        name: "semicolons in a string",
        setup: "CREATE TABLE address (id int, address text)",
        script: "INSERT INTO address VALUES (1, '1. first;\n2. second;\n3. third;')",
        lines: &[1],
        check: Some(("SELECT address FROM address", "1. first;\n2. second;\n3. third;")),
    },
    ParserCase {
        name: "semicolons in dollars",
        setup: "CREATE TABLE dollar (txt text)",
        script: "INSERT INTO dollar VALUES($$Hello\nmulti-line\nquotes;\n$$)",
        lines: &[1],
        check: Some(("SELECT txt FROM dollar", "Hello\nmulti-line\nquotes;\n")),
    },
    ParserCase {
        name: "nested dollar tags",
        setup: "",
        script: "CREATE OR REPLACE FUNCTION upperFunc()\nRETURNS void AS $$\nDECLARE\nvar varchar = 'abc';\nBEGIN\nraise info 'upperFunc';\nCREATE OR REPLACE FUNCTION internalFunc()\nRETURNS void AS $BODY$\nDECLARE\nvar varchar1 = 'abc';\nBEGIN\nraise info 'internalFunc'\nEND;\n$BODY$ LANGUAGE plpgsql;\nEND;\n$$ LANGUAGE plpgsql",
        lines: &[1],
        check: None,
    },
    ParserCase {
        name: "DO blocks",
        setup: "",
        script: "do $$\nbegin\n\traise notice 'hello world';\nend\n$$;\n\ndo '\nbegin\n\traise notice ''hello world'';\nend';\n\ndo language plpgsql $$\nbegin\n\traise notice 'hello world';\nend\n$$;",
        lines: &[1, 7, 12],
        check: None,
    },
    ParserCase {
        name: "$$ glued to a keyword",
        setup: "",
        script: "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$LANGUAGE sql;",
        lines: &[1],
        check: Some(("SELECT f()::text", "1")),
    },
    ParserCase {
        name: "multi-line string with ; in COMMENT",
        setup: "",
        script: "CREATE TABLE address (id int, address text);\nINSERT INTO address VALUES (1, '1. first\n2. second');\nCOMMENT ON COLUMN address.address IS 'ATIVO = 1;\nCONCLUIDO = 2;\nCANCELADO = 0;';",
        lines: &[1, 2, 4],
        check: Some(("SELECT count(*)::text FROM address", "1")),
    },
    ParserCase {
        name: "dollar-quoted inserts",
        setup: "",
        script: "CREATE TABLE dollar (txt text);\nINSERT INTO dollar VALUES($$Hello 'quotes']$$);\nINSERT INTO dollar VALUES($abc$Hello 'quotes' and $'s$abc$);\nINSERT INTO dollar VALUES($$Hello ''quotes'$$);\nINSERT INTO dollar VALUES($$Hello $quotes$ $$);\nINSERT INTO dollar VALUES($abc$Hello $$quotes$$ $abc$);\nINSERT INTO dollar VALUES($$Hello '\nmulti-line\nquotes;\n'$$);\nINSERT INTO dollar VALUES($$Hello\nmulti-line\nquotes;\n$$);\nINSERT INTO dollar VALUES($abc$Hello ';\nmulti-line;\nquotes;\n$abc$);\nINSERT INTO dollar VALUES(\n$abc$\nHello ;\nmulti-line;\nquotes;\n$abc$\n);\n",
        lines: &[1, 2, 3, 4, 5, 6, 7, 11, 15, 19],
        check: Some(("SELECT count(*)::text FROM dollar", "9")),
    },
    ParserCase {
        name: "COPY FROM STDIN (pg_dump style)",
        setup: "CREATE TABLE copy_test (c1 serial PRIMARY KEY, c2 text, c3 text)",
        script: "COPY copy_test (c1, c2, c3) FROM stdin;\n1\tUtf8: ÄÖÜ\t\\N\n2\tälter\tzwei\n3\tdrei\tdrei\n\\.\n\nCOPY copy_test (c1, c2, c3)\n  FROM stdin;\n4\tvier\tÖl\n5\t\\N\tfünf\n6\tsechs\tsechs\n\\.\n\nSELECT pg_catalog.setval('copy_test_c1_seq', 3, true);\n",
        lines: &[1, 7, 14],
        check: Some((
            "SELECT count(*)::text || '/' || count(c3)::text || '/' || sum(length(c2))::text FROM copy_test",
            "6/5/27",
        )),
    },
    ParserCase {
        name: "E'.' in a CHECK followed by a $$ function body",
        setup: "",
        script: "CREATE TABLE t1 (a text CHECK (a ~ E'.'));\nCREATE FUNCTION f1() RETURNS text AS $$ SELECT 'x;y' $$ LANGUAGE sql;\n",
        lines: &[1, 2],
        check: Some(("SELECT f1()", "x;y")),
    },
    ParserCase {
        name: "$$LANGUAGE plpgsql with no space",
        setup: "",
        script: "CREATE FUNCTION f2() RETURNS int AS $$BEGIN RETURN 2; END;$$LANGUAGE plpgsql;\nSELECT f2();",
        lines: &[1, 2],
        check: Some(("SELECT f2()::text", "2")),
    },
    ParserCase {
        name: "quoted identifiers containing \"\" and a backtick",
        setup: "",
        script: "CREATE TABLE \"we\"\"ird;`name\" (\"a;\"\"b\" int);\nINSERT INTO \"we\"\"ird;`name\" VALUES (7);",
        lines: &[1, 2],
        check: Some(("SELECT \"a;\"\"b\"::text FROM \"we\"\"ird;`name\"", "7")),
    },
    ParserCase {
        name: "an em-dash inside E'...' and lower-case e'\\'' strings",
        setup: "",
        script: "CREATE TABLE t3 (s text);\nINSERT INTO t3 VALUES (E'a — b;');\nINSERT INTO t3 VALUES (e'\\';'), (e'it\\'s; fine');\n",
        lines: &[1, 2, 3],
        check: Some((
            "SELECT string_agg(s, '|' ORDER BY s COLLATE \"C\") FROM t3",
            "';|a — b;|it's; fine",
        )),
    },
    ParserCase {
        name: "BEGIN ATOMIC function body",
        setup: "CREATE TABLE atomic_log (n int)",
        script: "CREATE OR REPLACE PROCEDURE log_two() LANGUAGE sql\nBEGIN ATOMIC\n  INSERT INTO atomic_log VALUES (1);\n  INSERT INTO atomic_log VALUES (CASE WHEN true THEN 2 ELSE 3 END);\nEND;\nCALL log_two();\n",
        lines: &[1, 6],
        check: Some(("SELECT sum(n)::text FROM atomic_log", "3")),
    },
    ParserCase {
        name: "nested block comments",
        setup: "",
        script: "/* outer /* inner; */ still comment; */ SELECT 1;\n-- a line comment; with a semicolon\nSELECT /* ; */ 2;",
        lines: &[1, 3],
        check: None,
    },
];
