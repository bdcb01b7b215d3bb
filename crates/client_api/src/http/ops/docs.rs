//! `/docs`: the browsable API reference, rendered in the browser by Redoc from `/openapi.json`. The Redoc
//! standalone bundle (npm package `redoc`, MIT; license beside it in assets/) is embedded in the binary, so the
//! page works offline and loads nothing from a CDN. `/problems/{slug}`: the documentation of each problem type.

use axum::extract::Path;
use axum::response::{Html, IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};

use crate::error::{ApiError, ProblemKind};

static REDOC: &[u8] = include_bytes!("../../../assets/redoc.standalone.js");

const PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pcc-client-api reference</title>
<style>body { margin: 0; padding: 0; }</style>
</head>
<body>
<redoc spec-url="/openapi.json" hide-download-button="false"></redoc>
<script src="/docs/redoc.standalone.js"></script>
</body>
</html>
"#;

/// The reference page.
pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// The embedded renderer.
pub async fn redoc_js() -> Response {
    let mut response = REDOC.into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/javascript; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The page documenting a problem type (the target of every problem's `type`).
pub async fn problem_type(Path(slug): Path<String>) -> Result<Html<String>, ApiError> {
    let kind = ProblemKind::from_slug(&slug)
        .ok_or_else(|| ApiError::new(ProblemKind::NotFound, format!("no problem type {}", escape(&slug))))?;
    let info = kind.info();
    Ok(Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head><body>\
         <h1>{title}</h1><p>HTTP status {status}</p><p>{description}</p>\
         <p><a href=\"/docs\">API reference</a></p></body></html>",
        title = escape(info.title),
        status = info.status.as_u16(),
        description = escape(info.description),
    )))
}
