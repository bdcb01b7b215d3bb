//! What the migration commands print: Flyway-style sentences and the `info` table for people,
//! one JSON document (with `operation`) for scripts, and a progress bar on a terminal.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::manifest_args::print_json;
use crate::outcome::Outcome;

/// A report with the name of the operation that produced it.
#[derive(Serialize)]
struct Document<'a, T: Serialize> {
    operation: &'a str,
    #[serde(flatten)]
    report: &'a T,
}

fn json<T: Serialize>(operation: &str, report: &T) -> anyhow::Result<()> {
    print_json(&Document { operation, report })
}

/// Shows migrate's progress: a bar on a terminal, a line per migration otherwise, nothing for JSON.
pub struct Progress {
    bar: Option<ProgressBar>,
    lines: bool,
}

impl Progress {
    /// `bar`: draw a progress bar (stderr is a terminal and output is human).
    pub fn new(bar: bool) -> Self {
        let bar = bar.then(|| {
            let bar = ProgressBar::new(0);
            if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed_precise} {wide_msg}") {
                bar.set_style(style);
            }
            bar
        });
        Self {
            lines: bar.is_none(),
            bar,
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl migrate::Observer for Progress {
    fn progress(&self, event: migrate::Progress<'_>) {
        match event {
            migrate::Progress::WaitingForLock { holder } => {
                let line =
                    format!("waiting for the migration lock{holder}: another migrate, repair or baseline is running");
                match &self.bar {
                    Some(bar) => bar.println(line),
                    None => eprintln!("{line}"),
                }
            }
            migrate::Progress::Planned { total } => {
                if let Some(bar) = &self.bar {
                    bar.set_length(total as u64);
                }
            }
            migrate::Progress::Started { label, .. } => match &self.bar {
                Some(bar) => bar.set_message(format!("migrating to {label}")),
                None if self.lines => eprintln!("Migrating to {label}"),
                None => {}
            },
            migrate::Progress::Finished { .. } => {
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
            }
        }
    }
}

fn duration(d: Duration) -> String {
    let millis = d.as_millis();
    format!(
        "{:02}:{:02}.{:03}s",
        millis / 60_000,
        (millis / 1000) % 60,
        millis % 1000
    )
}

/// Prints the outcome of `migrate`.
///
/// # Errors
/// JSON serialization (never for these reports).
pub fn migrate(report: &migrate::MigrateReport, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return json("migrate", report);
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    println!("Database: {} (schema \"{}\")", report.database, report.schema);
    for line in &report.initialized {
        let mut chars = line.chars();
        let first: String = chars.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
        println!("{first}{}", chars.as_str());
    }
    let current = report.initial_schema_version.as_deref().unwrap_or("<< Empty Schema >>");
    println!("Current version of schema \"{}\": {current}", report.schema);
    if report.migrations.is_empty() {
        println!("Schema \"{}\" is up to date. No migration necessary.", report.schema);
        return Ok(());
    }
    let total: u64 = report.migrations.iter().map(|m| m.execution_time).sum();
    for m in &report.migrations {
        let what = m.version.as_ref().map_or_else(
            || format!("\"{}\" (repeatable)", m.description),
            |v| format!("version {v} - {}", m.description),
        );
        let notes = [
            (m.out_of_order, " [out of order]"),
            (!m.transactional, " [outside a transaction]"),
        ];
        let notes: String = notes.iter().filter(|(on, _)| *on).map(|(_, t)| *t).collect();
        println!(
            "Migrated schema \"{}\" to {what} ({} ms){notes}",
            report.schema, m.execution_time
        );
    }
    let now = report
        .target_schema_version
        .as_deref()
        .map_or_else(String::new, |v| format!(", now at version v{v}"));
    println!(
        "Successfully applied {} migration{} to schema \"{}\"{now} (execution time {})",
        report.migrations_executed,
        if report.migrations_executed == 1 { "" } else { "s" },
        report.schema,
        duration(Duration::from_millis(total))
    );
    Ok(())
}

/// Renders rows as Flyway's ASCII table (`+---+` borders, left-aligned cells).
pub fn table(header: &[&str], rows: &[Vec<String>], empty: &str) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let rule: String = widths
        .iter()
        .map(|w| format!("+{}", "-".repeat(w + 2)))
        .collect::<String>()
        + "+\n";
    let line = |cells: &[String]| -> String {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("| {c}{} ", " ".repeat(w - c.chars().count())))
            .collect::<String>()
            + "|\n"
    };
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    let mut out = rule.clone() + &line(&header) + &rule;
    if rows.is_empty() {
        let inner = widths.iter().map(|w| w + 3).sum::<usize>() - 1;
        out.push_str(&format!(
            "| {empty}{} |\n",
            " ".repeat(inner.saturating_sub(empty.chars().count() + 2))
        ));
    }
    for row in rows {
        out.push_str(&line(row));
    }
    out + &rule
}

