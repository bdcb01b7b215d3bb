//! `/openapi.json`: the OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations and
//! the domain types' `ToSchema` derives (so it cannot drift from the code), serialized once.

use std::sync::OnceLock;

use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, HeaderValue};
use utoipa::OpenApi as _;

use crate::http::api_doc::ApiDoc;

static DOCUMENT: OnceLock<Vec<u8>> = OnceLock::new();

/// The document as JSON bytes.
pub fn document() -> &'static [u8] {
    DOCUMENT.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_default().into_bytes())
}

/// The OpenAPI document.
pub async fn openapi_json() -> Response {
    let mut response = document().into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
