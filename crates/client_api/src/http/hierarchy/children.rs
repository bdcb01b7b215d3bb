//! `GET /v1/clients/{id}/children`: direct children by name, in keyset pages.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::{Consistency, Query as _};
use crate::domain::{CLIENT_COLUMNS, Client};
use crate::error::{ApiError, Problem};
use crate::http::extract::{PathId, QueryParams, ReadToken};
use crate::http::paging::{Limits, Paging};
use crate::http::respond::Page;

/// Paging of the children list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChildrenParams {
    /// Page size, 1-200 (default 50).
    pub limit: Option<u32>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// Page sizes.
const LIMITS: Limits = Limits { default: 50, max: 200 };

/// Direct children of a client.
#[utoipa::path(get, path = "/v1/clients/{id}/children", tag = "hierarchy",
    params(("id" = Uuid, Path, description = "Client id"), ChildrenParams),
    responses((status = 200, description = "Children by name", body = Page<Client>),
              (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:read"])))]
pub async fn list_children(
    State(app): State<AppState>,
    _reader: Reader,
    token: ReadToken,
    uri: http::Uri,
    PathId(id): PathId,
    QueryParams(p): QueryParams<ChildrenParams>,
) -> Result<Response, ApiError> {
    let paging = Paging::new(LIMITS, p.limit, p.cursor.as_deref(), &["children", &id.to_string()], 2)?;
    let (name, last) = match paging.after() {
        Some(key) => (Some(key.text(0)?.to_owned()), Some(key.uuid(1)?)),
        None => (None, None),
    };
    let conn = app.db.read(token.or(Consistency::Any));
    super::locate(&conn, id).await?;
    let sql = format!(
        "SELECT {CLIENT_COLUMNS} FROM client_api.client AS c WHERE c.parent_id = $1 AND c.deleted_at IS NULL \
         AND ($2::text IS NULL OR (c.display_name, c.id) > ($2, $3)) ORDER BY c.display_name, c.id LIMIT $4"
    );
    let rows = conn.query(&sql, &[&id, &name, &last, &paging.fetch()]).await?;
    let items = rows
        .iter()
        .map(Client::from_row)
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    let response = paging.respond(&uri, items, |c| {
        vec![c.display_name.clone().into(), c.id.to_string().into()]
    })?;
    Ok(response.into_response())
}
