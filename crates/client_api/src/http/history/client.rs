//! `GET /v1/clients/{id}/history`: everything that changed in a client and in the rows that belong to it (its
//! addresses, contact links and risk assessments), newest first, in keyset pages; filters `field`, `since`,
//! `until`. A soft-deleted client keeps its history (and so does one removed from the database for good).

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::{HistoryEntry, HistoryParams, Scope};
use crate::app::AppState;
use crate::auth::Reader;
use crate::db::Consistency;
use crate::error::{ApiError, Problem};
use crate::http::extract::{PathId, QueryLists, ReadToken};
use crate::http::respond::Page;

/// The client exists (live or soft-deleted), or has left entries behind.
const EXISTS: &str = "SELECT 1 FROM client_api.client WHERE id = $1 \
    UNION ALL SELECT 1 FROM client_api.change_history WHERE client_id = $1 LIMIT 1";

/// Change history of a client.
#[utoipa::path(get, path = "/v1/clients/{id}/history", tag = "history",
    params(("id" = uuid::Uuid, Path, description = "Client id"), HistoryParams,
           ("Pcc-Consistency-Token" = Option<String>, Header, description = "Read your own writes")),
    responses(
        (status = 200, description = "Changes, newest first", body = Page<HistoryEntry>,
         headers(("Link" = String, description = "`<...>; rel=\"next\"` when there are more"))),
        (status = 400, description = "Invalid cursor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, since, until or limit", body = Problem,
         content_type = "application/problem+json"),
    ),
    security(("bearer" = ["clients:read"])))]
pub async fn client_history(
    State(app): State<AppState>,
    _reader: Reader,
    token: ReadToken,
    uri: http::Uri,
    PathId(id): PathId,
    QueryLists(params): QueryLists<HistoryParams>,
) -> Result<Response, ApiError> {
    let conn = app.db.read(token.or(Consistency::Any));
    match super::page(&conn, Scope::Client(id), EXISTS, &params, &uri).await? {
        Some(page) => Ok(page.into_response()),
        None => Err(ApiError::not_found("client", id)),
    }
}
