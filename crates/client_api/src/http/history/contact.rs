//! `GET /v1/contacts/{id}/history`: everything that changed in a contact and in its links to clients, newest
//! first, in keyset pages; filters `field`, `since`, `until`. A deleted contact keeps its history.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::{HistoryEntry, HistoryParams, Scope};
use crate::app::AppState;
use crate::auth::Reader;
use crate::db::Consistency;
use crate::error::{ApiError, Problem};
use crate::http::extract::{PathId, QueryLists, ReadToken};
use crate::http::respond::Page;

/// The contact exists (live or soft-deleted), or has left entries behind.
const EXISTS: &str = "SELECT 1 FROM client_api.contact WHERE id = $1 \
    UNION ALL SELECT 1 FROM client_api.change_history WHERE contact_id = $1 LIMIT 1";

/// Change history of a contact.
#[utoipa::path(get, path = "/v1/contacts/{id}/history", tag = "history",
    params(("id" = uuid::Uuid, Path, description = "Contact id"), HistoryParams,
           ("Pcc-Consistency-Token" = Option<String>, Header, description = "Read your own writes")),
    responses(
        (status = 200, description = "Changes, newest first", body = Page<HistoryEntry>,
         headers(("Link" = String, description = "`<...>; rel=\"next\"` when there are more"))),
        (status = 400, description = "Invalid cursor", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contact", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, since, until or limit", body = Problem,
         content_type = "application/problem+json"),
    ),
    security(("bearer" = ["clients:read"])))]
pub async fn contact_history(
    State(app): State<AppState>,
    _reader: Reader,
    token: ReadToken,
    uri: http::Uri,
    PathId(id): PathId,
    QueryLists(params): QueryLists<HistoryParams>,
) -> Result<Response, ApiError> {
    let conn = app.db.read(token.or(Consistency::Any));
    match super::page(&conn, Scope::Contact(id), EXISTS, &params, &uri).await? {
        Some(page) => Ok(page.into_response()),
        None => Err(ApiError::not_found("contact", id)),
    }
}
