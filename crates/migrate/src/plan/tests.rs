//! Sentence-named tests of the pure planner: every Flyway state, the info order, validation,
//! the migrate plan and the repair plan.

use super::migrate::{MigrateOptions, next_rank, plan as plan_migrate};
use super::patterns::IgnorePatterns;
use super::validate::{ErrorCode, validate};
use super::{InfoOptions, PlanError, info::compute, repair};
use crate::model::{AppliedMigration, HistoryType, MigrationState as S, ResolvedMigration};
use crate::name::{NamingConfig, ParsedName, parse_file_name};
use crate::sql::script::ScriptOverrides;
use crate::version::{MigrationVersion, Target};

fn v(s: &str) -> MigrationVersion {
    MigrationVersion::parse(s).unwrap()
}

/// A resolved file; its checksum is derived from its name unless given.
fn file_sum(name: &str, checksum: i32) -> ResolvedMigration {
    let Some(ParsedName::Migration {
        kind,
        version,
        description,
    }) = parse_file_name(name, &NamingConfig::default())
    else {
        panic!("not a migration name: {name}")
    };
    ResolvedMigration {
        kind,
        version,
        description,
        script: name.into(),
        path: name.into(),
        checksum,
        equivalent_checksum: None,
        text: String::new(),
        overrides: ScriptOverrides::default(),
    }
}

fn file(name: &str) -> ResolvedMigration {
    file_sum(name, name.len() as i32)
}

/// A history row for the file `name` (same checksum as `file(name)`).
fn row(rank: i32, name: &str) -> AppliedMigration {
    let f = file(name);
    AppliedMigration {
        installed_rank: rank,
        version: f.version.clone(),
        description: f.description.clone(),
        kind: f.history_type(),
        script: name.into(),
        checksum: Some(f.checksum),
        installed_by: "flyway_user".into(),
        installed_on: None,
        execution_time: 3,
        success: true,
    }
}

fn failed(rank: i32, name: &str) -> AppliedMigration {
    AppliedMigration {
        success: false,
        ..row(rank, name)
    }
}

fn marker(rank: i32, kind: HistoryType, version: Option<&str>, description: &str) -> AppliedMigration {
    AppliedMigration {
        installed_rank: rank,
        version: version.map(v),
        description: description.into(),
        kind,
        script: description.into(),
        checksum: None,
        installed_by: "flyway_user".into(),
        installed_on: None,
        execution_time: 0,
        success: true,
    }
}

fn states_with(
    applied: &[AppliedMigration],
    resolved: &[ResolvedMigration],
    options: &InfoOptions,
) -> Vec<(String, S)> {
    compute(applied, resolved, options)
        .unwrap()
        .infos
        .iter()
        .map(|m| {
            (
                m.version
                    .as_ref()
                    .map_or_else(|| m.description.clone(), ToString::to_string),
                m.state,
            )
        })
        .collect()
}

fn states(applied: &[AppliedMigration], resolved: &[ResolvedMigration]) -> Vec<(String, S)> {
    states_with(applied, resolved, &InfoOptions::default())
}

fn expect(list: &[(&str, S)]) -> Vec<(String, S)> {
    list.iter().map(|(l, s)| ((*l).to_owned(), *s)).collect()
}

fn planned(applied: &[AppliedMigration], resolved: &[ResolvedMigration], options: &MigrateOptions) -> Vec<String> {
    let plan = plan_migrate(applied, resolved, options).unwrap();
    plan.steps.iter().map(|s| resolved[s.resolved].script.clone()).collect()
}

fn codes(applied: &[AppliedMigration], resolved: &[ResolvedMigration], patterns: &IgnorePatterns) -> Vec<ErrorCode> {
    let infos = compute(applied, resolved, &InfoOptions::default()).unwrap();
    validate(&infos, applied, resolved, patterns)
        .into_iter()
        .map(|e| e.code)
        .collect()
}

