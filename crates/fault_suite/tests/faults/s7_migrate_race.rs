//! Scenario 7: four `pccdb migrate --env --service` runs start at once on a fresh database, and
//! the one doing the work is killed with SIGKILL in the middle of the migration set. To make "the
//! middle" certain rather than lucky (the whole set applies in about 0.3 s), a separate session
//! locks a table that V2 creates as soon as it exists, so the run blocks at V7 (whose foreign key
//! needs that table) with V1-V6 committed; the runner holding the migration lock is found through
//! its session's client port and killed; then the table lock is released.
//! Guarantees: the other runs finish successfully, a rerun succeeds, and the history is
//! consistent: every file applied exactly once, successfully, with the checksum of the file.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fault_suite::binaries::workspace_root;
use fault_suite::platform::SERVICE;
use fault_suite::{PlatformOptions, Report};

use crate::common::{finish, secs};

const RUNS: usize = 4;
/// V2 creates it; V7's foreign key locks it.
const BLOCKING_TABLE: &str = "client_api.contact_role";

/// The migration files and their checksums, keyed by script name.
fn files() -> BTreeMap<String, i32> {
    let dir = workspace_root().join("migrations").join("client_api");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let bytes = std::fs::read(entry.path()).ok()?;
            let sum = migrate::checksum::checksum_bytes(&bytes).ok()?;
            name.ends_with(".sql").then_some((name, sum))
        })
        .collect()
}

