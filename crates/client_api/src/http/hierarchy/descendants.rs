//! `GET /v1/clients/{id}/descendants`: the whole subtree below a client in depth-first (path) order, down to
//! `max_depth` levels, in keyset pages on the path.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::{Consistency, Query as _};
use crate::domain::{CLIENT_COLUMNS, Client, cursor};
use crate::error::{ApiError, Problem, ProblemKind};
use crate::http::extract::{PathId, QueryParams, ReadToken};
use crate::http::respond::{Page, page};

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
    let limit = i64::from(p.limit.unwrap_or(100));
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid_parameter("limit", "must be between 1 and 500"));
    }
    let query_id = cursor::fingerprint(&["descendants", &id.to_string(), &max_depth.to_string()]);
    let after: Option<String> = match &p.cursor {
        Some(text) => Some(
            cursor::decode(text, &query_id, 1)?[0]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| {
                    ApiError::new(ProblemKind::InvalidCursor, "the cursor is not one this service issued")
                })?,
        ),
        None => None,
    };
    let conn = app.db.read(token.or(Consistency::Any));
    let (path, depth) = super::locate(&conn, id).await?;
    let sql = format!(
        "SELECT {CLIENT_COLUMNS}, c.path FROM client_api.client AS c \
         WHERE c.path > COALESCE($2, $1) AND c.path < $1 || '~' AND c.depth <= $3 AND c.deleted_at IS NULL \
         ORDER BY c.path LIMIT $4"
    );
    let rows = conn
        .query(&sql, &[&path, &after, &(depth + max_depth), &(limit + 1)])
        .await?;
    drop(conn);
    let mut paths: Vec<String> = rows.iter().map(|r| r.get("path")).collect();
    let mut items = rows
        .iter()
        .map(Client::from_row)
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    let next_cursor = if items.len() > usize::try_from(limit).unwrap_or(usize::MAX) {
        items.pop();
        paths.truncate(items.len());
        paths.last().map(|p| cursor::encode(&query_id, vec![p.clone().into()]))
    } else {
        None
    };
    Ok(page(&uri, &Page { items, next_cursor })?.into_response())
}
