//! An import as a job: its row (`client_api.import_job`, V14), the representation `GET /v1/imports/{id}`
//! answers, and the task that runs it after `POST /v1/imports/clients` has answered 202.
//!
//! The task plans the rows, then runs ONE write transaction as the caller (so audit columns and the change
//! history name them and the request that sent the file) that writes every row and collects what the
//! database refused. In `apply` mode with no problem at all, the same transaction marks the job succeeded and
//! commits: the clients and the job's success become visible together. Otherwise (a `validate` run, or any
//! problem) the transaction rolls back, and a second one stores the report and the job's end. Progress
//! (`rows_done`) and the heartbeat are written by their own short transactions while the import's is open, so a
//! poller sees them; the import's transaction never touches the job row before its end, so they do not wait
//! on each other. A job whose service instance stops is failed by the sweep of `upkeep.rs`.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio_postgres::Row as DbRow;
use utoipa::ToSchema;
use uuid::Uuid;

use super::parse::Parsed;
use super::plan::plan;
use super::row::{Format, LineProblem};
use super::write::{Written, write};
use crate::db::{Db, Query as _, WriteSession};
use crate::domain::format::{timestamp, timestamp_opt};
use crate::error::{ApiError, REQUEST_ID};

/// How often a running job's heartbeat is written (the sweep fails jobs silent for much longer).
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// What an import does with the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Check every row as the database would, write nothing.
    Validate,
    /// Write every row in one transaction, or none.
    Apply,
}

impl Mode {
    /// The `mode` parameter's value.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "validate" => Some(Self::Validate),
            "apply" => Some(Self::Apply),
            _ => None,
        }
    }

    /// The name stored with the job.
    pub fn label(self) -> &'static str {
        match self {
            Self::Validate => "validate",
            Self::Apply => "apply",
        }
    }
}

/// The select list producing an [`ImportJob`] from `client_api.import_job AS j`.
pub const JOB_COLUMNS: &str = "j.id, j.state, j.mode, j.format, j.rows_total, j.rows_done, j.problem_count, \
    j.clients_created, j.failure, j.created_at, j.started_at, j.finished_at";

/// An import job as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportJob {
    /// Identifier (UUIDv7).
    pub id: Uuid,
    /// queued, validating, applying, succeeded or failed (final: succeeded, failed).
    #[schema(example = "applying")]
    pub state: String,
    /// validate or apply.
    pub mode: String,
    /// csv or ndjson.
    pub format: String,
    /// Rows in the file.
    pub rows_total: i32,
    /// Rows handled so far.
    pub rows_done: i32,
    /// Problems in the report (a failed job with 0 failed as a whole: see `failure`).
    pub problem_count: i32,
    /// Clients written (a succeeded apply only).
    pub clients_created: Option<i32>,
    /// Why the job failed as a whole, when no line is to blame.
    pub failure: Option<String>,
    /// When the file was accepted.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When the job started.
    #[schema(format = DateTime)]
    pub started_at: Option<String>,
    /// When it ended.
    #[schema(format = DateTime)]
    pub finished_at: Option<String>,
}

impl ImportJob {
    /// Maps a row whose first columns are [`JOB_COLUMNS`].
    ///
    /// # Errors
    /// A column of an unexpected type (schema drift).
    pub fn from_row(row: &DbRow) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            id: row.try_get(0)?,
            state: row.try_get(1)?,
            mode: row.try_get(2)?,
            format: row.try_get(3)?,
            rows_total: row.try_get(4)?,
            rows_done: row.try_get(5)?,
            problem_count: row.try_get(6)?,
            clients_created: row.try_get(7)?,
            failure: row.try_get(8)?,
            created_at: timestamp(row.try_get(9)?),
            started_at: timestamp_opt(row.try_get(10)?),
            finished_at: timestamp_opt(row.try_get(11)?),
        })
    }
}

/// What a job needs to be created and run.
#[derive(Debug)]
pub struct NewJob {
    /// Its id.
    pub id: Uuid,
    /// Who sent the file.
    pub principal: String,
    /// The request that sent it.
    pub request_id: String,
    /// What to do.
    pub mode: Mode,
    /// The file's format.
    pub format: Format,
}

