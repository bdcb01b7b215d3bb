//! Unit tests of the splitter: every case of parser-cases.md, the dollar-tag table, and the
//! token rules one by one. The same cases run on a real server in tests/parser_cases_on_server.rs.

use super::split::{SplitError, Statement, split};

#[allow(dead_code)]
mod cases {
    include!("../../tests/data/parser_cases.rs");
}

fn texts(sql: &str) -> Vec<String> {
    split(sql).unwrap().into_iter().map(|s| s.text).collect()
}

fn lines(sql: &str) -> Vec<usize> {
    split(sql).unwrap().into_iter().map(|s| s.line).collect()
}

#[test]
fn every_parser_case_splits_into_the_stated_statements_at_the_stated_lines() {
    for case in cases::CASES {
        let got = split(case.script).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let got_lines: Vec<usize> = got.iter().map(|s| s.line).collect();
        assert_eq!(got_lines, case.lines, "{}", case.name);
    }
}

#[test]
fn a_typed_literal_statement_loses_only_its_semicolon() {
    assert_eq!(
        texts("insert into testDate values (TIMESTAMP '2004-10-19 10:23:54');\n"),
        ["insert into testDate values (TIMESTAMP '2004-10-19 10:23:54')"]
    );
}

#[test]
fn copy_from_a_file_is_an_ordinary_statement() {
    let all = split("COPY CSV_FILES FROM '/path/to/filename.csv' DELIMITER ';' CSV HEADER;\n").unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].copy_data, None);
}

#[test]
fn copy_from_stdin_takes_the_following_lines_up_to_the_terminator() {
    let all = split("COPY t (a, b) FROM stdin;\n1\tx\n2\t\\N\n\\.\nSELECT 1;").unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].text, "COPY t (a, b) FROM stdin");
    assert_eq!(all[0].copy_data.as_deref(), Some("1\tx\n2\t\\N\n"));
    assert_eq!((all[1].text.as_str(), all[1].line), ("SELECT 1", 5));
}

#[test]
fn copy_data_without_a_terminator_runs_to_the_end_like_psql() {
    let all = split("COPY t FROM STDIN;\n1\n2\n").unwrap();
    assert_eq!(all[0].copy_data.as_deref(), Some("1\n2\n"));
}

#[test]
fn copy_data_may_contain_semicolons_quotes_and_dollars() {
    let all = split("COPY t FROM STDIN;\n';$$\t/*\n\\.\n").unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].copy_data.as_deref(), Some("';$$\t/*\n"));
}

#[test]
fn text_after_copy_on_the_same_line_is_refused() {
    assert_eq!(
        split("COPY t FROM STDIN; SELECT 1;\n1\n\\.\n"),
        Err(SplitError::TextAfterCopy { line: 1 })
    );
    assert!(split("COPY t FROM STDIN; -- data follows\n1\n\\.\n").is_ok());
}

#[test]
fn valid_dollar_tags_quote_their_body() {
    for tag in [
        "$$",
        "$abc$",
        "$ABC$",
        "$aBcDeF$",
        "$aBc_DeF$",
        "$abcDEF123$",
        "$_$",
        "$ü$",
    ] {
        let sql = format!("SELECT {tag};x{tag}; SELECT 2;");
        assert_eq!(split(&sql).unwrap().len(), 2, "{tag}");
    }
}

#[test]
fn things_that_are_not_dollar_tags_do_not_quote() {
    // `abc$` is an identifier, `$abc` has no closing `$`, `$1` is a parameter.
    assert_eq!(texts("SELECT abc$; SELECT 2;"), ["SELECT abc$", "SELECT 2"]);
    assert_eq!(texts("SELECT $abc; SELECT 2;"), ["SELECT $abc", "SELECT 2"]);
    assert_eq!(
        texts("PREPARE p AS SELECT $1; SELECT $2;"),
        ["PREPARE p AS SELECT $1", "SELECT $2"]
    );
}

#[test]
fn a_dollar_inside_an_identifier_starts_no_quote() {
    // The server reads `a$$b` as one identifier, so the `;` after it ends the statement.
    assert_eq!(texts("SELECT a$$b; SELECT 2;"), ["SELECT a$$b", "SELECT 2"]);
}

#[test]
fn a_number_followed_by_a_dollar_quote_is_two_tokens_as_on_the_server() {
    assert_eq!(texts("SELECT 1$$;$$; SELECT 2;"), ["SELECT 1$$;$$", "SELECT 2"]);
}

#[test]
fn the_closing_tag_must_match_exactly_and_is_case_sensitive() {
    assert_eq!(split("SELECT $a$ $A$; $b$ $a$; SELECT 2;").unwrap().len(), 2);
}

#[test]
fn standard_strings_treat_backslash_as_a_plain_character() {
    assert_eq!(texts(r"SELECT 'a\'; SELECT 'b';"), [r"SELECT 'a\'", "SELECT 'b'"]);
}

#[test]
fn e_strings_treat_backslash_as_an_escape_in_either_case() {
    assert_eq!(texts(r"SELECT E'a\';b'; SELECT 2;"), [r"SELECT E'a\';b'", "SELECT 2"]);
    assert_eq!(texts(r"SELECT e'\\'; SELECT 2;"), [r"SELECT e'\\'", "SELECT 2"]);
}

#[test]
fn an_e_at_the_end_of_an_identifier_is_not_an_escape_prefix() {
    // `name'...'` is the identifier `name` followed by a standard string.
    assert_eq!(texts(r"SELECT name'a\'; SELECT 2;"), [r"SELECT name'a\'", "SELECT 2"]);
}

