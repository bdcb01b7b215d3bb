//! `POST /v1/imports/clients?mode=validate|apply`: takes a CSV (`text/csv`, a header row) or JSON lines
//! (`application/x-ndjson`) file of up to 100,000 clients and answers 202 with the job and its `Location`;
//! the job runs in the background (`crate::imports::job`). A file that cannot be read as a whole is refused
//! here (400, 413, 415) and nothing is created; problems of single lines go to the job's report.
//!
//! With `Idempotency-Key`, a retry of the same file in the same mode answers the first job (202, with
//! `Idempotent-Replayed: true`) and starts nothing: the key is claimed in the transaction that creates the
//! job, and the job starts only once that committed.

use axum::extract::{Request, State};
use axum::response::Response;
use http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Writer;
use crate::error::{ApiError, Problem, REQUEST_ID};
use crate::http::extract::{IdempotencyKey, QueryParams, body_bytes};
use crate::http::idempotency::Keyed;
use crate::http::respond::JsonResponse;
use crate::imports::parse::parse;
use crate::imports::{Format, ImportJob, Mode, NewJob};

/// Query of `POST /v1/imports/clients`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// `validate` (default): check every row as the database would and write nothing; `apply`: write every
    /// row in one transaction, or none if any row has a problem.
    pub mode: Option<String>,
}

/// Import clients from a file.
#[utoipa::path(post, path = "/v1/imports/clients", tag = "imports",
    params(ImportParams,
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key, file and mode return the first job")),
    request_body(content = String, description = "CSV with a header row, or one JSON object per line; columns in docs/API.md",
        content_type = "text/csv"),
    responses(
        (status = 202, description = "Accepted: the job runs; poll its Location", body = ImportJob,
         headers(("Location" = String), ("Pcc-Consistency-Token" = String))),
        (status = 400, description = "The file cannot be read (not UTF-8, header, no rows)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "More than 100,000 rows or 64 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither text/csv nor application/x-ndjson", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid mode or key reused", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["clients:write"])))]
pub async fn import_clients(
    State(app): State<AppState>,
    Writer(principal): Writer,
    IdempotencyKey(key): IdempotencyKey,
    QueryParams(p): QueryParams<ImportParams>,
    request: Request,
) -> Result<Response, ApiError> {
    let mode = match p.mode.as_deref() {
        None => Mode::Validate,
        Some(text) => {
            Mode::parse(text).ok_or_else(|| ApiError::invalid_parameter("mode", "must be validate or apply"))?
        }
    };
    let media = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    let body = body_bytes(request, &app, &Format::MEDIA_TYPES).await?;
    let format = Format::from_media_type(&media)
        .ok_or_else(|| ApiError::internal("body_bytes admitted an unknown media type"))?;
    let parsed = {
        let body = body.clone();
        tokio::task::spawn_blocking(move || parse(format, &body))
            .await
            .map_err(ApiError::internal)??
    };
    let job = NewJob {
        id: Uuid::now_v7(),
        principal: principal.subject.clone(),
        request_id: REQUEST_ID.try_with(Clone::clone).unwrap_or_default(),
        mode,
        format,
    };
    // The mode and format are part of the request a key is bound to, as the body is.
    let path = format!("/v1/imports/clients?mode={}&format={}", mode.label(), format.label());
    let keyed = Keyed {
        principal: &principal.subject,
        key: key.as_deref(),
        path: &path,
        body: &body,
    };
    let (job_ref, total) = (&job, parsed.total());
    let answer = keyed
        .write(&app.db, |tx| {
            Box::pin(async move {
                let created = job_ref.insert(tx, total).await?;
                Ok(JsonResponse::new(StatusCode::ACCEPTED, &created)?.location(&format!("/v1/imports/{}", created.id)))
            })
        })
        .await?;
    if answer.headers().contains_key("idempotent-replayed") {
        return Ok(answer);
    }
    tracing::info!(import.job = %job.id, rows = total, mode = mode.label(), "import accepted");
    job.spawn(app.db.clone(), parsed);
    Ok(answer)
}
