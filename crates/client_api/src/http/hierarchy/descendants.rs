//! `GET /v1/clients/{id}/descendants`: the whole subtree below a client in depth-first (path) order, down to
//! `max_depth` levels, in keyset pages on the path.

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
use crate::http::paging::{self, Limits, Paging};
use crate::http::respond::Page;

/// Depth limit and paging of the descendants list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DescendantsParams {
    /// Levels below the client, 1-15 (default 15: all).
    pub max_depth: Option<i16>,
    /// Page size, 1-500 (default 100).
    pub limit: Option<u32>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// Page sizes.
const LIMITS: Limits = Limits { default: 100, max: 500 };

/// Descendants of a client.
#[utoipa::path(get, path = "/v1/clients/{id}/descendants", tag = "hierarchy",
    params(("id" = uuid::Uuid, Path, description = "Client id"), DescendantsParams),
    responses((status = 200, description = "Descendants, depth first", body = Page<Client>),
              (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:read"])))]
pub async fn list_descendants(
    State(app): State<AppState>,
    _reader: Reader,
    token: ReadToken,
    uri: http::Uri,
    PathId(id): PathId,
    QueryParams(p): QueryParams<DescendantsParams>,
) -> Result<Response, ApiError> {
    let max_depth = super::depth_limit(p.max_depth, 15)?;
    let paging = Paging::new(
        LIMITS,
        p.limit,
        p.cursor.as_deref(),
        &["descendants", &id.to_string(), &max_depth.to_string()],
        1,
    )?;
    let after = paging.after().map(|key| key.text(0)).transpose()?;
    let conn = app.db.read(token.or(Consistency::Any));
    let (path, depth) = super::locate(&conn, id).await?;
    let sql = format!(
        "SELECT {CLIENT_COLUMNS}, c.path FROM client_api.client AS c \
         WHERE c.path > COALESCE($2, $1) AND c.path < $1 || '~' AND c.depth <= $3 AND c.deleted_at IS NULL \
         ORDER BY c.path LIMIT $4"
    );
    let rows = conn
        .query(&sql, &[&path, &after, &(depth + max_depth), &paging.fetch()])
        .await?;
    // The page key is the path, which the representation does not show.
    let rows = rows
        .iter()
        .map(|row| Ok((Client::from_row(row)?, row.try_get::<_, String>("path")?)))
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()
        .map_err(ApiError::internal)?;
    let page = paging.page(rows, |(_, path)| vec![path.clone().into()]);
    let page = Page {
        items: page.items.into_iter().map(|(client, _)| client).collect(),
        next_cursor: page.next_cursor,
    };
    Ok(paging::response(&uri, &page)?.into_response())
}
