//! Applying one migration (or a group, or a callback) and writing its history row.
//!
//! Transactional: `BEGIN; <reset role/search_path, start the clock>; <beforeEachMigrate>;
//! statements (with statement callbacks); <afterEachMigrate>; INSERT history row; COMMIT`, all
//! pipelined, so the migration and its row commit together or not at all; a crash at any
//! instant leaves neither. Non-transactional (CREATE INDEX CONCURRENTLY, VACUUM, ...): a
//! `success = false` row is written first and turned into success at the end, so a failure or
//! a crash half way leaves a Failed row that blocks later runs until `repair`, as Flyway does
//! for failed non-transactional migrations; statements run one at a time.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio_postgres::types::{ToSql, Type};

use super::history::{HistoryTable, NewRow};
use super::pipeline::{BatchFailure, Op, run};
use super::session::Session;
use crate::callback::Event;
use crate::error::{Error, ServerError, StatementFailure, driver_error_text};
use crate::resolve::{ResolvedCallback, ScriptContext};
use crate::sql::script::Script;
use crate::sql::split::Statement;

/// The callbacks of a run, by event, parsed and checked before anything runs.
#[derive(Debug, Default)]
pub struct Callbacks<'r> {
    by_event: BTreeMap<Event, Vec<(&'r ResolvedCallback, Script)>>,
}

impl<'r> Callbacks<'r> {
    /// Parses the supported callbacks.
    ///
    /// # Errors
    /// [`Error::Script`] for the first callback that cannot be run.
    pub fn new(callbacks: &'r [ResolvedCallback], context: &ScriptContext) -> Result<Self, Error> {
        let mut by_event: BTreeMap<Event, Vec<_>> = BTreeMap::new();
        for c in callbacks.iter().filter(|c| c.event.is_supported()) {
            by_event
                .entry(c.event)
                .or_default()
                .push((c, context.callback_script(c)?));
        }
        Ok(Self { by_event })
    }

    fn of(&self, event: Event) -> &[(&'r ResolvedCallback, Script)] {
        self.by_event.get(&event).map_or(&[], Vec::as_slice)
    }
}

/// A migration about to be applied.
#[derive(Debug)]
pub struct Unit<'a> {
    /// The script to run.
    pub script: &'a Script,
    /// Its history row.
    pub row: NewRow,
}

/// Where an operation of a batch comes from (for error messages).
#[derive(Clone, Copy)]
enum Origin<'a> {
    Engine(&'static str),
    Stmt(&'a str, &'a Statement),
}

struct Batch<'a> {
    ops: Vec<Op<'a>>,
    origins: Vec<Origin<'a>>,
}

impl<'a> Batch<'a> {
    fn new() -> Self {
        Self {
            ops: Vec::new(),
            origins: Vec::new(),
        }
    }

    fn engine(&mut self, sql: &'a str, what: &'static str) {
        self.ops.push(Op::Sql(sql));
        self.origins.push(Origin::Engine(what));
    }

    fn script(&mut self, name: &'a str, script: &'a Script, around: Option<&'a Callbacks<'a>>) {
        for stmt in &script.statements {
            if let Some(cb) = around {
                self.callbacks(cb, Event::BeforeEachMigrateStatement);
            }
            self.ops.push(Op::Stmt(stmt));
            self.origins.push(Origin::Stmt(name, stmt));
            if let Some(cb) = around {
                self.callbacks(cb, Event::AfterEachMigrateStatement);
            }
        }
    }

    fn callbacks(&mut self, cb: &'a Callbacks<'a>, event: Event) {
        for (c, script) in cb.of(event) {
            self.script(&c.script, script, None);
        }
    }
}

/// Runs operations one at a time, stopping at the first failure (outside a transaction,
/// pipelining would run the statements after a failed one).
async fn run_each(client: &tokio_postgres::Client, ops: &[Op<'_>]) -> Result<(), BatchFailure> {
    for (i, op) in ops.iter().enumerate() {
        run(client, std::slice::from_ref(op)).await.map_err(|mut failure| {
            failure.index = i;
            failure.sent = i + 1;
            failure
        })?;
    }
    Ok(())
}

/// Applies migrations for one session.
pub struct Applier<'a> {
    session: &'a Session<'a>,
    callbacks: &'a Callbacks<'a>,
    insert_timed: Option<tokio_postgres::Statement>,
    insert_plain: String,
    finish_sql: String,
    reset_tx: String,
    reset_plain: String,
}

/// Insert parameters without the execution time (the server computes it).
fn timed_params(row: &NewRow) -> Vec<&(dyn ToSql + Sync)> {
    let mut p: Vec<&(dyn ToSql + Sync)> = row.params().into_iter().map(|(v, _)| v).collect();
    p.remove(7);
    p
}