#[test]
fn an_empty_history_makes_every_file_pending_versioned_by_version_then_repeatables_by_description() {
    let files = [
        file("R__b.sql"),
        file("V10__x.sql"),
        file("R__a.sql"),
        file("V2__y.sql"),
        file("V1_1__z.sql"),
    ];
    assert_eq!(
        states(&[], &files),
        expect(&[
            ("1.1", S::Pending),
            ("2", S::Pending),
            ("10", S::Pending),
            ("a", S::Pending),
            ("b", S::Pending)
        ])
    );
    assert_eq!(
        planned(&[], &files, &MigrateOptions::default()),
        ["V1_1__z.sql", "V2__y.sql", "V10__x.sql", "R__a.sql", "R__b.sql"]
    );
}

#[test]
fn an_applied_migration_with_its_file_is_success() {
    assert_eq!(
        states(&[row(1, "V1__a.sql")], &[file("V1__a.sql")]),
        expect(&[("1", S::Success)])
    );
}

#[test]
fn a_failed_row_with_its_file_is_failed() {
    assert_eq!(
        states(&[failed(1, "V1__a.sql")], &[file("V1__a.sql")]),
        expect(&[("1", S::Failed)])
    );
}

#[test]
fn a_row_older_than_the_newest_file_without_its_own_file_is_missing() {
    let applied = [row(1, "V1__a.sql"), row(2, "V2__b.sql")];
    assert_eq!(
        states(&applied, &[file("V2__b.sql")]),
        expect(&[("1", S::MissingSuccess), ("2", S::Success)])
    );
}

#[test]
fn a_failed_row_without_its_file_is_failed_missing() {
    let applied = [row(1, "V1__a.sql"), failed(2, "V1_5__b.sql")];
    let files = [file("V1__a.sql"), file("V2__c.sql")];
    assert_eq!(
        states(&applied, &files),
        expect(&[("1", S::Success), ("1.5", S::MissingFailed), ("2", S::Pending)])
    );
}

#[test]
fn a_row_newer_than_every_file_is_future() {
    let applied = [row(1, "V1__a.sql"), row(2, "V2__b.sql")];
    assert_eq!(
        states(&applied, &[file("V1__a.sql")]),
        expect(&[("1", S::Success), ("2", S::FutureSuccess)])
    );
}

#[test]
fn a_failed_row_newer_than_every_file_is_failed_future() {
    let applied = [row(1, "V1__a.sql"), failed(2, "V2__b.sql")];
    assert_eq!(
        states(&applied, &[file("V1__a.sql")]),
        expect(&[("1", S::Success), ("2", S::FutureFailed)])
    );
}

#[test]
fn with_no_files_at_all_every_versioned_row_is_future() {
    assert_eq!(states(&[row(1, "V1__a.sql")], &[]), expect(&[("1", S::FutureSuccess)]));
}

#[test]
fn a_file_older_than_the_latest_applied_version_is_ignored() {
    let applied = [row(1, "V1__a.sql"), row(2, "V3__c.sql")];
    let files = [file("V1__a.sql"), file("V2__b.sql"), file("V3__c.sql")];
    assert_eq!(
        states(&applied, &files),
        // Flyway lists files that are not applied after the applied rows (interop_tests checks).
        expect(&[("1", S::Success), ("3", S::Success), ("2", S::Ignored)])
    );
}

#[test]
fn with_out_of_order_an_older_file_is_pending_and_planned_as_out_of_order() {
    let applied = [row(1, "V1__a.sql"), row(2, "V3__c.sql")];
    let files = [file("V1__a.sql"), file("V2__b.sql"), file("V3__c.sql")];
    let options = MigrateOptions {
        out_of_order: true,
        ..MigrateOptions::default()
    };
    let plan = plan_migrate(&applied, &files, &options).unwrap();
    assert_eq!(plan.steps.len(), 1);
    assert!(plan.steps[0].out_of_order);
    assert_eq!(files[plan.steps[0].resolved].script, "V2__b.sql");
}

