//! `GET /v1/contacts`: contacts by name, optionally searched by name or e-mail, in keyset pages (replica).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::{Consistency, Query as _};
use crate::domain::contact::{CONTACT_COLUMNS, Contact};
use crate::error::{ApiError, Problem};
use crate::http::extract::{QueryParams, ReadToken};
use crate::http::paging::{Limits, Paging};
use crate::http::respond::Page;
use crate::http::sql::like_escape;

/// Search and paging of the contact list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContactListParams {
    /// Substring of the family name, given name or e-mail address.
    pub q: Option<String>,
    /// Page size, 1-200 (default 50).
    pub limit: Option<u32>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// Page sizes.
const LIMITS: Limits = Limits { default: 50, max: 200 };

/// List contacts.
#[utoipa::path(get, path = "/v1/contacts", tag = "contacts",
    params(ContactListParams),
    responses((status = 200, description = "Contacts by name", body = Page<Contact>),
              (status = 400, description = "Invalid cursor", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:read"])))]
pub async fn list_contacts(
    State(app): State<AppState>,
    _reader: Reader,
    token: ReadToken,
    uri: http::Uri,
    QueryParams(p): QueryParams<ContactListParams>,
) -> Result<Response, ApiError> {
    let q = p.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > 200) {
        return Err(ApiError::invalid_parameter("q", "must be at most 200 characters"));
    }
    let paging = Paging::new(LIMITS, p.limit, p.cursor.as_deref(), &["contacts", q.unwrap_or("")], 3)?;
    let (family, given, last) = match paging.after() {
        Some(key) => (
            Some(key.text(0)?.to_owned()),
            Some(key.text(1)?.to_owned()),
            Some(key.uuid(2)?),
        ),
        None => (None, None, None),
    };
    let like = q.map(|q| format!("%{}%", like_escape(q)));
    let sql = format!(
        "SELECT {CONTACT_COLUMNS} FROM client_api.contact AS p WHERE p.deleted_at IS NULL \
         AND ($1::text IS NULL OR p.family_name ILIKE $1 OR p.given_name ILIKE $1 OR p.email ILIKE $1) \
         AND ($2::text IS NULL OR (p.family_name, COALESCE(p.given_name, ''), p.id) > ($2, COALESCE($3, ''), $4)) \
         ORDER BY p.family_name, COALESCE(p.given_name, ''), p.id LIMIT $5"
    );
    let conn = app.db.read(token.or(Consistency::Any));
    let rows = conn
        .query(&sql, &[&like, &family, &given, &last, &paging.fetch()])
        .await?;
    let items = rows
        .iter()
        .map(Contact::from_row)
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    let response = paging.respond(&uri, items, |c| {
        vec![
            c.family_name.clone().into(),
            c.given_name.clone().unwrap_or_default().into(),
            c.id.to_string().into(),
        ]
    })?;
    Ok(response.into_response())
}
