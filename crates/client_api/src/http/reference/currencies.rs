//! `GET /v1/reference/currencies`.

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::Reader;
use crate::error::ApiError;
use crate::http::respond::Page;

use super::whole_list;

/// An ISO 4217 currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct Currency {
    /// Alphabetic code.
    pub code: String,
    /// Numeric code.
    pub numeric_code: String,
    /// Decimal places (null where the standard says N.A.).
    pub minor_units: Option<i16>,
    /// Name.
    pub name: String,
    /// No longer in the standard.
    pub withdrawn: bool,
}

/// Currencies.
#[utoipa::path(get, path = "/v1/reference/currencies", tag = "reference",
    responses((status = 200, description = "All currencies by code", body = Page<Currency>)),
    security(("bearer" = ["clients:read"])))]
pub async fn list_currencies(State(app): State<AppState>, _reader: Reader) -> Result<Response, ApiError> {
    whole_list(
        &app,
        "SELECT code, numeric_code, minor_units, name, withdrawn FROM client_api.currency ORDER BY code",
        |r| Currency {
            code: r.get(0),
            numeric_code: r.get(1),
            minor_units: r.get(2),
            name: r.get(3),
            withdrawn: r.get(4),
        },
    )
    .await
}