#[test]
fn a_row_applied_after_a_higher_version_is_out_of_order() {
    let applied = [row(1, "V1__a.sql"), row(2, "V3__c.sql"), row(3, "V2__b.sql")];
    let files = [file("V1__a.sql"), file("V2__b.sql"), file("V3__c.sql")];
    assert_eq!(
        states(&applied, &files),
        expect(&[("1", S::Success), ("3", S::Success), ("2", S::OutOfOrder)])
    );
}

#[test]
fn files_above_the_target_are_above_target_and_not_planned() {
    let files = [file("V1__a.sql"), file("V2__b.sql"), file("V3__c.sql")];
    let target = Target::parse("2").unwrap();
    let options = InfoOptions {
        target: target.clone(),
        ..InfoOptions::default()
    };
    assert_eq!(
        states_with(&[], &files, &options),
        expect(&[("1", S::Pending), ("2", S::Pending), ("3", S::AboveTarget)])
    );
    assert_eq!(
        planned(
            &[],
            &files,
            &MigrateOptions {
                target,
                ..MigrateOptions::default()
            }
        ),
        ["V1__a.sql", "V2__b.sql"]
    );
}

#[test]
fn target_current_stops_at_the_applied_version() {
    let files = [file("V1__a.sql"), file("V2__b.sql")];
    let options = MigrateOptions {
        target: Target::Current,
        ..MigrateOptions::default()
    };
    assert!(planned(&[row(1, "V1__a.sql")], &files, &options).is_empty());
    assert!(
        planned(&[], &files, &options).is_empty(),
        "current on an empty history applies nothing"
    );
}

#[test]
fn target_next_plans_exactly_the_next_versioned_migration() {
    let files = [
        file("V1__a.sql"),
        file("V2__b.sql"),
        file("V3__c.sql"),
        file("R__r.sql"),
    ];
    let options = MigrateOptions {
        target: Target::Next,
        ..MigrateOptions::default()
    };
    assert_eq!(
        planned(&[row(1, "V1__a.sql")], &files, &options),
        ["V2__b.sql", "R__r.sql"]
    );
}

#[test]
fn a_missing_target_version_is_an_error_unless_marked_optional() {
    let files = [file("V1__a.sql")];
    let strict = InfoOptions {
        target: Target::parse("5").unwrap(),
        ..InfoOptions::default()
    };
    assert_eq!(
        compute(&[], &files, &strict).unwrap_err(),
        PlanError::TargetNotFound(v("5"))
    );
    let lenient = InfoOptions {
        target: Target::parse("5?").unwrap(),
        ..InfoOptions::default()
    };
    assert!(compute(&[], &files, &lenient).is_ok());
}

#[test]
fn the_baseline_marker_is_baseline_and_hides_files_up_to_its_version() {
    let applied = [marker(1, HistoryType::Baseline, Some("1"), "<< Flyway Baseline >>")];
    let files = [file("V0_5__old.sql"), file("V1__init.sql"), file("V2__next.sql")];
    assert_eq!(
        states(&applied, &files),
        expect(&[
            ("0.5", S::BelowBaseline),
            ("1", S::BaselineIgnored),
            ("1", S::Baseline),
            ("2", S::Pending)
        ])
    );
    assert_eq!(planned(&applied, &files, &MigrateOptions::default()), ["V2__next.sql"]);
}

#[test]
fn a_baseline_migration_runs_first_on_an_empty_history_and_hides_older_files() {
    let files = [
        file("V1__a.sql"),
        file("V2__b.sql"),
        file("V3__c.sql"),
        file("B3__snapshot.sql"),
        file("V4__d.sql"),
    ];
    assert_eq!(
        states(&[], &files),
        expect(&[
            ("1", S::BelowBaseline),
            ("2", S::BelowBaseline),
            ("3", S::BaselineIgnored),
            ("3", S::Pending),
            ("4", S::Pending)
        ])
    );
    assert_eq!(
        planned(&[], &files, &MigrateOptions::default()),
        ["B3__snapshot.sql", "V4__d.sql"]
    );
}

