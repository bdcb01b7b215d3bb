//! `GET /v1/clients/{id}`: one client, with its ETag; `If-None-Match` gives 304.
//!
//! Served by the primary (Strong) so that an ETag read here is current for a following PATCH; a
//! `Pcc-Consistency-Token` does not weaken that.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::Consistency;
use crate::domain::Client;
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
}

/// Get a client.
#[utoipa::path(get, path = "/v1/clients/{id}", tag = "clients",
    params(("id" = uuid::Uuid, Path, description = "Client id"), GetParams,
           ("If-None-Match" = Option<String>, Header, description = "ETag(s) you hold; 304 when current")),
    responses(
        (status = 200, description = "The client", body = Client,
         headers(("ETag" = String, description = "\"<version>\""))),
        (status = 304, description = "Not modified"),
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["clients:read"])))]
pub async fn get_client(
    State(app): State<AppState>,
    _reader: Reader,
    PathId(id): PathId,
    QueryParams(params): QueryParams<GetParams>,
    IfNoneMatch(condition): IfNoneMatch,
) -> Result<Response, ApiError> {
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
