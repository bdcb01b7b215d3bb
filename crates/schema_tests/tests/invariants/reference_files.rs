//! The migration files as files: the generated reference migrations equal a fresh generation from
//! reference/*.csv, and every migration is a script Flyway can run (names, placeholders, statement splitting,
//! no psql meta-commands, no transaction control, no grants or role names). No database needed.
//!
//! `UPDATE_REFERENCE=1` rewrites the generated files instead of failing (then commit them).

use schema_tests::{migrations, migrations_dir, reference, reference_dir};

#[test]
fn generated_reference_migrations_are_up_to_date() {
    let generated = reference::generate_all(&reference_dir()).expect("reference CSVs are valid");
    let update = std::env::var_os("UPDATE_REFERENCE").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for file in &generated {
        let path = migrations_dir().join(file.file_name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != file.sql {
            if update {
                std::fs::write(&path, &file.sql).expect("writing a generated migration");
            } else {
                stale.push(file.file_name);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "generated migrations out of date: {stale:?}; run `UPDATE_REFERENCE=1 cargo test -p schema_tests --test \
         invariants reference_files` and commit the result"
    );
}

#[test]
fn every_migration_is_a_script_flyway_can_run() {
    let files = migrations::load(&migrations_dir()).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = files.iter().map(|f| f.file_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "V1__foundation.sql",
            "V2__reference_tables.sql",
            "V3__clients.sql",
            "V4__client_rules.sql",
            "V5__risk_assessments.sql",
            "V6__client_addresses.sql",
            "V7__contacts.sql",
            "V8__idempotency_keys.sql",
            "V9__hierarchy_lock_release_race.sql",
            "V10__change_history.sql",
            "V11__change_history_one_statement.sql",
            "V12__contact_erasure.sql",
            "V13__ownership_stakes.sql",
            "V14__client_imports.sql",
            "V15__change_time_order.sql",
            "V16__import_ownership.sql",
            "V17__history_retention.sql",
            "R__reference_countries.sql",
            "R__reference_currencies.sql",
            "R__reference_naics_2022.sql",
        ],
        "files in Flyway order"
    );
    for file in &files {
        assert!(
            file.script.transactional,
            "{} must run in one transaction",
            file.file_name
        );
        assert!(
            !file.script.statements.is_empty(),
            "{} has no statements",
            file.file_name
        );
    }
}

/// GRANT/REVOKE, default privileges, role DDL and session settings (SET ROLE, SET search_path) are the
/// provisioning tool's and the migration runner's business.
fn is_privilege_or_session_statement(words: &[&str]) -> bool {
    let first = words.first().copied().unwrap_or_default();
    let second = words.get(1).copied().unwrap_or_default();
    matches!(first, "GRANT" | "REVOKE" | "SET" | "RESET")
        || (first == "ALTER" && second == "DEFAULT")
        || (matches!(first, "CREATE" | "ALTER" | "DROP") && matches!(second, "ROLE" | "USER" | "GROUP"))
}

#[test]
fn migrations_grant_nothing_and_name_no_roles() {
    // Privileges and roles belong to the provisioning tool (deploy/pcc.toml); a migration that names a role
    // would fail in any environment whose roles are named differently.
    for file in migrations::load(&migrations_dir()).unwrap_or_else(|e| panic!("{e}")) {
        for statement in &file.script.statements {
            let words: Vec<&str> = statement.top_words().collect();
            assert!(
                !is_privilege_or_session_statement(&words),
                "{}:{}: `{}` does not belong in a migration",
                file.file_name,
                statement.line,
                statement.text.lines().next().unwrap_or_default()
            );
            let lower = statement.text.to_ascii_lowercase();
            for role in [
                "client_api_owner",
                "client_api_user",
                "flyway_user",
                "pcc_admin",
                "postgres",
            ] {
                assert!(
                    !lower.contains(role),
                    "{}:{}: names the role {role}",
                    file.file_name,
                    statement.line
                );
            }
        }
    }
}

#[test]
fn naics_generation_resolves_sectors_through_ranges() {
    let naics = reference::naics(&reference_dir()).expect("naics CSV is valid");
    // 311111 (Dog and Cat Food Manufacturing) sits under the range sector 31-33.
    assert!(
        naics
            .sql
            .contains("('naics_2022', '311111', 'Dog and Cat Food Manufacturing', 6, '31111', '31-33')")
    );
    assert!(
        naics
            .sql
            .contains("('naics_2022', '31-33', 'Manufacturing', 2, NULL, '31-33')")
    );
}

#[test]
fn a_malformed_reference_row_is_named_with_its_row() {
    let dir = std::env::temp_dir().join(format!("schema_tests_bad_csv_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(
        dir.join("iso4217.csv"),
        "code,numeric,minor_units,name\nEUR,978,2,Euro\nUSD,84,2,US Dollar\n",
    )
    .expect("write csv");
    let error = reference::currencies(&dir)
        .expect_err("84 is not a 3-digit numeric code")
        .to_string();
    assert_eq!(error, "iso4217.csv, row 2: numeric \"84\" is not 3 digits");
    std::fs::write(
        dir.join("naics-2022.csv"),
        "code,title,level,parent_code\n11,Farming,2,\n111,Crops,3,99\n",
    )
    .expect("write csv");
    let error = reference::naics(&dir).expect_err("99 is not in the file").to_string();
    assert_eq!(error, "naics-2022.csv, row 2: parent 99 of 111 is not in the file");
    let _ = std::fs::remove_dir_all(&dir);
}