#[test]
fn only_the_newest_baseline_migration_runs() {
    let files = [file("B2__old.sql"), file("B3__new.sql"), file("V4__d.sql")];
    assert_eq!(
        planned(&[], &files, &MigrateOptions::default()),
        ["B3__new.sql", "V4__d.sql"]
    );
}

#[test]
fn an_applied_baseline_migration_is_baseline() {
    let files = [file("V3__c.sql"), file("B3__snapshot.sql"), file("V4__d.sql")];
    let applied = [row(1, "B3__snapshot.sql")];
    assert_eq!(
        states(&applied, &files),
        expect(&[("3", S::BaselineIgnored), ("3", S::Baseline), ("4", S::Pending)])
    );
}

#[test]
fn a_baseline_migration_added_to_a_used_history_is_ignored_without_failing_validation() {
    let applied = [row(1, "V1__a.sql"), row(2, "V2__b.sql")];
    let files = [file("V1__a.sql"), file("V2__b.sql"), file("B2__snapshot.sql")];
    assert_eq!(
        states(&applied, &files),
        expect(&[("1", S::Success), ("2", S::Success), ("2", S::Ignored)])
    );
    assert!(codes(&applied, &files, &IgnorePatterns::default()).is_empty());
}

#[test]
fn a_repeatable_with_a_changed_checksum_is_outdated_and_pending_again() {
    let applied = [row(1, "R__views.sql")];
    let files = [file_sum("R__views.sql", 999)];
    assert_eq!(
        states(&applied, &files),
        expect(&[("views", S::Outdated), ("views", S::Pending)])
    );
    assert_eq!(planned(&applied, &files, &MigrateOptions::default()), ["R__views.sql"]);
}

#[test]
fn an_earlier_run_of_a_repeatable_is_superseded() {
    let applied = [row(1, "R__views.sql"), row(2, "R__views.sql")];
    assert_eq!(
        states(&applied, &[file("R__views.sql")]),
        expect(&[("views", S::Superseded), ("views", S::Success)])
    );
}

#[test]
fn a_repeatable_whose_raw_checksum_matches_is_success() {
    let applied = [row(1, "R__views.sql")];
    let mut f = file_sum("R__views.sql", 12345);
    f.equivalent_checksum = applied[0].checksum;
    assert_eq!(states(&applied, &[f]), expect(&[("views", S::Success)]));
}

#[test]
fn a_deleted_migration_is_deleted_and_its_delete_row_is_hidden() {
    let mut delete = row(3, "V2__gone.sql");
    delete.kind = HistoryType::Delete;
    let applied = [row(1, "V1__a.sql"), row(2, "V2__gone.sql"), delete];
    assert_eq!(
        states(&applied, &[file("V1__a.sql")]),
        expect(&[("1", S::Success), ("2", S::Deleted)])
    );
    assert!(codes(&applied, &[file("V1__a.sql")], &IgnorePatterns::none()).is_empty());
}

#[test]
fn a_deleted_migration_whose_file_returns_is_pending_again() {
    let mut delete = row(3, "V2__b.sql");
    delete.kind = HistoryType::Delete;
    let applied = [row(1, "V1__a.sql"), row(2, "V2__b.sql"), delete];
    let files = [file("V1__a.sql"), file("V2__b.sql")];
    assert_eq!(
        states(&applied, &files),
        expect(&[("1", S::Success), ("2", S::Deleted), ("2", S::Pending)])
    );
}

#[test]
fn two_delete_rows_for_one_run_are_a_corrupt_history() {
    let mut delete = row(2, "V1__a.sql");
    delete.kind = HistoryType::Delete;
    let mut again = delete.clone();
    again.installed_rank = 3;
    let err = compute(&[row(1, "V1__a.sql"), delete, again], &[], &InfoOptions::default()).unwrap_err();
    assert!(matches!(err, PlanError::CorruptHistory(m) if m.contains('1')));
}

