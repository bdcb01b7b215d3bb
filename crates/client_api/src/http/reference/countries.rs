//! `GET /v1/reference/countries`.

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::auth::Reader;
use crate::error::ApiError;
use crate::http::respond::Page;

use super::whole_list;

/// An ISO 3166-1 country.
#[derive(Debug, Serialize, ToSchema)]
pub struct Country {
    /// Alpha-2 code (the key used everywhere).
    pub alpha2: String,
    /// Alpha-3 code.
    pub alpha3: String,
    /// Numeric code.
    pub numeric_code: String,
    /// Short name.
    pub name: String,
    /// No longer in the standard: kept for existing data, refused for new data.
    pub withdrawn: bool,
}

/// Countries.
#[utoipa::path(get, path = "/v1/reference/countries", tag = "reference",
    responses((status = 200, description = "All countries by alpha-2 code", body = Page<Country>)),
    security(("bearer" = ["clients:read"])))]
pub async fn list_countries(State(app): State<AppState>, _reader: Reader) -> Result<Response, ApiError> {
    whole_list(
        &app,
        "SELECT alpha2, alpha3, numeric_code, name, withdrawn FROM client_api.country ORDER BY alpha2",
        |r| Country {
            alpha2: r.get(0),
            alpha3: r.get(1),
            numeric_code: r.get(2),
            name: r.get(3),
            withdrawn: r.get(4),
        },
    )
    .await
}
