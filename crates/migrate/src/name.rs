//! File names of migrations and callbacks, parsed exactly as Flyway's `ResourceNameParser` does,
//! plus the description/script abbreviations Flyway applies before writing history rows.
//!
//! `V<version>__<description>.sql`, `R__<description>.sql`, `B<version>__<description>.sql`,
//! `U<version>__<description>.sql` (undo; recognised, never run) and `<event>[__<description>].sql`.
//! The prefix is matched case-sensitively, longest prefix first; the suffix case-insensitively;
//! the name is split at the first separator; every `_` in the description becomes a space.

use crate::callback::Event;
use crate::version::MigrationVersion;

/// The file-name conventions (Flyway's `sqlMigrationPrefix`, `sqlMigrationSeparator`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamingConfig {
    /// Prefix of versioned migrations (`V`).
    pub versioned_prefix: String,
    /// Prefix of repeatable migrations (`R`).
    pub repeatable_prefix: String,
    /// Prefix of baseline migrations (`B`).
    pub baseline_prefix: String,
    /// Prefix of undo migrations (`U`).
    pub undo_prefix: String,
    /// Separator between version and description (`__`).
    pub separator: String,
    /// File suffixes (`.sql`), compared case-insensitively.
    pub suffixes: Vec<String>,
}

impl Default for NamingConfig {
    fn default() -> Self {
        Self {
            versioned_prefix: "V".into(),
            repeatable_prefix: "R".into(),
            baseline_prefix: "B".into(),
            undo_prefix: "U".into(),
            separator: "__".into(),
            suffixes: vec![".sql".into()],
        }
    }
}

/// What kind of migration a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MigrationKind {
    /// `V`: applied once, in version order.
    Versioned,
    /// `B`: a baseline of all versions up to its own, applied only to an empty history.
    Baseline,
    /// `U`: an undo migration (Flyway Teams); shown as "Undoable", never run.
    Undo,
    /// `R`: re-applied whenever its checksum changes.
    Repeatable,
}

impl MigrationKind {
    /// The history table's `type` for this kind of SQL migration.
    pub fn history_type(self) -> &'static str {
        match self {
            Self::Versioned | Self::Repeatable => "SQL",
            Self::Baseline => "SQL_BASELINE",
            Self::Undo => "UNDO_SQL",
        }
    }
}

/// The outcome of parsing one file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedName {
    /// A migration file.
    Migration {
        /// Versioned, baseline, undo or repeatable.
        kind: MigrationKind,
        /// The version (`None` for repeatables).
        version: Option<MigrationVersion>,
        /// The description with `_` turned into spaces.
        description: String,
    },
    /// A callback file.
    Callback {
        /// The event it belongs to.
        event: Event,
        /// The description (may be empty).
        description: String,
    },
    /// A name that starts like a migration but breaks the rules; Flyway ignores these unless
    /// `validateMigrationNaming` is on, so the resolver reports them as warnings.
    Invalid(String),
}

enum Prefix {
    Kind(MigrationKind),
    Callback(Event),
}

/// Returns the file name without a configured suffix, or `None` when no suffix matches.
pub fn strip_suffix<'a>(file_name: &'a str, naming: &NamingConfig) -> Option<(&'a str, &'a str)> {
    naming.suffixes.iter().find_map(|suffix| {
        let cut = file_name.len().checked_sub(suffix.len())?;
        let tail = file_name.get(cut..)?;
        tail.eq_ignore_ascii_case(suffix).then(|| (&file_name[..cut], tail))
    })
}

/// Parses a file name (not a path) that ends with one of the configured suffixes.
/// Returns `None` for files without a suffix or with no recognised prefix ("not a migration").
pub fn parse_file_name(file_name: &str, naming: &NamingConfig) -> Option<ParsedName> {
    let (stem, suffix) = strip_suffix(file_name, naming)?;
    let mut prefixes: Vec<(&str, Prefix)> = vec![
        (&naming.versioned_prefix, Prefix::Kind(MigrationKind::Versioned)),
        (&naming.baseline_prefix, Prefix::Kind(MigrationKind::Baseline)),
        (&naming.undo_prefix, Prefix::Kind(MigrationKind::Undo)),
        (&naming.repeatable_prefix, Prefix::Kind(MigrationKind::Repeatable)),
    ];
    prefixes.extend(Event::ALL.iter().map(|e| (e.id(), Prefix::Callback(*e))));
    // Hardest to match first, as Flyway does: descending prefix length (stable).
    prefixes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    let (prefix, what) = prefixes
        .into_iter()
        .find(|(p, _)| !p.is_empty() && stem.starts_with(p))?;
    let rest = &stem[prefix.len()..];
    let (before, after) = match rest.find(naming.separator.as_str()) {
        Some(at) => (&rest[..at], &rest[at + naming.separator.len()..]),
        None => (rest, ""),
    };
    let description = after.replace('_', " ");
    let example = if after.is_empty() { "description" } else { after };
    let sep = &naming.separator;
    Some(match what {
        Prefix::Kind(MigrationKind::Repeatable) | Prefix::Callback(_) if !before.is_empty() => {
            ParsedName::Invalid(format!(
                "invalid repeatable migration / callback name format: {file_name} \
                 (it cannot contain a version and should look like this: {prefix}{sep}{example}{suffix})"
            ))
        }
        Prefix::Kind(MigrationKind::Repeatable) => ParsedName::Migration {
            kind: MigrationKind::Repeatable,
            version: None,
            description,
        },
        Prefix::Callback(event) => ParsedName::Callback { event, description },
        Prefix::Kind(_) if before.is_empty() => ParsedName::Invalid(format!(
            "invalid versioned migration name format: {file_name} \
             (it must contain a version and should look like this: {prefix}1.2{sep}{example}{suffix})"
        )),
        Prefix::Kind(kind) => match MigrationVersion::parse(before) {
            Ok(version) => ParsedName::Migration {
                kind,
                version: Some(version),
                description,
            },
            Err(_) => ParsedName::Invalid(format!(
                "invalid versioned migration name format: {file_name} (could not recognise version number {before})"
            )),
        },
    })
}