impl NewJob {
    /// Inserts the job row (queued) on `tx` and returns it.
    ///
    /// # Errors
    /// The database's.
    pub async fn insert(&self, tx: &WriteSession<'_>, rows_total: usize) -> Result<ImportJob, ApiError> {
        let total = i32::try_from(rows_total).unwrap_or(i32::MAX);
        let request_id = Some(self.request_id.as_str()).filter(|r| !r.is_empty());
        let row = tx
            .query_one(
                &format!(
                    "INSERT INTO client_api.import_job AS j (id, principal, request_id, mode, format, rows_total) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING {JOB_COLUMNS}"
                ),
                &[
                    &self.id,
                    &self.principal,
                    &request_id,
                    &self.mode.label(),
                    &self.format.label(),
                    &total,
                ],
            )
            .await?;
        ImportJob::from_row(&row).map_err(ApiError::internal)
    }

    /// Starts the task that runs the job; it ends on its own (the job's row says how).
    pub fn spawn(self, db: Db, parsed: Parsed) {
        let request_id = self.request_id.clone();
        tokio::spawn(REQUEST_ID.scope(request_id, async move {
            let job = self.id;
            let heartbeat = tokio::spawn(beat(db.clone(), job));
            let result = self.run(&db, parsed).await;
            heartbeat.abort();
            if let Err(error) = result {
                tracing::warn!(import.job = %job, %error, "import job failed");
                let failure = format!("{}; nothing was written", error.detail);
                if let Err(error) = fail(&db, &self.principal, job, &failure).await {
                    // The sweep of stale jobs ends it later.
                    tracing::warn!(import.job = %job, %error, "could not record the failure of an import job");
                }
            }
        }));
    }

    async fn run(&self, db: &Db, parsed: Parsed) -> Result<(), ApiError> {
        let job = self.id;
        let total = i32::try_from(parsed.total()).unwrap_or(i32::MAX);
        set_state(db, &self.principal, job, "validating").await?;
        let unreadable: Vec<u32> = parsed.problems.iter().map(|p| p.line).collect();
        let mut problems = parsed.problems;
        let plan = tokio::task::spawn_blocking(move || plan(parsed.rows, &unreadable))
            .await
            .map_err(ApiError::internal)?;
        problems.extend(plan.problems.iter().cloned());
        let known = problems.len();
        let apply = self.mode == Mode::Apply;
        if apply {
            set_state(db, &self.principal, job, "applying").await?;
        }
        let progress_db = db.clone();
        let principal = Arc::<str>::from(self.principal.as_str());
        let already = total - i32::try_from(plan.levels.iter().map(Vec::len).sum::<usize>()).unwrap_or(0);
        let progress = move |handled: usize| -> futures_util::future::BoxFuture<'static, ()> {
            let (db, principal) = (progress_db.clone(), principal.clone());
            let done = already
                .saturating_add(i32::try_from(handled).unwrap_or(i32::MAX))
                .min(total);
            Box::pin(async move {
                if let Err(error) = report_progress(&db, &principal, job, done).await {
                    tracing::debug!(import.job = %job, %error, "progress not recorded");
                }
            })
        };
        let (plan, progress) = (&plan, &progress);
        let (outcome, _token) = db
            .write_or_roll_back(
                &self.principal,
                |tx| {
                    Box::pin(async move {
                        let written: Written = write(tx, plan, progress).await?;
                        let commit = apply && known == 0 && written.problems.is_empty();
                        if commit {
                            let created = i32::try_from(written.inserted).unwrap_or(i32::MAX);
                            tx.execute(
                                "UPDATE client_api.import_job SET state = 'succeeded', rows_done = rows_total, \
                                 clients_created = $2 WHERE id = $1",
                                &[&job, &created],
                            )
                            .await?;
                        }
                        Ok((commit, written))
                    })
                },
                |(commit, _)| *commit,
            )
            .await?;
        let (committed, written) = outcome;
        if committed {
            tracing::info!(import.job = %job, clients = written.inserted, "import applied");
            return Ok(());
        }
        problems.extend(written.problems);
        problems.sort_by_key(|p| p.line);
        finish(db, &self.principal, job, &problems).await
    }
}

