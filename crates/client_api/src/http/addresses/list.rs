//! `GET /v1/clients/{id}/addresses`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::{Consistency, Query as _};
use crate::domain::metadata::{ADDRESS_COLUMNS, Address};
use crate::error::{ApiError, Problem};
use crate::http::extract::{PathId, ReadToken};
use crate::http::respond::{Page, single_page};

/// Addresses of a client.
#[utoipa::path(get, path = "/v1/clients/{id}/addresses", tag = "metadata",
    params(("id" = uuid::Uuid, Path, description = "Client id")),
    responses((status = 200, description = "Addresses by type", body = Page<Address>),
              (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:read"])))]
pub async fn list_addresses(
    State(app): State<AppState>,
    _reader: Reader,
    token: ReadToken,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let conn = app.db.read(token.or(Consistency::Any));
    crate::http::clients::ensure_exists(&conn, id).await?;
    let sql = format!(
        "SELECT {ADDRESS_COLUMNS} FROM client_api.client_address AS a JOIN client_api.address_type AS t \
         USING (address_type) WHERE a.client_id = $1 ORDER BY t.sort_order, a.id LIMIT 1000"
    );
    let rows = conn.query(&sql, &[&id]).await?;
    drop(conn);
    let items = rows
        .iter()
        .map(Address::from_row)
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    Ok(single_page(items)?.into_response())
}