#[test]
fn the_schema_marker_is_success() {
    let applied = [
        marker(0, HistoryType::Schema, None, "<< Flyway Schema Creation >>"),
        row(1, "V1__a.sql"),
    ];
    assert_eq!(
        states(&applied, &[file("V1__a.sql")]),
        expect(&[("<< Flyway Schema Creation >>", S::Success), ("1", S::Success)])
    );
}

#[test]
fn undo_files_make_versions_undoable_and_are_never_planned() {
    let files = [file("V1__a.sql"), file("U1__a.sql"), file("V2__b.sql")];
    let infos = compute(&[row(1, "V1__a.sql")], &files, &InfoOptions::default()).unwrap();
    let listed: Vec<_> = infos.infos.iter().map(|m| (m.category, m.state, m.undoable)).collect();
    assert_eq!(
        listed,
        [
            ("Versioned", S::Success, Some(true)),
            ("Undo", S::Available, None),
            ("Versioned", S::Pending, Some(false)),
        ]
    );
    assert_eq!(
        planned(&[row(1, "V1__a.sql")], &files, &MigrateOptions::default()),
        ["V2__b.sql"]
    );
}

#[test]
fn the_info_order_lists_ignored_files_after_the_applied_rows_as_flyway_does() {
    let applied = [row(1, "V1__a.sql"), row(2, "V3__c.sql"), row(3, "R__r.sql")];
    let files = [
        file("V1__a.sql"),
        file("V2__b.sql"),
        file("V3__c.sql"),
        file("R__r.sql"),
        file("V4__d.sql"),
    ];
    assert_eq!(
        states(&applied, &files),
        expect(&[
            ("1", S::Success),
            ("3", S::Success),
            ("r", S::Success),
            ("2", S::Ignored),
            ("4", S::Pending)
        ])
    );
}

#[test]
fn current_is_the_highest_applied_version_that_is_not_deleted() {
    let mut delete = row(3, "V3__c.sql");
    delete.kind = HistoryType::Delete;
    let applied = [row(1, "V1__a.sql"), row(2, "V3__c.sql"), delete];
    let infos = compute(&applied, &[file("V1__a.sql")], &InfoOptions::default()).unwrap();
    assert_eq!(infos.current().and_then(|m| m.version.clone()), Some(v("1")));
}

#[test]
fn a_checksum_mismatch_names_version_script_and_both_checksums_and_says_repair() {
    let applied = [row(1, "V1__a.sql")];
    let files = [file_sum("V1__a.sql", -42)];
    let infos = compute(&applied, &files, &InfoOptions::default()).unwrap();
    let errors = validate(&infos, &applied, &files, &IgnorePatterns::default());
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code, ErrorCode::ChecksumMismatch);
    let message = &errors[0].message;
    for needle in [
        "version 1",
        "V1__a.sql",
        "-42",
        &applied[0].checksum.unwrap().to_string(),
        "pccdb repair",
    ] {
        assert!(message.contains(needle), "{needle} in {message}");
    }
}

#[test]
fn a_description_or_type_change_is_a_mismatch() {
    let mut renamed = row(1, "V1__a.sql");
    renamed.description = "old name".into();
    assert_eq!(
        codes(&[renamed], &[file("V1__a.sql")], &IgnorePatterns::default()),
        [ErrorCode::DescriptionMismatch]
    );
    // Versioned rows and files match by (version, type), so a type change shows on repeatables.
    let mut typed = row(1, "R__views.sql");
    typed.kind = HistoryType::Other("JDBC".into());
    assert_eq!(
        codes(&[typed], &[file("R__views.sql")], &IgnorePatterns::default()),
        [ErrorCode::TypeMismatch]
    );
}

