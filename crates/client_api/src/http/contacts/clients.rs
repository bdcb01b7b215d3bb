//! `GET /v1/contacts/{id}/clients`: the clients a contact is (or was) linked to, with role and validity.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::{Consistency, Query as _};
use crate::domain::contact::{ContactLink, LINK_COLUMNS};
use crate::error::{ApiError, Problem};
use crate::http::extract::{PathId, QueryParams, ReadToken};
use crate::http::respond::{Page, single_page};

/// Filter of link lists.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LinkListParams {
    /// Only links valid today (default false: the whole history).
    #[serde(default)]
    pub current: bool,
}

/// Clients of a contact.
#[utoipa::path(get, path = "/v1/contacts/{id}/clients", tag = "contacts",
    params(("id" = uuid::Uuid, Path, description = "Contact id"), LinkListParams),
    responses((status = 200, description = "Links with the client's name", body = Page<ContactLink>),
              (status = 404, description = "No such contact", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:read"])))]
pub async fn list_contact_clients(
    State(app): State<AppState>,
    _reader: Reader,
    token: ReadToken,
    PathId(id): PathId,
    QueryParams(p): QueryParams<LinkListParams>,
) -> Result<Response, ApiError> {
    let conn = app.db.read(token.or(Consistency::Any));
    super::load_live(&conn, id).await?;
    let sql = format!(
        "SELECT {LINK_COLUMNS}, c.display_name FROM client_api.client_contact AS l \
         JOIN client_api.client AS c ON c.id = l.client_id \
         WHERE l.contact_id = $1 AND c.deleted_at IS NULL \
         AND (NOT $2 OR (l.valid_from <= CURRENT_DATE AND (l.valid_to IS NULL OR l.valid_to > CURRENT_DATE))) \
         ORDER BY c.display_name, l.valid_from, l.id LIMIT 1000"
    );
    let rows = conn.query(&sql, &[&id, &p.current]).await?;
    drop(conn);
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut link = ContactLink::from_row(row).map_err(ApiError::internal)?;
        link.client_display_name = Some(row.get("display_name"));
        items.push(link);
    }
    Ok(single_page(items)?.into_response())
}
