//! `GET /v1/clients/{id}/moves`: the client's re-parenting history, newest first (append-only, V4).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::{Consistency, Query as _};
use crate::domain::format;
use crate::error::{ApiError, Problem};
use crate::http::extract::{PathId, QueryParams, ReadToken};
use crate::http::paging::{Limits, Paging};
use crate::http::respond::Page;

/// One move.
#[derive(Debug, Serialize, ToSchema)]
pub struct Move {
    /// Move id.
    pub id: Uuid,
    /// The moved client.
    pub client_id: Uuid,
    /// Parent before.
    pub old_parent_id: Option<Uuid>,
    /// Parent after.
    pub new_parent_id: Option<Uuid>,
    /// Ultimate parent before.
    pub old_root_id: Uuid,
    /// Ultimate parent after.
    pub new_root_id: Uuid,
    /// Descendants that moved along.
    pub descendants_moved: i32,
    /// When.
    #[schema(format = DateTime)]
    pub moved_at: String,
    /// Who.
    pub moved_by: String,
}

/// Paging of the move history.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MovesParams {
    /// Page size, 1-200 (default 50).
    pub limit: Option<u32>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
}

/// Page sizes.
const LIMITS: Limits = Limits { default: 50, max: 200 };

/// Move history of a client.
#[utoipa::path(get, path = "/v1/clients/{id}/moves", tag = "hierarchy",
    params(("id" = Uuid, Path, description = "Client id"), MovesParams),
    responses((status = 200, description = "Moves, newest first", body = Page<Move>),
              (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:read"])))]
pub async fn list_moves(
    State(app): State<AppState>,
    _reader: Reader,
    token: ReadToken,
    uri: http::Uri,
    PathId(id): PathId,
    QueryParams(p): QueryParams<MovesParams>,
) -> Result<Response, ApiError> {
    let paging = Paging::new(LIMITS, p.limit, p.cursor.as_deref(), &["moves", &id.to_string()], 2)?;
    let (at, last) = match paging.after() {
        Some(key) => (Some(key.timestamp(0)?), Some(key.uuid(1)?)),
        None => (None, None),
    };
    let conn = app.db.read(token.or(Consistency::Any));
    if conn
        .query_opt("SELECT 1 FROM client_api.client WHERE id = $1", &[&id])
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("client", id));
    }
    let rows = conn
        .query(
            "SELECT id, client_id, old_parent_id, new_parent_id, old_root_id, new_root_id, descendants_moved, \
             moved_at, moved_by FROM client_api.client_move WHERE client_id = $1 \
             AND ($2::timestamptz IS NULL OR (moved_at, id) < ($2, $3)) ORDER BY moved_at DESC, id DESC LIMIT $4",
            &[&id, &at, &last, &paging.fetch()],
        )
        .await?;
    let items: Vec<Move> = rows
        .iter()
        .map(|r| Move {
            id: r.get(0),
            client_id: r.get(1),
            old_parent_id: r.get(2),
            new_parent_id: r.get(3),
            old_root_id: r.get(4),
            new_root_id: r.get(5),
            descendants_moved: r.get(6),
            moved_at: format::timestamp(r.get(7)),
            moved_by: r.get(8),
        })
        .collect();
    let response = paging.respond(&uri, items, |m| {
        vec![m.moved_at.clone().into(), m.id.to_string().into()]
    })?;
    Ok(response.into_response())
}
