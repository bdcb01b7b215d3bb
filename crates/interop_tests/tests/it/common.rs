//! What the Flyway tests share: a migrations directory, one configuration for both tools, and
//! the comparisons (history column by column, schema by pg_dump, info state by state).

use std::path::{Path, PathBuf};

use interop_tests::db::{self, HistoryRow};
use interop_tests::flyway::{self, FlywayConfig, InfoResult};
use interop_tests::pccdb;
use test_support::TestDatabase;

/// A migrations directory in a temporary directory.
pub struct Migrations {
    dir: tempfile::TempDir,
}

impl Migrations {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, bytes).expect("write migration");
        path
    }

    pub fn remove(&self, name: &str) {
        std::fs::remove_file(self.dir.path().join(name)).expect("remove migration");
    }
}

/// The settings both tools get for `db` and `dir`: Flyway with the session-level lock pccdb
/// always takes (`postgresql.transactional.lock=false`; Flyway's default lock, held in an open
/// transaction, makes CREATE INDEX CONCURRENTLY wait forever), everything else Flyway's defaults.
pub fn config(db: &TestDatabase, dir: &Path) -> FlywayConfig {
    db::flyway_config(db)
        .location(dir)
        .set("postgresql.transactional.lock", "false")
}

/// `pccdb <action>` with exactly the settings of `config`, read from a flyway.conf.
pub fn pccdb(action: &str, config: &FlywayConfig) -> pccdb::Run {
    pccdb::with_config(action, config, &[])
}

/// The history of a test database.
pub async fn history(db: &TestDatabase) -> Vec<HistoryRow> {
    db::history(&db.connect().await).await
}

/// Both databases hold the same history rows, column by column (all but installed_on and
/// execution_time), and the same schema.
#[track_caller]
pub fn assert_same(flyway: &[HistoryRow], pccdb: &[HistoryRow], flyway_db: &TestDatabase, pccdb_db: &TestDatabase) {
    let rows = |h: &[HistoryRow]| h.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>().join("\n");
    assert_eq!(
        rows(flyway),
        rows(pccdb),
        "flyway_schema_history differs (left: real Flyway, right: pccdb)"
    );
    let (a, b) = (db::schema_dump(flyway_db.name()), db::schema_dump(pccdb_db.name()));
    if a != b {
        let diff: Vec<String> = diff_lines(&a, &b);
        panic!("the schemas differ (- real Flyway, + pccdb):\n{}", diff.join("\n"));
    }
}

/// Lines only in one of two texts (a short, order-insensitive diff for messages).
pub fn diff_lines(a: &str, b: &str) -> Vec<String> {
    let (la, lb): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    la.iter()
        .filter(|l| !lb.contains(l))
        .map(|l| format!("- {l}"))
        .chain(lb.iter().filter(|l| !la.contains(l)).map(|l| format!("+ {l}")))
        .collect()
}

/// One line of `info` as both tools report it.
pub type InfoLine = (Option<String>, String, String, String, Option<i32>, String);

/// Flyway's `info`, as comparable lines.
pub fn flyway_lines(info: &InfoResult) -> Vec<InfoLine> {
    info.migrations
        .iter()
        .map(|m| {
            (
                m.version.clone(),
                m.description.clone(),
                m.kind.clone(),
                m.script.clone(),
                m.checksum,
                m.state.clone(),
            )
        })
        .collect()
}

/// pccdb's `info` (its JSON), as comparable lines.
pub fn pccdb_lines(config: &FlywayConfig) -> Vec<InfoLine> {
    let run = pccdb::with_config("info", config, &["--output", "json"]).expect(0);
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    run.json()["migrations"]
        .as_array()
        .expect("migrations")
        .iter()
        .map(|m| {
            (
                text(&m["version"]),
                text(&m["description"]).unwrap_or_default(),
                text(&m["type"]).unwrap_or_default(),
                text(&m["script"]).unwrap_or_default(),
                m["checksum"].as_i64().map(|c| i32::try_from(c).expect("i32")),
                text(&m["state"]).unwrap_or_default(),
            )
        })
        .collect()
}

/// Flyway's and pccdb's `info` on one database show the same migrations in the same states.
pub async fn assert_same_info(config: &FlywayConfig) -> Vec<InfoLine> {
    let theirs = flyway_lines(&flyway::info(config).await.expect("flyway info"));
    let ours = pccdb_lines(config);
    assert_eq!(theirs, ours, "info differs (left: real Flyway, right: pccdb)");
    theirs
}

/// Real Flyway's `validate` finds nothing.
pub async fn assert_flyway_valid(config: &FlywayConfig) {
    let result = flyway::validate(config).await.expect("flyway validate");
    assert!(
        result.valid,
        "real Flyway's validate found: {:?}",
        result.invalid_migrations
    );
}

/// `pccdb --output json <action>` with the settings of `config`; exits 0; its JSON document.
pub fn pccdb_json(action: &str, config: &FlywayConfig) -> serde_json::Value {
    pccdb::with_config(action, config, &["--output", "json"])
        .expect(0)
        .json()
}
