//! `GET /v1/clients/{id}/contacts`: the client's contact links with the contacts.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::{Consistency, Query as _};
use crate::domain::contact::{CONTACT_COLUMNS, Contact, ContactLink, LINK_COLUMNS};
use crate::error::{ApiError, Problem};
use crate::http::contacts::clients::LinkListParams;
use crate::http::extract::{PathId, QueryParams, ReadToken};
use crate::http::respond::{Page, single_page};

/// Contacts of a client.
#[utoipa::path(get, path = "/v1/clients/{id}/contacts", tag = "contacts",
    params(("id" = uuid::Uuid, Path, description = "Client id"), LinkListParams),
    responses((status = 200, description = "Links with their contacts, by role", body = Page<ContactLink>),
              (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:read"])))]
pub async fn list_client_contacts(
    State(app): State<AppState>,
    _reader: Reader,
    token: ReadToken,
    PathId(id): PathId,
    QueryParams(p): QueryParams<LinkListParams>,
) -> Result<Response, ApiError> {
    let conn = app.db.read(token.or(Consistency::Any));
    crate::http::clients::ensure_exists(&conn, id).await?;
    let sql = format!(
        "SELECT {LINK_COLUMNS}, {CONTACT_COLUMNS} FROM client_api.client_contact AS l \
         JOIN client_api.contact AS p ON p.id = l.contact_id JOIN client_api.contact_role AS r ON r.role = l.role \
         WHERE l.client_id = $1 AND p.deleted_at IS NULL \
         AND (NOT $2 OR (l.valid_from <= CURRENT_DATE AND (l.valid_to IS NULL OR l.valid_to > CURRENT_DATE))) \
         ORDER BY r.sort_order, l.valid_from DESC, l.id LIMIT 1000"
    );
    let rows = conn.query(&sql, &[&id, &p.current]).await?;
    drop(conn);
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        // Both select lists name `id` and `version`: map the link by position, the contact by its own columns.
        let mut link = ContactLink {
            id: row.get(0),
            client_id: row.get(1),
            contact_id: row.get(2),
            role: row.get(3),
            valid_from: crate::domain::format::date(row.get(4)),
            valid_to: crate::domain::format::date_opt(row.get(5)),
            version: row.get(6),
            current: row.get(7),
            contact: None,
            client_display_name: None,
        };
        link.contact = Some(Contact {
            id: row.get(8),
            given_name: row.get(9),
            family_name: row.get(10),
            email: row.get(11),
            phone: row.get(12),
            job_title: row.get(13),
            version: row.get(14),
            created_at: crate::domain::format::timestamp(row.get(15)),
            created_by: row.get(16),
            updated_at: crate::domain::format::timestamp(row.get(17)),
            updated_by: row.get(18),
            deleted_at: crate::domain::format::timestamp_opt(row.get(19)),
            erased_at: crate::domain::format::timestamp_opt(row.get(20)),
            erased_by: row.get(21),
            erasure_reason: row.get(22),
        });
        items.push(link);
    }
    Ok(single_page(items)?.into_response())
}