impl<'a> Applier<'a> {
    /// An applier that runs callbacks (and migrations once [`Applier::prepare`]d).
    pub fn new(session: &'a Session<'a>, callbacks: &'a Callbacks<'a>) -> Self {
        let history: &HistoryTable = &session.history;
        let reset = session.reset_sql();
        Self {
            session,
            callbacks,
            insert_timed: None,
            insert_plain: history.insert_sql(false),
            finish_sql: format!(
                "UPDATE {} SET \"success\" = $2, \"execution_time\" = $3 WHERE \"installed_rank\" = $1",
                history.qualified()
            ),
            reset_tx: format!("{reset}, set_config('pccdb.started', clock_timestamp()::text, true)"),
            reset_plain: reset,
        }
    }

    /// Prepares the history insert once for the run (the table must exist).
    ///
    /// # Errors
    /// [`Error::Db`] when the server refuses.
    pub async fn prepare(mut self) -> Result<Self, Error> {
        let sql = self.session.history.insert_sql(true);
        let types = HistoryTable::insert_types(true);
        let statement = self
            .session
            .client
            .prepare_typed(&sql, &types)
            .await
            .map_err(|e| Error::db("preparing the history insert", e))?;
        self.insert_timed = Some(statement);
        Ok(self)
    }

    fn failure(&self, batch: &Batch<'_>, failure: &BatchFailure, owner: &NewRow, transactional: bool) -> Error {
        let server = ServerError::from_driver(&failure.error);
        let (script, line, statement) = match batch.origins[failure.index] {
            Origin::Stmt(name, stmt) => {
                let line = server
                    .as_ref()
                    .and_then(|s| s.position)
                    .map_or(stmt.line, |p| stmt.line_of_position(p));
                let first = stmt
                    .text
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .chars()
                    .take(120)
                    .collect();
                (name.to_owned(), Some(line), first)
            }
            Origin::Engine(what) => (owner.script.clone(), None, what.to_owned()),
        };
        let version = if script == owner.script {
            owner.version.clone()
        } else {
            None
        };
        Error::Statement(Box::new(StatementFailure {
            script,
            version,
            line,
            statement,
            error: driver_error_text(&failure.error),
            code: server.map(|s| s.code),
            transactional,
        }))
    }

