//! `GET /v1/clients/{id}/children`: direct children by name, in keyset pages.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::{Consistency, Query as _};
use crate::domain::{CLIENT_COLUMNS, Client, cursor};
use crate::error::{ApiError, Problem, ProblemKind};
use crate::http::extract::{PathId, QueryParams, ReadToken};
use crate::http::respond::{Page, page};

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
    let limit = i64::from(p.limit.unwrap_or(50));
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid_parameter("limit", "must be between 1 and 200"));
    }
    let query_id = cursor::fingerprint(&["children", &id.to_string()]);
    let after = match &p.cursor {
        Some(text) => {
            let key = cursor::decode(text, &query_id, 2)?;
            let bad = || ApiError::new(ProblemKind::InvalidCursor, "the cursor is not one this service issued");
            let name = key[0].as_str().ok_or_else(bad)?.to_owned();
            let last = key[1].as_str().and_then(|s| Uuid::try_parse(s).ok()).ok_or_else(bad)?;
            Some((name, last))
        }
        None => None,
    };
    let conn = app.db.read(token.or(Consistency::Any));
    super::locate(&conn, id).await?;
    let sql = format!(
        "SELECT {CLIENT_COLUMNS} FROM client_api.client AS c WHERE c.parent_id = $1 AND c.deleted_at IS NULL \
         AND ($2::text IS NULL OR (c.display_name, c.id) > ($2, $3)) ORDER BY c.display_name, c.id LIMIT $4"
    );
    let (name, last) = after.unzip();
    let rows = conn.query(&sql, &[&id, &name, &last, &(limit + 1)]).await?;
    drop(conn);
    let mut items = rows
        .iter()
        .map(Client::from_row)
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    let next_cursor = (items.len() > usize::try_from(limit).unwrap_or(usize::MAX))
        .then(|| {
            items.pop();
            items
                .last()
                .map(|c| cursor::encode(&query_id, vec![c.display_name.clone().into(), c.id.to_string().into()]))
        })
        .flatten();
    Ok(page(&uri, &Page { items, next_cursor })?.into_response())
}
