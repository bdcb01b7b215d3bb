//! `GET /v1/clients/{id}`: one client, with its ETag; `If-None-Match` gives 304. With `as_of`, the client as
//! it was at that time, rebuilt by the database from the change history (`client_api.client_as_of`, V10).
//!
//! Served by the primary (Strong) so that an ETag read here is current for a following PATCH; a
//! `Pcc-Consistency-Token` does not weaken that. A past state comes from the primary too: the replica could
//! be behind the time asked for.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::{Consistency, Query as _};
use crate::domain::{CLIENT_COLUMNS, Client, format};
use crate::error::{ApiError, Problem};
use crate::http::extract::{IfNoneMatch, PathId, QueryParams};
use crate::http::respond::JsonResponse;

/// Query of `GET /v1/clients/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GetParams {
    /// Also return a soft-deleted client (default false: 404).
    #[serde(default)]
    pub include_deleted: bool,
    /// The client as it was at this RFC 3339 time (to the microsecond), from its change history: 404 if it
    /// did not exist yet (or was deleted then, unless `include_deleted`), 422 if the history does not reach
    /// back that far. Answered without an ETag: a past version is not one to write against.
    pub as_of: Option<String>,
}

/// Get a client.
#[utoipa::path(get, path = "/v1/clients/{id}", tag = "clients",
    params(("id" = uuid::Uuid, Path, description = "Client id"), GetParams,
           ("If-None-Match" = Option<String>, Header, description = "ETag(s) you hold; 304 when current")),
    responses(
        (status = 200, description = "The client (as of `as_of` when given)", body = Client,
         headers(("ETag" = String, description = "\"<version>\" (not for a past state)"))),
        (status = 304, description = "Not modified"),
        (status = 404, description = "No such client (at that time)", body = Problem,
         content_type = "application/problem+json"),
        (status = 422, description = "Malformed as_of, or the history does not reach back to it", body = Problem,
         content_type = "application/problem+json"),
    ),
    security(("bearer" = ["clients:read"])))]
pub async fn get_client(
    State(app): State<AppState>,
    _reader: Reader,
    PathId(id): PathId,
    QueryParams(params): QueryParams<GetParams>,
    IfNoneMatch(condition): IfNoneMatch,
) -> Result<Response, ApiError> {
    if let Some(text) = &params.as_of {
        let at = format::parse_timestamp(text).ok_or_else(|| {
            ApiError::invalid_parameter("as_of", "must be an RFC 3339 time such as 2026-01-31T00:00:00Z")
        })?;
        let client = as_of(&app, id, at).await?;
        if client.deleted_at.is_some() && !params.include_deleted {
            return Err(ApiError::new(
                crate::error::ProblemKind::NotFound,
                format!("client {id} was deleted at {text}"),
            ));
        }
        return Ok(JsonResponse::ok(&client)?.into_response());
    }
    let conn = app.db.read(Consistency::Strong);
    let client = super::load(&conn, id).await?;
    drop(conn);
    if client.deleted_at.is_some() && !params.include_deleted {
        return Err(ApiError::not_found("client", id));
    }
    let tag = client.etag();
    if condition.is_some_and(|c| c.matches(client.version)) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = http::HeaderValue::from_str(&tag) {
            response.headers_mut().insert(http::header::ETAG, v);
        }
        return Ok(response);
    }
    Ok(JsonResponse::ok(&client)?.etag(&tag).into_response())
}

/// The client as it was at `at`, from the primary.
async fn as_of(app: &AppState, id: Uuid, at: OffsetDateTime) -> Result<Client, ApiError> {
    static SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| format!("SELECT {CLIENT_COLUMNS} FROM client_api.client_as_of($1, $2) AS c"));
    let sql: &str = &SQL;
    let conn = app.db.read(Consistency::Strong);
    let row = conn.query_opt(sql, &[&id, &at]).await?.ok_or_else(|| {
        ApiError::new(
            crate::error::ProblemKind::NotFound,
            format!("client {id} did not exist at {}", format::timestamp(at)),
        )
    })?;
    Client::from_row(&row).map_err(ApiError::internal)
}
