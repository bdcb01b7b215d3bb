//! The RFC 9457 document and its HTTP rendering.
//!
//! `instance` carries the request id (set by the request-id middleware through the task-local [`REQUEST_ID`]),
//! so a client can quote it and an operator can find the request in the JSON logs.

use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiError;

tokio::task_local! {
    /// The id of the request being served (set by `http::middleware::request_id`).
    pub static REQUEST_ID: String;
}

/// One problem with one value of the request.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// JSON pointer (RFC 6901) into the request body, e.g. `/lei`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// Name of the query parameter or header, when the problem is not in the body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// What is wrong with it.
    pub detail: String,
}

impl FieldError {
    /// A problem at `pointer` in the body.
    pub fn pointer(pointer: &str, detail: impl Into<String>) -> Self {
        Self {
            pointer: Some(pointer.to_owned()),
            parameter: None,
            detail: detail.into(),
        }
    }

    /// A problem with query parameter or header `name`.
    pub fn parameter(name: &str, detail: impl Into<String>) -> Self {
        Self {
            pointer: None,
            parameter: Some(name.to_owned()),
            detail: detail.into(),
        }
    }
}

/// An RFC 9457 problem document (`application/problem+json`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// URI reference identifying the kind of problem; `GET` it for the documentation.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short summary, the same for every occurrence of the type.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// Explanation specific to this occurrence.
    pub detail: String,
    /// This occurrence: `urn:request:<request id>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Individual problems (validation, malformed body).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl ApiError {
    /// The document for this error.
    pub fn problem(&self) -> Problem {
        let info = self.kind.info();
        Problem {
            type_uri: self.kind.type_uri(),
            title: info.title.to_owned(),
            status: info.status.as_u16(),
            detail: self.detail.clone(),
            instance: REQUEST_ID.try_with(|id| format!("urn:request:{id}")).ok(),
            errors: self.errors.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        let status = self.kind.info().status;
        metrics::counter!("http_problems_total", "type" => self.kind.info().slug).increment(1);
        let body = serde_json::to_vec(&problem).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(seconds) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.kind == super::ProblemKind::Unauthorized {
            headers.insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"pcc-client-api\""),
            );
        }
        response
    }
}