#[test]
fn a_long_description_matches_its_abbreviation() {
    let name = format!("V1__{}.sql", "x".repeat(250));
    let mut applied = row(1, &name);
    applied.description = crate::name::abbreviate_description(&applied.description);
    assert!(codes(&[applied], &[file(&name)], &IgnorePatterns::default()).is_empty());
}

#[test]
fn checksums_at_or_below_the_applied_baseline_are_not_compared() {
    let applied = [row(1, "B3__snapshot.sql")];
    let files = [file_sum("B3__snapshot.sql", 7)];
    assert!(codes(&applied, &files, &IgnorePatterns::default()).is_empty());
}

#[test]
fn a_failed_migration_fails_validation_with_repair_advice() {
    let applied = [failed(1, "V1__a.sql")];
    let infos = compute(&applied, &[file("V1__a.sql")], &InfoOptions::default()).unwrap();
    let errors = validate(&infos, &applied, &[file("V1__a.sql")], &IgnorePatterns::default());
    assert_eq!(errors[0].code, ErrorCode::FailedVersionedMigration);
    assert!(errors[0].message.contains("pccdb repair"));
}

#[test]
fn a_missing_migration_fails_validation_unless_missing_is_ignored() {
    let applied = [row(1, "V1__a.sql"), row(2, "V2__b.sql")];
    let files = [file("V2__b.sql")];
    assert_eq!(
        codes(&applied, &files, &IgnorePatterns::default()),
        [ErrorCode::AppliedVersionedMigrationNotResolved]
    );
    assert!(codes(&applied, &files, &IgnorePatterns::parse("*:missing").unwrap()).is_empty());
}

#[test]
fn future_migrations_are_ignored_by_default_but_not_without_patterns() {
    let applied = [row(1, "V1__a.sql"), row(2, "V2__b.sql")];
    let files = [file("V1__a.sql")];
    assert!(codes(&applied, &files, &IgnorePatterns::default()).is_empty());
    assert_eq!(
        codes(&applied, &files, &IgnorePatterns::none()),
        [ErrorCode::AppliedVersionedMigrationNotResolved]
    );
}

#[test]
fn pending_migrations_fail_validate_but_not_migrate() {
    let files = [file("V1__a.sql")];
    assert_eq!(
        codes(&[], &files, &IgnorePatterns::default()),
        [ErrorCode::ResolvedVersionedMigrationNotApplied]
    );
    assert!(plan_migrate(&[], &files, &MigrateOptions::default()).is_ok());
}

#[test]
fn ignored_migrations_fail_migrate_unless_out_of_order_or_ignored() {
    let applied = [row(1, "V1__a.sql"), row(2, "V3__c.sql")];
    let files = [file("V1__a.sql"), file("V2__b.sql"), file("V3__c.sql")];
    let err = plan_migrate(&applied, &files, &MigrateOptions::default()).unwrap_err();
    assert!(
        matches!(&err, PlanError::Validation(e) if e[0].code == ErrorCode::ResolvedVersionedMigrationNotApplied),
        "{err}"
    );
    assert!(err.to_string().contains("outOfOrder=true"));
    let ignoring = MigrateOptions {
        ignore_patterns: IgnorePatterns::parse("*:ignored").unwrap(),
        ..MigrateOptions::default()
    };
    assert!(plan_migrate(&applied, &files, &ignoring).unwrap().steps.is_empty());
}

#[test]
fn an_outdated_repeatable_fails_validate_but_not_migrate() {
    let applied = [row(1, "R__views.sql")];
    let files = [file_sum("R__views.sql", 5)];
    assert!(codes(&applied, &files, &IgnorePatterns::default()).contains(&ErrorCode::OutdatedRepeatableMigration));
    assert!(plan_migrate(&applied, &files, &MigrateOptions::default()).is_ok());
}

#[test]
fn superseded_runs_are_never_findings() {
    let applied = [row(1, "R__views.sql"), row(2, "R__views.sql")];
    assert!(codes(&applied, &[file("R__views.sql")], &IgnorePatterns::none()).is_empty());
}

