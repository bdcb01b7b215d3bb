//! `GET /v1/clients/{id}/ancestors`: the chain from the ultimate parent down to the direct parent.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::{Consistency, Query as _};
use crate::domain::{CLIENT_COLUMNS, Client};
use crate::error::{ApiError, Problem};
use crate::http::extract::{PathId, ReadToken};
use crate::http::respond::{Page, single_page};

/// Ancestors of a client, root first.
#[utoipa::path(get, path = "/v1/clients/{id}/ancestors", tag = "hierarchy",
    params(("id" = Uuid, Path, description = "Client id")),
    responses((status = 200, description = "Ancestors, root first (empty for a top-level client)", body = Page<Client>),
              (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:read"])))]
pub async fn list_ancestors(
    State(app): State<AppState>,
    _reader: Reader,
    token: ReadToken,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let conn = app.db.read(token.or(Consistency::Any));
    let (path, _) = super::locate(&conn, id).await?;
    let ancestors: Vec<Uuid> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .filter_map(|s| Uuid::try_parse(s).ok())
        .filter(|a| *a != id)
        .collect();
    let sql = format!("SELECT {CLIENT_COLUMNS} FROM client_api.client AS c WHERE c.id = ANY($1) ORDER BY c.depth");
    let rows = conn.query(&sql, &[&ancestors]).await?;
    drop(conn);
    let items = rows
        .iter()
        .map(Client::from_row)
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    Ok(single_page(items)?.into_response())
}
