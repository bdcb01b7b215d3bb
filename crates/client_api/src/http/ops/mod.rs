//! Operations endpoints (no authentication, outside the API's concurrency limit): health, readiness,
//! metrics, the OpenAPI document, the browsable reference, and the problem type pages.

pub mod docs;
pub mod health;
pub mod metrics;
pub mod openapi;