#[test]
fn migrate_refuses_while_a_failed_migration_is_recorded_even_without_validation() {
    let applied = [failed(1, "V1__a.sql")];
    let options = MigrateOptions {
        validate_on_migrate: false,
        ..MigrateOptions::default()
    };
    let err = plan_migrate(&applied, &[file("V1__a.sql")], &options).unwrap_err();
    assert!(
        matches!(&err, PlanError::Failed(m) if m.contains("V1__a.sql") && m.contains("pccdb repair")),
        "{err}"
    );
}

#[test]
fn a_failed_future_migration_only_warns_while_future_is_ignored() {
    let applied = [row(1, "V1__a.sql"), failed(2, "V2__b.sql")];
    let plan = plan_migrate(&applied, &[file("V1__a.sql")], &MigrateOptions::default()).unwrap();
    assert!(plan.warnings.iter().any(|w| w.contains("failed future migration")));
}

#[test]
fn migrate_warns_about_versions_newer_than_every_file() {
    let applied = [row(1, "V1__a.sql"), row(2, "V2__b.sql")];
    let plan = plan_migrate(&applied, &[file("V1__a.sql")], &MigrateOptions::default()).unwrap();
    assert_eq!(
        plan.warnings,
        ["schema \"public\" has a version (2) that is newer than the latest available migration (1)"]
    );
}

#[test]
fn the_next_rank_is_one_more_than_the_highest_and_starts_at_one() {
    assert_eq!(next_rank(&[]), 1);
    assert_eq!(next_rank(&[marker(0, HistoryType::Schema, None, "s")]), 1);
    assert_eq!(next_rank(&[row(1, "V1__a.sql"), row(7, "V2__b.sql")]), 8);
}

#[test]
fn repair_removes_failed_rows_marks_missing_ones_deleted_and_realigns_changed_files() {
    let applied = [
        row(1, "V1__a.sql"),
        row(2, "V2__gone.sql"),
        row(3, "V3__c.sql"),
        failed(4, "V4__d.sql"),
    ];
    let files = [file("V1__a.sql"), file_sum("V3__c.sql", 77), file("V4__d.sql")];
    let plan = repair::plan(&applied, &files, &InfoOptions::default(), &IgnorePatterns::default()).unwrap();
    assert_eq!(plan.remove_failed, [3]);
    assert_eq!(plan.mark_deleted, [1]);
    assert_eq!(
        plan.realign,
        [repair::Realign {
            applied: 2,
            resolved: 1
        }]
    );
}

#[test]
fn repair_leaves_future_rows_alone_by_default() {
    let applied = [row(1, "V1__a.sql"), row(2, "V2__b.sql")];
    let plan = repair::plan(
        &applied,
        &[file("V1__a.sql")],
        &InfoOptions::default(),
        &IgnorePatterns::default(),
    )
    .unwrap();
    assert!(plan.is_empty());
    let all = repair::plan(
        &applied,
        &[file("V1__a.sql")],
        &InfoOptions::default(),
        &IgnorePatterns::none(),
    )
    .unwrap();
    assert_eq!(all.mark_deleted, [1]);
}

#[test]
fn repair_does_not_touch_outdated_repeatables() {
    let applied = [row(1, "R__views.sql")];
    let plan = repair::plan(
        &applied,
        &[file_sum("R__views.sql", 3)],
        &InfoOptions::default(),
        &IgnorePatterns::default(),
    )
    .unwrap();
    assert!(plan.is_empty());
}

#[test]
fn repair_of_a_clean_history_does_nothing() {
    let applied = [row(1, "V1__a.sql")];
    assert!(
        repair::plan(
            &applied,
            &[file("V1__a.sql")],
            &InfoOptions::default(),
            &IgnorePatterns::default()
        )
        .unwrap()
        .is_empty()
    );
}