/// Prints the outcome of `info`.
///
/// # Errors
/// JSON serialization (never for these reports).
pub fn info(report: &migrate::InfoReport, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return json("info", report);
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    println!(
        "Database: {} (schema \"{}\", history {})",
        report.database, report.schema, report.table
    );
    println!(
        "Schema version: {}",
        report.schema_version.as_deref().unwrap_or("<< Empty Schema >>")
    );
    println!();
    // Like Flyway's table: undo files only show in the Undoable column (JSON lists them).
    let rows: Vec<Vec<String>> = report
        .migrations
        .iter()
        .filter(|m| m.category != "Undo")
        .map(|m| {
            vec![
                m.category.to_owned(),
                m.version.as_ref().map(ToString::to_string).unwrap_or_default(),
                m.description.clone(),
                m.kind.as_str().to_owned(),
                m.installed_on.clone().unwrap_or_default(),
                m.state.display_name().to_owned(),
                match m.undoable {
                    Some(true) => "Yes".into(),
                    Some(false) => "No".into(),
                    None => String::new(),
                },
            ]
        })
        .collect();
    let header = [
        "Category",
        "Version",
        "Description",
        "Type",
        "Installed On",
        "State",
        "Undoable",
    ];
    print!("{}", table(&header, &rows, "No migrations found"));
    Ok(())
}

/// Prints the outcome of `validate`.
///
/// # Errors
/// JSON serialization (never for these reports).
pub fn validate(report: &migrate::ValidateReport, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return json("validate", report);
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    if report.valid {
        println!(
            "Successfully validated {} migrations (schema \"{}\")",
            report.validated, report.schema
        );
    } else {
        println!(
            "Validate failed: {} problem{} in schema \"{}\":",
            report.errors.len(),
            if report.errors.len() == 1 { "" } else { "s" },
            report.schema
        );
        for e in &report.errors {
            println!("- {}", e.message.replace('\n', "\n  "));
        }
    }
    Ok(())
}

/// Prints the outcome of `repair`.
///
/// # Errors
/// JSON serialization (never for these reports).
pub fn repair(report: &migrate::RepairReport, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return json("repair", report);
    }
    let sections = [
        ("Removed failed migration", &report.removed_failed),
        ("Marked as deleted", &report.marked_deleted),
        ("Realigned checksum/description/type of", &report.realigned),
    ];
    let mut any = false;
    for (what, items) in sections {
        for item in items {
            any = true;
            println!("{what} {item}");
        }
    }
    if !any {
        println!("Repair of the schema history not necessary: no failed, missing or changed migrations.");
    } else {
        println!("Successfully repaired the schema history table.");
    }
    Ok(())
}

/// Prints the outcome of `baseline`.
///
/// # Errors
/// JSON serialization (never for these reports).
pub fn baseline(report: &migrate::BaselineReport, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return json("baseline", report);
    }
    if report.already_baselined {
        println!(
            "The schema history is already baselined with version {} ({}); nothing to do.",
            report.version, report.description
        );
    } else {
        if report.created_table {
            println!("Created the schema history table.");
        }
        println!("Successfully baselined schema with version: {}", report.version);
    }
    Ok(())
}

/// Prints the outcome of `clean`.
///
/// # Errors
/// JSON serialization (never for these reports).
pub fn clean(report: &migrate::CleanReport, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return json("clean", report);
    }
    for schema in &report.schemas_dropped {
        println!("Dropped schema \"{schema}\" (it was created by migrations)");
    }
    for schema in &report.schemas_cleaned {
        println!("Cleaned schema \"{schema}\"");
    }
    println!("Successfully cleaned ({} statements)", report.statements);
    Ok(())
}

#[derive(Serialize)]
struct ErrorDocument<'a> {
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    validation: Option<&'a [migrate::ValidationError]>,
}

/// Reports a failed command: exit 2 for validation failures, else an error (exit 1).
///
/// # Errors
/// The engine's error, for `main` to print (exit code 1).
pub fn failure(operation: &str, error: &migrate::Error, as_json: bool) -> anyhow::Result<Outcome> {
    if as_json {
        let validation = match error {
            migrate::Error::Plan(migrate::plan::PlanError::Validation(errors)) => Some(errors.as_slice()),
            _ => None,
        };
        json(
            operation,
            &serde_json::json!({ "error": ErrorDocument { message: error.to_string(), validation } }),
        )?;
    }
    if error.is_validation() {
        eprintln!("error: {error}");
        return Ok(Outcome::Findings);
    }
    Err(anyhow::anyhow!("{error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_info_table_looks_like_flyways() {
        let rows = vec![vec![
            "Versioned".to_owned(),
            "1".into(),
            "init".into(),
            "SQL".into(),
            "2026-01-02 03:04:05".into(),
            "Success".into(),
            "No".into(),
        ]];
        let header = [
            "Category",
            "Version",
            "Description",
            "Type",
            "Installed On",
            "State",
            "Undoable",
        ];
        let expected = "\
+-----------+---------+-------------+------+---------------------+---------+----------+
| Category  | Version | Description | Type | Installed On        | State   | Undoable |
+-----------+---------+-------------+------+---------------------+---------+----------+
| Versioned | 1       | init        | SQL  | 2026-01-02 03:04:05 | Success | No       |
+-----------+---------+-------------+------+---------------------+---------+----------+
";
        assert_eq!(table(&header, &rows, "No migrations found"), expected);
    }

    #[test]
    fn an_empty_table_says_so() {
        let out = table(&["A", "B"], &[], "none");
        assert!(out.contains("| none"), "{out}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[3].chars().count(), lines[0].chars().count(), "{out}");
    }

    #[test]
    fn durations_read_like_flyways() {
        assert_eq!(duration(Duration::from_millis(61_234)), "01:01.234s");
    }
}