/// Writes the heartbeat every [`HEARTBEAT`] until aborted.
async fn beat(db: Db, job: Uuid) {
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        let result = db
            .router()
            .write()
            .execute(
                "UPDATE client_api.import_job SET heartbeat_at = pg_catalog.now() \
                 WHERE id = $1 AND finished_at IS NULL",
                &[&job],
            )
            .await;
        if let Err(error) = result {
            tracing::debug!(import.job = %job, %error, "heartbeat not recorded");
        }
    }
}

async fn set_state(db: &Db, principal: &str, job: Uuid, state: &str) -> Result<(), ApiError> {
    db.write(principal, |tx| {
        Box::pin(async move {
            tx.execute(
                "UPDATE client_api.import_job SET state = $2, heartbeat_at = pg_catalog.now() WHERE id = $1",
                &[&job, &state],
            )
            .await
        })
    })
    .await
    .map(drop)
}

async fn report_progress(db: &Db, principal: &str, job: Uuid, done: i32) -> Result<(), ApiError> {
    db.write(principal, |tx| {
        Box::pin(async move {
            tx.execute(
                "UPDATE client_api.import_job SET rows_done = GREATEST(rows_done, $2), \
                 heartbeat_at = pg_catalog.now() WHERE id = $1 AND finished_at IS NULL",
                &[&job, &done],
            )
            .await
        })
    })
    .await
    .map(drop)
}

async fn fail(db: &Db, principal: &str, job: Uuid, failure: &str) -> Result<(), ApiError> {
    let failure = clean(failure, 2000);
    db.write(principal, |tx| {
        let failure = failure.clone();
        Box::pin(async move {
            tx.execute(
                "UPDATE client_api.import_job SET state = 'failed', failure = $2 \
                 WHERE id = $1 AND finished_at IS NULL",
                &[&job, &failure],
            )
            .await
        })
    })
    .await
    .map(drop)
}

/// Stores the report and ends the job: succeeded for a clean validation, failed otherwise.
async fn finish(db: &Db, principal: &str, job: Uuid, problems: &[LineProblem]) -> Result<(), ApiError> {
    let mut lines = Vec::with_capacity(problems.len());
    let mut seqs = Vec::with_capacity(problems.len());
    let mut fields = Vec::with_capacity(problems.len());
    let mut types = Vec::with_capacity(problems.len());
    let mut details = Vec::with_capacity(problems.len());
    let mut previous = None;
    let mut seq = 0i32;
    for p in problems {
        seq = if previous == Some(p.line) { seq + 1 } else { 0 };
        previous = Some(p.line);
        lines.push(i32::try_from(p.line).unwrap_or(i32::MAX));
        seqs.push(seq);
        fields.push(p.column.as_deref().map(|c| clean(c, 100)).filter(|c| !c.is_empty()));
        types.push(p.kind.type_uri());
        details.push(clean(&p.detail, 2000));
    }
    let count = i32::try_from(problems.len()).unwrap_or(i32::MAX);
    let (lines, seqs, fields, types, details) = (&lines, &seqs, &fields, &types, &details);
    db.write(principal, |tx| {
        Box::pin(async move {
            tx.execute(
                "INSERT INTO client_api.import_problem (job_id, line, seq, field, problem_type, detail) \
                 SELECT $1, p.line, p.seq, p.field, p.problem_type, p.detail \
                 FROM ROWS FROM (pg_catalog.unnest($2::integer[]), pg_catalog.unnest($3::integer[]), \
                      pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[])) \
                      AS p (line, seq, field, problem_type, detail)",
                &[&job, lines, seqs, fields, types, details],
            )
            .await?;
            let state = if count == 0 { "succeeded" } else { "failed" };
            tx.execute(
                "UPDATE client_api.import_job SET state = $2, problem_count = $3, rows_done = rows_total \
                 WHERE id = $1",
                &[&job, &state, &count],
            )
            .await
        })
    })
    .await
    .map(drop)
}

/// Text the report's columns accept (trimmed, no control characters, at most `max` characters).
fn clean(text: &str, max: usize) -> String {
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    text.trim().to_owned()
}
