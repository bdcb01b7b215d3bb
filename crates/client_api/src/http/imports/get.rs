//! `GET /v1/imports/{id}`: an import job's state and progress, and its report (the problems, by line, in
//! keyset pages: `limit`, `cursor`). Read from the replica; send the 202's `Pcc-Consistency-Token` to see a
//! job just created.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::{Consistency, Query as _};
use crate::error::{ApiError, Problem};
use crate::http::extract::{PathId, QueryParams, ReadToken};
use crate::http::paging::{Limits, Paging};
use crate::imports::ImportJob;
use crate::imports::job::JOB_COLUMNS;

/// Paging of the report.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// Problems per page (1-1000, default 100).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One problem of one line of the file.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineReport {
    /// The line of the file (1 is the first; in CSV, the header).
    pub line: i32,
    /// The column (header name or JSON field); null when the whole line is at fault.
    pub column: Option<String>,
    /// The problem type, as in problem documents (`/problems/<slug>`).
    #[serde(rename = "type")]
    pub problem_type: String,
    /// What exactly.
    pub detail: String,
    #[serde(skip)]
    seq: i32,
}

/// A job with a page of its report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportStatus {
    /// The job.
    #[serde(flatten)]
    pub job: ImportJob,
    /// A page of the report, by line.
    pub problems: Vec<LineReport>,
    /// Cursor of the next page of problems; null on the last.
    pub next_cursor: Option<String>,
}

const LIMITS: Limits = Limits {
    default: 100,
    max: 1000,
};

/// An import job.
#[utoipa::path(get, path = "/v1/imports/{id}", tag = "imports",
    params(("id" = uuid::Uuid, Path, description = "Job id"), ReportParams,
        ("Pcc-Consistency-Token" = Option<String>, Header, description = "Read your own writes (the 202's token)")),
    responses(
        (status = 200, description = "The job and a page of its report", body = ImportStatus,
         headers(("Link" = String, description = "`<...>; rel=\"next\"` when there are more problems"))),
        (status = 400, description = "Invalid cursor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["clients:read"])))]
pub async fn get_import(
    State(app): State<AppState>,
    _reader: Reader,
    token: ReadToken,
    uri: http::Uri,
    PathId(id): PathId,
    QueryParams(p): QueryParams<ReportParams>,
) -> Result<Response, ApiError> {
    let id_text = id.to_string();
    let paging = Paging::new(LIMITS, p.limit, p.cursor.as_deref(), &["import-report", &id_text], 2)?;
    let (after_line, after_seq) = match paging.after() {
        Some(key) => (key.integer(0)?, key.integer(1)?),
        None => (0, -1),
    };
    let (after_line, after_seq) = (
        i32::try_from(after_line).unwrap_or(i32::MAX),
        i32::try_from(after_seq).unwrap_or(i32::MAX),
    );
    let conn = app.db.read(token.or(Consistency::Any));
    let job = conn
        .query_opt(
            &format!("SELECT {JOB_COLUMNS} FROM client_api.import_job AS j WHERE j.id = $1"),
            &[&id],
        )
        .await?
        .ok_or_else(|| ApiError::not_found("import job", id))?;
    let job = ImportJob::from_row(&job).map_err(ApiError::internal)?;
    let rows = conn
        .query(
            "SELECT p.line, p.seq, p.field, p.problem_type, p.detail FROM client_api.import_problem AS p \
             WHERE p.job_id = $1 AND (p.line, p.seq) > ($2, $3) ORDER BY p.line, p.seq LIMIT $4",
            &[&id, &after_line, &after_seq, &paging.fetch()],
        )
        .await?;
    let problems = rows
        .iter()
        .map(|r| LineReport {
            line: r.get(0),
            seq: r.get(1),
            column: r.get(2),
            problem_type: r.get(3),
            detail: r.get(4),
        })
        .collect();
    let page = paging.page(problems, |last: &LineReport| {
        vec![i64::from(last.line).into(), i64::from(last.seq).into()]
    });
    let status = ImportStatus {
        job,
        problems: page.items,
        next_cursor: page.next_cursor,
    };
    let mut response = crate::http::respond::JsonResponse::ok(&status)?;
    if let Some(cursor) = &status.next_cursor {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
            if key != "cursor" {
                query.append_pair(&key, &value);
            }
        }
        query.append_pair("cursor", cursor);
        response = response.link(&format!("<{}?{}>; rel=\"next\"", uri.path(), query.finish()));
    }
    Ok(response.into_response())
}
