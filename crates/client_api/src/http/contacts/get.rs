//! `GET /v1/contacts/{id}` with ETag and If-None-Match.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::Consistency;
use crate::domain::contact::Contact;
use crate::domain::etag;
use crate::error::{ApiError, Problem};
use crate::http::extract::PathId;
use crate::http::respond::JsonResponse;

/// Get a contact.
#[utoipa::path(get, path = "/v1/contacts/{id}", tag = "contacts",
    params(("id" = uuid::Uuid, Path, description = "Contact id"), ("If-None-Match" = Option<String>, Header, description = "ETag(s) you hold")),
    responses((status = 200, description = "The contact", body = Contact, headers(("ETag" = String))),
              (status = 304, description = "Not modified"),
              (status = 404, description = "No such contact", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:read"])))]
pub async fn get_contact(
    State(app): State<AppState>,
    _reader: Reader,
    PathId(id): PathId,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let condition = etag::if_none_match(&headers)?;
    let conn = app.db.read(Consistency::Strong);
    let contact = super::load_live(&conn, id).await?;
    drop(conn);
    let tag = etag::format(contact.version);
    if condition.is_some_and(|c| c.matches(contact.version)) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = http::HeaderValue::from_str(&tag) {
            response.headers_mut().insert(http::header::ETAG, v);
        }
        return Ok(response);
    }
    Ok(JsonResponse::ok(&contact)?.etag(&tag).into_response())
}
