//! `GET /v1/clients/{id}/risk-assessments`: the history, newest first.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::auth::Reader;
use crate::db::{Consistency, Query as _};
use crate::domain::metadata::{RISK_COLUMNS, RiskAssessment};
use crate::error::{ApiError, Problem};
use crate::http::extract::{PathId, ReadToken};
use crate::http::respond::{Page, single_page};

/// Risk assessment history.
#[utoipa::path(get, path = "/v1/clients/{id}/risk-assessments", tag = "metadata",
    params(("id" = uuid::Uuid, Path, description = "Client id")),
    responses((status = 200, description = "Assessments, newest first", body = Page<RiskAssessment>),
              (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["clients:read"])))]
pub async fn list_risk_assessments(
    State(app): State<AppState>,
    _reader: Reader,
    token: ReadToken,
    PathId(id): PathId,
) -> Result<Response, ApiError> {
    let conn = app.db.read(token.or(Consistency::Any));
    crate::http::clients::ensure_exists(&conn, id).await?;
    let sql = format!(
        "SELECT {RISK_COLUMNS} FROM client_api.risk_assessment AS a WHERE a.client_id = $1 \
         ORDER BY a.assessed_at DESC, a.id DESC LIMIT 1000"
    );
    let rows = conn.query(&sql, &[&id]).await?;
    drop(conn);
    let items = rows
        .iter()
        .map(RiskAssessment::from_row)
        .collect::<Result<Vec<_>, _>>()
        .map_err(ApiError::internal)?;
    Ok(single_page(items)?.into_response())
}
