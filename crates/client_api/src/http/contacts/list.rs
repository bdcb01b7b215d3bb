//! `GET /v1/contacts`: contacts by name, optionally searched by name or e-mail, in keyset pages (replica).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::{Consistency, Query as _};
use crate::domain::contact::{CONTACT_COLUMNS, Contact};
use crate::domain::cursor;
use crate::error::{ApiError, Problem, ProblemKind};
use crate::http::extract::{QueryParams, ReadToken};
use crate::http::respond::{Page, page};
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
    let limit = i64::from(p.limit.unwrap_or(50));
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid_parameter("limit", "must be between 1 and 200"));
    }
    let q = p.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > 200) {
        return Err(ApiError::invalid_parameter("q", "must be at most 200 characters"));
    }
    let query_id = cursor::fingerprint(&["contacts", q.unwrap_or("")]);
    let after = match &p.cursor {
        Some(text) => {
            let key = cursor::decode(text, &query_id, 3)?;
            let bad = || ApiError::new(ProblemKind::InvalidCursor, "the cursor is not one this service issued");
            let family = key[0].as_str().ok_or_else(bad)?.to_owned();
            let given = key[1].as_str().map(str::to_owned);
            let last = key[2].as_str().and_then(|s| Uuid::try_parse(s).ok()).ok_or_else(bad)?;
            Some((family, given, last))
        }
        None => None,
    };
    let like = q.map(|q| format!("%{}%", like_escape(q)));
    let sql = format!(
        "SELECT {CONTACT_COLUMNS} FROM client_api.contact AS p WHERE p.deleted_at IS NULL \
         AND ($1::text IS NULL OR p.family_name ILIKE $1 OR p.given_name ILIKE $1 OR p.email ILIKE $1) \
         AND ($2::text IS NULL OR (p.family_name, COALESCE(p.given_name, ''), p.id) > ($2, COALESCE($3, ''), $4)) \
         ORDER BY p.family_name, COALESCE(p.given_name, ''), p.id LIMIT $5"
    );
    let conn = app.db.read(token.or(Consistency::Any));
    let (family, given, last) = match after {
        Some((f, g, l)) => (Some(f), g, Some(l)),
        None => (None, None, None),
    };
    let rows = conn.query(&sql, &[&like, &family, &given, &last, &(limit + 1)]).await?;
    drop(conn);
    let mut items = rows
        .iter()
        .map(Contact::from_row)
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    let next_cursor = if items.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
        items.pop();
        items.last().map(|c| {
            cursor::encode(
                &query_id,
                vec![
                    c.family_name.clone().into(),
                    c.given_name.clone().unwrap_or_default().into(),
                    c.id.to_string().into(),
                ],
            )
        })
    } else {
        None
    };
    Ok(page(&uri, &Page { items, next_cursor })?.into_response())
}