    /// Applies migrations in one transaction (one, or a whole `group`).
    ///
    /// # Errors
    /// [`Error::Statement`] naming the file and line of the first failure; nothing was applied.
    pub async fn apply_in_transaction(&self, units: &[Unit<'_>]) -> Result<Duration, Error> {
        let started = Instant::now();
        let mut batch = Batch::new();
        batch.engine("BEGIN", "BEGIN");
        let each = Some(self.callbacks);
        let insert = self
            .insert_timed
            .as_ref()
            .expect("Applier::prepare ran before applying");
        let param_lists: Vec<_> = units.iter().map(|u| timed_params(&u.row)).collect();
        for (unit, p) in units.iter().zip(param_lists) {
            batch.engine(&self.reset_tx, "resetting role and search_path");
            batch.callbacks(self.callbacks, Event::BeforeEachMigrate);
            batch.script(&unit.row.script, unit.script, each);
            batch.callbacks(self.callbacks, Event::AfterEachMigrate);
            batch.ops.push(Op::Prepared(insert, p));
            batch.origins.push(Origin::Engine("writing the schema history row"));
        }
        batch.engine("COMMIT", "COMMIT");
        if let Err(failure) = run(self.session.client, &batch.ops).await {
            if failure.sent < batch.ops.len() {
                // The pipelined COMMIT was not sent: the failed transaction is still open.
                let _ = self.session.client.batch_execute("ROLLBACK").await;
            }
            let owner = units
                .iter()
                .rev()
                .find(|u| self.owns(&batch, failure.index, u))
                .unwrap_or(&units[0]);
            let error = self.failure(&batch, &failure, &owner.row, true);
            self.error_callbacks(Event::AfterEachMigrateError).await;
            return Err(error);
        }
        Ok(started.elapsed())
    }

    /// Applies consecutive migrations, each in its own transaction, all pipelined together.
    ///
    /// Every transaction after the first starts with a guard that fails unless the previous
    /// migration's history row is committed (`1 / count(*)` divides by zero otherwise). So when
    /// migration k fails, its pipelined COMMIT becomes a ROLLBACK, and every later transaction
    /// aborts at its guard: exactly migrations 0..k are applied, as if sent one by one.
    ///
    /// # Errors
    /// The index of the failed migration (all before it are committed) and the failure.
    pub async fn apply_chain(&self, units: &[Unit<'_>]) -> Result<Duration, (usize, Error)> {
        let started = Instant::now();
        let insert = self
            .insert_timed
            .as_ref()
            .expect("Applier::prepare ran before applying");
        let table = self.session.history.qualified();
        let guards: Vec<String> = units
            .iter()
            .map(|u| {
                format!(
                    "SELECT 1 / count(*) FROM {table} WHERE \"installed_rank\" = {}",
                    u.row.rank
                )
            })
            .collect();
        let param_lists: Vec<_> = units.iter().map(|u| timed_params(&u.row)).collect();
        let mut batch = Batch::new();
        let mut owner_of_op = Vec::new();
        for (k, (unit, p)) in units.iter().zip(param_lists).enumerate() {
            batch.engine("BEGIN", "BEGIN");
            if k > 0 {
                batch.engine(&guards[k - 1], "checking that the previous migration committed");
            }
            batch.engine(&self.reset_tx, "resetting role and search_path");
            batch.callbacks(self.callbacks, Event::BeforeEachMigrate);
            batch.script(&unit.row.script, unit.script, Some(self.callbacks));
            batch.callbacks(self.callbacks, Event::AfterEachMigrate);
            batch.ops.push(Op::Prepared(insert, p));
            batch.origins.push(Origin::Engine("writing the schema history row"));
            batch.engine("COMMIT", "COMMIT");
            owner_of_op.resize(batch.ops.len(), k);
        }
        if let Err(failure) = run(self.session.client, &batch.ops).await {
            // Harmless when no transaction is open (a warning); needed when the failure came
            // before a COMMIT was sent (a COPY splits the pipeline).
            let _ = self.session.client.batch_execute("ROLLBACK").await;
            let k = owner_of_op[failure.index];
            let error = self.failure(&batch, &failure, &units[k].row, true);
            self.error_callbacks(Event::AfterEachMigrateError).await;
            return Err((k, error));
        }
        Ok(started.elapsed())
    }

    fn owns(&self, batch: &Batch<'_>, index: usize, unit: &Unit<'_>) -> bool {
        batch.origins[..=index]
            .iter()
            .any(|o| matches!(o, Origin::Stmt(name, _) if *name == unit.row.script))
    }

    /// Applies one migration outside a transaction, statement by statement.
    ///
    /// # Errors
    /// [`Error::Statement`] naming the file and line of the failure; its row stays Failed.
    pub async fn apply_outside_transaction(&self, unit: &Unit<'_>) -> Result<Duration, Error> {
        let client = self.session.client;
        let started = Instant::now();
        let pending = NewRow {
            success: false,
            execution_time: 0,
            ..unit.row.clone()
        };
        let mut prologue = Batch::new();
        prologue.engine(&self.reset_plain, "resetting role and search_path");
        prologue.ops.push(Op::Params(&self.insert_plain, pending.params()));
        prologue.origins.push(Origin::Engine("writing the schema history row"));
        // One at a time: outside a transaction nothing would stop the insert after a failed
        // reset, and a Failed row for a migration that never started would mislead.
        if let Err(failure) = run_each(client, &prologue.ops).await {
            return Err(self.failure(&prologue, &failure, &unit.row, false));
        }
        let mut batch = Batch::new();
        batch.callbacks(self.callbacks, Event::BeforeEachMigrate);
        batch.script(&unit.row.script, unit.script, Some(self.callbacks));
        batch.callbacks(self.callbacks, Event::AfterEachMigrate);
        if let Err(failure) = run_each(client, &batch.ops).await {
            let error = self.failure(&batch, &failure, &unit.row, false);
            let _ = self.finish(&unit.row, false, started.elapsed()).await;
            self.error_callbacks(Event::AfterEachMigrateError).await;
            return Err(error);
        }
        self.finish(&unit.row, true, started.elapsed()).await?;
        Ok(started.elapsed())
    }

    async fn finish(&self, row: &NewRow, success: bool, elapsed: Duration) -> Result<(), Error> {
        let millis = i32::try_from(elapsed.as_millis()).unwrap_or(i32::MAX);
        self.session
            .client
            .execute_typed(
                &self.finish_sql,
                &[(&row.rank, Type::INT4), (&success, Type::BOOL), (&millis, Type::INT4)],
            )
            .await
            .map_err(|e| Error::db(&format!("recording the outcome of {}", row.script), e))?;
        Ok(())
    }

    /// Runs the callbacks of `event`, each as a script of its own.
    ///
    /// # Errors
    /// [`Error::Statement`] naming the callback file and line.
    pub async fn callback(&self, event: Event) -> Result<(), Error> {
        for (c, script) in self.callbacks.of(event) {
            let owner = NewRow {
                rank: 0,
                version: None,
                description: c.description.clone(),
                kind: "CALLBACK".into(),
                script: c.script.clone(),
                checksum: None,
                installed_by: String::new(),
                execution_time: 0,
                success: true,
            };
            let mut batch = Batch::new();
            if script.transactional {
                batch.engine("BEGIN", "BEGIN");
            }
            batch.engine(&self.reset_plain, "resetting role and search_path");
            batch.script(&c.script, script, None);
            if script.transactional {
                batch.engine("COMMIT", "COMMIT");
                if let Err(failure) = run(self.session.client, &batch.ops).await {
                    if failure.sent < batch.ops.len() {
                        let _ = self.session.client.batch_execute("ROLLBACK").await;
                    }
                    return Err(self.failure(&batch, &failure, &owner, true));
                }
            } else {
                if let Err(failure) = run_each(self.session.client, &batch.ops).await {
                    return Err(self.failure(&batch, &failure, &owner, false));
                }
            }
        }
        Ok(())
    }

    /// Runs error callbacks; their own failures cannot hide the original error, so they are
    /// only logged.
    pub async fn error_callbacks(&self, event: Event) {
        if let Err(e) = self.callback(event).await {
            tracing::warn!(event = %event, error = %e, "error callback failed");
        }
    }
}
