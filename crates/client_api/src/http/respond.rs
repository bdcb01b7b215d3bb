//! Building responses: JSON bodies, ETag / Location / consistency-token headers, the page envelope (keyset
//! pages and their Link header: `paging`).

use axum::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, ETAG, HeaderValue, LINK, LOCATION};
use http::{HeaderMap, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{ConsistencyToken, TOKEN_HEADER};
use crate::error::ApiError;

/// A JSON response with extra headers.
#[derive(Debug)]
pub struct JsonResponse {
    status: StatusCode,
    body: Vec<u8>,
    headers: HeaderMap,
}

impl JsonResponse {
    /// `status` with `value` serialized.
    ///
    /// # Errors
    /// Serialization failure (a bug).
    pub fn new<T: Serialize>(status: StatusCode, value: &T) -> Result<Self, ApiError> {
        // serde_json::to_vec's own starting size.
        Self::serialized(status, value, 128)
    }

    /// `status` with `value` serialized into a buffer of `capacity` bytes to start with.
    fn serialized<T: Serialize>(status: StatusCode, value: &T, capacity: usize) -> Result<Self, ApiError> {
        let mut body = Vec::with_capacity(capacity);
        serde_json::to_writer(&mut body, value).map_err(ApiError::internal)?;
        Ok(Self {
            status,
            body,
            headers: HeaderMap::new(),
        })
    }

    /// 200 with `value`.
    ///
    /// # Errors
    /// Serialization failure (a bug).
    pub fn ok<T: Serialize>(value: &T) -> Result<Self, ApiError> {
        Self::new(StatusCode::OK, value)
    }

    /// 200 with `value`, serialized into a buffer of `capacity` bytes to start with.
    ///
    /// # Errors
    /// Serialization failure (a bug).
    pub fn ok_sized<T: Serialize>(value: &T, capacity: usize) -> Result<Self, ApiError> {
        Self::serialized(StatusCode::OK, value, capacity)
    }

    /// Adds `ETag`.
    #[must_use]
    pub fn etag(mut self, etag: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(etag) {
            self.headers.insert(ETAG, v);
        }
        self
    }

    /// Adds `Location`.
    #[must_use]
    pub fn location(mut self, path: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(path) {
            self.headers.insert(LOCATION, v);
        }
        self
    }

    /// Adds the consistency token of a committed write.
    #[must_use]
    pub fn token(mut self, token: ConsistencyToken) -> Self {
        if let Ok(v) = HeaderValue::from_str(&token.to_string()) {
            self.headers.insert(TOKEN_HEADER, v);
        }
        self
    }

    /// Adds a `Link` header.
    #[must_use]
    pub fn link(mut self, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.append(LINK, v);
        }
        self
    }

    /// Adds any header.
    #[must_use]
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(name, v);
        }
        self
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The serialized body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The extra headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Rebuilds a stored response (idempotent replay).
    pub fn from_parts(status: StatusCode, body: Vec<u8>, headers: HeaderMap) -> Self {
        Self { status, body, headers }
    }
}

impl IntoResponse for JsonResponse {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.extend(self.headers);
        response
    }
}

/// A page of a keyset-paginated list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Cursor of the next page; absent on the last page. Also in the `Link: <...>; rel="next"` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A list small enough to answer whole: every item in one page, without a cursor.
///
/// # Errors
/// Serialization failure (a bug).
pub fn single_page<T: Serialize>(items: Vec<T>) -> Result<JsonResponse, ApiError> {
    JsonResponse::ok(&Page {
        items,
        next_cursor: None,
    })
}

/// 204 with the consistency token.
pub fn no_content(token: ConsistencyToken) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&token.to_string()) {
        response.headers_mut().insert(TOKEN_HEADER, v);
    }
    response
}