#[test]
fn doubled_quotes_stay_inside_strings_and_identifiers() {
    assert_eq!(
        texts("SELECT 'it''s;'; SELECT \"a\"\";\";"),
        ["SELECT 'it''s;'", "SELECT \"a\"\";\""]
    );
}

#[test]
fn block_comments_nest() {
    assert_eq!(texts("/* a /* b */ ; */ SELECT 1; SELECT 2"), ["SELECT 1", "SELECT 2"]);
}

#[test]
fn comments_before_a_statement_are_not_part_of_it_but_inner_ones_are() {
    let all = split("-- header\n/* doc */\nSELECT /* x */ 1; -- trailing\n").unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].text.as_str(), all[0].line), ("SELECT /* x */ 1", 3));
}

#[test]
fn a_double_dash_inside_a_string_is_no_comment() {
    assert_eq!(texts("SELECT '--;'; SELECT 2;"), ["SELECT '--;'", "SELECT 2"]);
}

#[test]
fn semicolons_inside_parentheses_do_not_end_a_statement() {
    assert_eq!(texts("SELECT (1; 2); SELECT 3"), ["SELECT (1; 2)", "SELECT 3"]);
}

#[test]
fn begin_atomic_bodies_keep_their_semicolons() {
    let sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n SELECT 1;\n SELECT CASE WHEN true THEN 1 END;\nEND;\nSELECT 2;";
    assert_eq!(lines(sql), [1, 6]);
}

#[test]
fn begin_outside_a_routine_is_an_ordinary_statement() {
    assert_eq!(texts("BEGIN; SELECT 1; COMMIT;"), ["BEGIN", "SELECT 1", "COMMIT"]);
}

#[test]
fn empty_statements_and_blank_scripts_yield_nothing() {
    assert_eq!(texts(";;  ;\n-- only a comment\n"), Vec::<String>::new());
    assert_eq!(texts(""), Vec::<String>::new());
}

#[test]
fn a_last_statement_without_semicolon_is_kept() {
    assert_eq!(texts("SELECT 1;\nSELECT 2\n\n"), ["SELECT 1", "SELECT 2"]);
}

#[test]
fn psql_meta_commands_are_errors_with_their_line() {
    let err = split("CREATE DATABASE d;\n\n\\c d\nCREATE TABLE t ();").unwrap_err();
    assert_eq!(
        err,
        SplitError::MetaCommand {
            line: 3,
            command: "\\c".into()
        }
    );
    for cmd in ["\\connect d", "\\i other.sql", "\\set x 1", "SELECT 1 \\gset", "\\;"] {
        assert!(matches!(split(cmd), Err(SplitError::MetaCommand { .. })), "{cmd}");
    }
}

#[test]
fn backslashes_inside_quotes_and_comments_are_not_meta_commands() {
    assert!(split("SELECT '\\c', E'\\\\', $$\\i$$, \"\\\"; -- \\c\n/* \\c */").is_ok());
}

#[test]
fn unterminated_quotes_and_comments_name_their_start_line() {
    let cases = [
        ("SELECT 1;\nSELECT 'abc", 2, "quoted string"),
        ("SELECT \"abc", 1, "quoted identifier"),
        ("\n\nSELECT $x$ abc", 3, "dollar-quoted string $x$"),
        ("/* a /* b */", 1, "block comment"),
    ];
    for (sql, line, what) in cases {
        assert_eq!(
            split(sql),
            Err(SplitError::Unterminated {
                line,
                what: what.into()
            }),
            "{sql}"
        );
    }
}

#[test]
fn server_error_positions_map_to_script_lines() {
    let all = split("\n\nSELECT 1,\n  nope(\n);").unwrap();
    let stmt: &Statement = &all[0];
    let position = stmt.text.find("nope").unwrap() + 1;
    assert_eq!(stmt.line_of_position(position), 4);
}

#[test]
fn words_record_keywords_outside_quotes_with_their_depth() {
    let all = split("REINDEX (VERBOSE, CONCURRENTLY) TABLE \"t\" -- 'x'").unwrap();
    let words: Vec<(&str, u32)> = all[0].words.iter().map(|w| (w.text.as_str(), w.depth)).collect();
    assert_eq!(
        words,
        [("REINDEX", 0), ("VERBOSE", 1), ("CONCURRENTLY", 1), ("TABLE", 0)]
    );
}

#[test]
fn crlf_scripts_split_like_lf_scripts() {
    let lf = split("SELECT 1;\nSELECT\n 2;\n").unwrap();
    let crlf = split("SELECT 1;\r\nSELECT\r\n 2;\r\n").unwrap();
    assert_eq!(
        lf.iter().map(|s| s.line).collect::<Vec<_>>(),
        crlf.iter().map(|s| s.line).collect::<Vec<_>>()
    );
    assert_eq!(crlf[1].text, "SELECT\r\n 2");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn splitting_never_panics(s in "\\PC{0,200}") {
            let _ = split(&s);
        }

        #[test]
        fn joined_simple_statements_split_back_apart(parts in proptest::collection::vec(
            "SELECT [0-9]{1,3}|SELECT '[a-z;]{0,8}'|SELECT \\$\\$[a-z; ]{0,8}\\$\\$|SELECT \"[a-z;]{1,8}\"", 1..8)) {
            let script = parts.join(";\n");
            prop_assert_eq!(texts(&script), parts);
        }
    }
}