#[tokio::test]
async fn s7_concurrent_migrations_and_a_kill() {
    let mut report = Report::new(
        "s7_migrate_race",
        "four concurrent pccdb migrate runs, one killed with -9",
    );
    let platform = fault_suite::Platform::start(PlatformOptions {
        migrate: false,
        ..PlatformOptions::default()
    })
    .await;
    report.measured(
        "setup_s",
        platform
            .setup
            .iter()
            .map(|(k, d)| (*k, secs(*d)))
            .collect::<BTreeMap<_, _>>(),
    );
    let observer = platform.service_db().await;
    let locker = platform.service_db().await;

    let started = Instant::now();
    let mut children: Vec<tokio::process::Child> = (0..RUNS)
        .map(|_| {
            platform
                .pccdb_command(&["migrate", "--service", SERVICE])
                .spawn()
                .unwrap_or_else(|e| panic!("starting pccdb: {e}"))
        })
        .collect();
    report.injected(format!(
        "{RUNS} × `pccdb migrate --env fault --service {SERVICE}` started together"
    ));

    // Lock the table as soon as V2 has committed it: a server-side loop (a fresh snapshot per
    // statement, a millisecond apart) reacts well within the ~50 ms V3-V6 take.
    locker
        .batch_execute(&format!(
            "BEGIN; DO $$ DECLARE deadline timestamptz := clock_timestamp() + interval '60 s'; BEGIN \
               WHILE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                                 WHERE n.nspname = 'client_api' AND c.relname = '{table}') LOOP \
                 IF clock_timestamp() > deadline THEN RAISE EXCEPTION 'V2 never created {table}'; END IF; \
                 PERFORM pg_catalog.pg_sleep(0.001); \
               END LOOP; \
               LOCK TABLE {BLOCKING_TABLE} IN ACCESS EXCLUSIVE MODE; \
             END $$",
            table = BLOCKING_TABLE.trim_start_matches("client_api.")
        ))
        .await
        .unwrap_or_else(|e| panic!("locking {BLOCKING_TABLE}: {e}"));
    report.injected(format!(
        "{BLOCKING_TABLE} locked by another session {:.3}s after the start, holding the migration in the middle",
        started.elapsed().as_secs_f64()
    ));
    // The run that holds the migration lock (the only one working) is now waiting on ours.
    let (backend, port, query): (i32, i32, String) =
        test_support::eventually("the working run blocks on the table lock", Duration::from_secs(30), || async {
            let row = observer
                .query_opt(
                    "SELECT a.pid, a.client_port, left(a.query, 60) FROM pg_stat_activity a \
                     WHERE a.application_name LIKE 'pccdb-migrate%' AND a.wait_event_type = 'Lock' \
                       AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted)",
                    &[],
                )
                .await
                .ok()??;
            Some((row.get(0), row.get(1), row.get(2)))
        })
        .await;
    let applied_at_kill: i64 = observer
        .query_one(
            "SELECT count(*) FROM client_api.flyway_schema_history WHERE success",
            &[],
        )
        .await
        .map_or(-1, |r| r.get(0));
    let pids: Vec<u32> = children.iter().filter_map(tokio::process::Child::id).collect();
    let port = u16::try_from(port).unwrap_or_else(|_| panic!("client port {port}"));
    let victim_pid = fault_suite::procnet::pid_with_local_port(&pids, port)
        .unwrap_or_else(|| panic!("no pccdb process owns the connection from port {port}"));
    let victim = children
        .iter()
        .position(|c| c.id() == Some(victim_pid))
        .unwrap_or_else(|| unreachable!("found among the children"));
    let mut killed = children.remove(victim);
    killed.start_kill().unwrap_or_else(|e| panic!("kill -9 pccdb: {e}"));
    let killed_status = killed.wait().await.ok();
    report.injected(format!(
        "kill -9 of the run holding the migration lock (pid {victim_pid}, backend {backend}) with {applied_at_kill} migrations committed, its session waiting in `{query}`"
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    locker
        .batch_execute("ROLLBACK")
        .await
        .unwrap_or_else(|e| panic!("releasing the lock: {e}"));
    report.injected("table lock released");

    let mut exits = Vec::new();
    for child in children {
        let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("a migration run hung"))
            .unwrap_or_else(|e| panic!("waiting for pccdb: {e}"));
        exits.push((
            out.status.code(),
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .last()
                .unwrap_or_default()
                .to_owned(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or_default()
                .to_owned(),
        ));
    }
    let rerun = platform.migrate().await;
    let validate = platform.pccdb(&["validate", "--service", SERVICE], None).await;

    let history = observer
        .query(
            "SELECT script, count(*), bool_and(success), min(checksum), max(checksum) \
             FROM client_api.flyway_schema_history GROUP BY script",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("reading the history: {e}"));
    let rows: BTreeMap<String, (i64, bool, Option<i32>, Option<i32>)> = history
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2), r.get(3), r.get(4))))
        .collect();
    let files = files();

    report.measured("killed_exit", killed_status.map(|s| s.to_string()));
    report.measured("migrations_committed_at_kill", applied_at_kill);
    report.measured(
        "other_runs",
        exits
            .iter()
            .map(|(c, o, _)| format!("exit {c:?}: {o}"))
            .collect::<Vec<_>>(),
    );
    report.measured(
        "rerun",
        format!(
            "exit {:?}: {}",
            rerun.code,
            rerun.stdout.lines().last().unwrap_or_default()
        ),
    );
    report.measured("history_rows", rows.values().map(|r| r.0).sum::<i64>());
    report.measured("files", files.len());

    report.check(
        "the kill landed in the middle",
        applied_at_kill > 0 && usize::try_from(applied_at_kill).unwrap_or(usize::MAX) < files.len(),
        format!(
            "{applied_at_kill} of {} files committed when the working run was killed",
            files.len()
        ),
    );
    report.check(
        "the other runs succeed",
        exits.iter().all(|(code, _, _)| *code == Some(0)),
        format!("{exits:?}"),
    );
    report.check(
        "a rerun succeeds and validation finds nothing",
        rerun.code == Some(0) && validate.code == Some(0),
        format!(
            "migrate exit {:?}, validate exit {:?}: {}",
            rerun.code,
            validate.code,
            validate
                .stdout
                .lines()
                .chain(validate.stderr.lines())
                .last()
                .unwrap_or_default()
        ),
    );
    let mut problems = Vec::new();
    for (script, sum) in &files {
        match rows.get(script) {
            None => problems.push(format!("{script}: not applied")),
            Some((count, success, low, high)) => {
                if *count != 1 || !success {
                    problems.push(format!("{script}: {count} rows, success {success}"));
                }
                if *low != Some(*sum) || *high != Some(*sum) {
                    problems.push(format!("{script}: checksum {low:?}/{high:?}, file {sum}"));
                }
            }
        }
    }
    for script in rows.keys().filter(|s| !files.contains_key(*s)) {
        problems.push(format!("{script}: in the history but not a file"));
    }
    report.check(
        "every file applied exactly once, successfully, with the file's checksum",
        problems.is_empty(),
        format!(
            "{} files, {} history rows; {problems:?}",
            files.len(),
            rows.values().map(|r| r.0).sum::<i64>()
        ),
    );
    finish(&report);
}