/// Flyway's `AbbreviationUtils.abbreviateDescription`: at most 200 characters, else 197 + `...`.
pub fn abbreviate_description(description: &str) -> String {
    if description.chars().count() <= 200 {
        return description.to_owned();
    }
    let mut short: String = description.chars().take(197).collect();
    short.push_str("...");
    short
}

/// Flyway's `AbbreviationUtils.abbreviateScript`: at most 1000 characters, else `...` + the last 997.
pub fn abbreviate_script(script: &str) -> String {
    let count = script.chars().count();
    if count <= 1000 {
        return script.to_owned();
    }
    let mut short = String::from("...");
    short.extend(script.chars().skip(count - 997));
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str) -> Option<ParsedName> {
        parse_file_name(name, &NamingConfig::default())
    }

    fn migration(kind: MigrationKind, version: Option<&str>, description: &str) -> Option<ParsedName> {
        Some(ParsedName::Migration {
            kind,
            version: version.map(|v| MigrationVersion::parse(v).unwrap()),
            description: description.into(),
        })
    }

    #[test]
    fn versioned_names_split_at_the_first_separator() {
        assert_eq!(
            parse("V1_1__add_users.sql"),
            migration(MigrationKind::Versioned, Some("1.1"), "add users")
        );
        assert_eq!(
            parse("V2__a__b.sql"),
            migration(MigrationKind::Versioned, Some("2"), "a  b")
        );
    }

    #[test]
    fn a_versioned_name_without_description_is_valid() {
        assert_eq!(parse("V2.sql"), migration(MigrationKind::Versioned, Some("2"), ""));
    }

    #[test]
    fn the_suffix_is_case_insensitive_and_the_prefix_is_not() {
        assert_eq!(parse("V3__x.SQL"), migration(MigrationKind::Versioned, Some("3"), "x"));
        assert_eq!(parse("v3__x.sql"), None);
    }

    #[test]
    fn files_without_a_suffix_are_not_migrations() {
        assert_eq!(parse("V1__x.sql.conf"), None);
        assert_eq!(parse("README.md"), None);
        assert_eq!(parse("create_tables.sql"), None);
    }

    #[test]
    fn repeatable_baseline_and_undo_names_parse() {
        assert_eq!(
            parse("R__views.sql"),
            migration(MigrationKind::Repeatable, None, "views")
        );
        assert_eq!(
            parse("B5__snapshot.sql"),
            migration(MigrationKind::Baseline, Some("5"), "snapshot")
        );
        assert_eq!(parse("U5__drop.sql"), migration(MigrationKind::Undo, Some("5"), "drop"));
    }

    #[test]
    fn a_repeatable_with_a_version_is_invalid() {
        assert!(matches!(parse("R1__views.sql"), Some(ParsedName::Invalid(m)) if m.contains("R__views.sql")));
    }

    #[test]
    fn a_bad_version_is_invalid_and_named() {
        assert!(matches!(parse("V1a__x.sql"), Some(ParsedName::Invalid(m)) if m.contains("version number 1a")));
        assert!(matches!(parse("V__x.sql"), Some(ParsedName::Invalid(m)) if m.contains("must contain a version")));
        assert!(matches!(parse("Version_notes.sql"), Some(ParsedName::Invalid(_))));
    }

    #[test]
    fn callbacks_take_the_longest_matching_event_name() {
        assert_eq!(
            parse("afterMigrateApplied.sql"),
            Some(ParsedName::Callback {
                event: Event::AfterMigrateApplied,
                description: String::new()
            })
        );
        assert_eq!(
            parse("beforeEachMigrate__grants.sql"),
            Some(ParsedName::Callback {
                event: Event::BeforeEachMigrate,
                description: "grants".into()
            })
        );
        assert!(matches!(parse("beforeMigrateX.sql"), Some(ParsedName::Invalid(_))));
    }

    #[test]
    fn custom_naming_is_honoured() {
        let naming = NamingConfig {
            versioned_prefix: "M".into(),
            separator: "-".into(),
            suffixes: vec![".pgsql".into(), ".sql".into()],
            ..NamingConfig::default()
        };
        assert_eq!(
            parse_file_name("M7-seven_up.pgsql", &naming),
            migration(MigrationKind::Versioned, Some("7"), "seven up")
        );
    }

    #[test]
    fn descriptions_longer_than_200_characters_are_abbreviated() {
        let long = "é".repeat(250);
        let short = abbreviate_description(&long);
        assert_eq!(short.chars().count(), 200);
        assert!(short.ends_with("..."));
        assert_eq!(abbreviate_description(&"x".repeat(200)), "x".repeat(200));
    }

    #[test]
    fn scripts_longer_than_1000_characters_keep_their_tail() {
        let long = format!("{}V1__x.sql", "d/".repeat(600));
        let short = abbreviate_script(&long);
        assert_eq!(short.chars().count(), 1000);
        assert!(short.starts_with("...") && short.ends_with("V1__x.sql"));
    }

    #[test]
    fn history_types_match_flyway() {
        assert_eq!(MigrationKind::Versioned.history_type(), "SQL");
        assert_eq!(MigrationKind::Repeatable.history_type(), "SQL");
        assert_eq!(MigrationKind::Baseline.history_type(), "SQL_BASELINE");
    }
}
