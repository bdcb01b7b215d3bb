//! Every route of the service, in one place.
//!
//! API routes (`/v1/...`) need a bearer token and run under admission (load shedding: past
//! `PCC_HTTP_MAX_IN_FLIGHT`, of which reads and writes may each hold three quarters, or when no database
//! connection frees up in time, a 503 problem with `Retry-After`) and the request timeout. Operations routes
//! are outside both, so /healthz answers even when
//! the API is saturated.

use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, patch, post};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;

use crate::app::AppState;
use crate::config::HttpConfig;
use crate::http::{
    addresses, admission, clients, contacts, exports, hierarchy, history, imports, links, middleware, ops, reference,
    reports, risk, staleness, unread_body,
};

/// The application router.
pub fn router(state: AppState, config: &HttpConfig) -> Router {
    let api = Router::new()
        .route(
            "/v1/clients",
            get(clients::list::list_clients).post(clients::create::create_client),
        )
        .route(
            "/v1/clients/{id}",
            get(clients::get::get_client)
                .patch(clients::update::update_client)
                .delete(clients::delete::delete_client),
        )
        .route("/v1/clients/{id}/restore", post(clients::restore::restore_client))
        // Hierarchy.
        .route("/v1/clients/{id}/children", get(hierarchy::children::list_children))
        .route(
            "/v1/clients/{id}/descendants",
            get(hierarchy::descendants::list_descendants),
        )
        .route("/v1/clients/{id}/ancestors", get(hierarchy::ancestors::list_ancestors))
        .route("/v1/clients/{id}/tree", get(hierarchy::tree::get_tree))
        .route("/v1/clients/{id}/moves", get(hierarchy::moves::list_moves))
        // Change history.
        .route("/v1/clients/{id}/history", get(history::client::client_history))
        .route("/v1/contacts/{id}/history", get(history::contact::contact_history))
        // Metadata.
        .route(
            "/v1/clients/{id}/risk-assessments",
            get(risk::list::list_risk_assessments).post(risk::create::create_risk_assessment),
        )
        .route(
            "/v1/clients/{id}/addresses",
            get(addresses::list::list_addresses).post(addresses::create::create_address),
        )
        .route(
            "/v1/clients/{id}/addresses/{address_id}",
            patch(addresses::update::update_address).delete(addresses::delete::delete_address),
        )
        // Contacts and links.
        .route(
            "/v1/clients/{id}/contacts",
            get(links::list::list_client_contacts).post(links::create::link_contact),
        )
        .route(
            "/v1/clients/{id}/contacts/{link_id}",
            patch(links::update::update_link).delete(links::delete::unlink_contact),
        )
        .route(
            "/v1/contacts",
            get(contacts::list::list_contacts).post(contacts::create::create_contact),
        )
        .route(
            "/v1/contacts/{id}",
            get(contacts::get::get_contact)
                .patch(contacts::update::update_contact)
                .delete(contacts::delete::delete_contact),
        )
        .route("/v1/contacts/{id}/erase", post(contacts::erase::erase_contact))
        .route(
            "/v1/contacts/{id}/clients",
            get(contacts::clients::list_contact_clients),
        )
        // Bulk import (a file of up to 100,000 rows: its own body limit) and export.
        .route(
            "/v1/imports/clients",
            post(imports::create::import_clients).layer(DefaultBodyLimit::max(crate::imports::MAX_BYTES)),
        )
        .route("/v1/imports/{id}", get(imports::get::get_import))
        .route("/v1/exports/clients", get(exports::clients::export_clients))
        // Reports.
        .route(
            "/v1/reports/portfolio-summary",
            get(reports::portfolio_summary::portfolio_summary),
        )
        .route("/v1/reports/risk-reviews-due", get(reports::reviews_due::reviews_due))
        // Reference data.
        .route("/v1/reference/countries", get(reference::countries::list_countries))
        .route("/v1/reference/currencies", get(reference::currencies::list_currencies))
        .route(
            "/v1/reference/industry-codes",
            get(reference::industry_codes::list_industry_codes),
        )
        .route(
            "/v1/reference/{vocabulary}",
            get(reference::vocabularies::get_vocabulary),
        )
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(middleware::refused))
                .timeout(config.request_timeout),
        )
        .layer(axum::middleware::from_fn_with_state(
            admission::Admission::new(config.max_in_flight, config.admission_wait),
            admission::admit,
        ))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(axum::middleware::from_fn(staleness::report));

    let operations = Router::new()
        .route("/healthz", get(ops::health::healthz))
        .route("/readyz", get(ops::health::readyz))
        .route("/metrics", get(ops::metrics::metrics))
        .route("/openapi.json", get(ops::openapi::openapi_json))
        .route("/docs", get(ops::docs::page))
        .route("/docs/redoc.standalone.js", get(ops::docs::redoc_js))
        .route("/problems/{slug}", get(ops::docs::problem_type));

    api.merge(operations)
        .fallback(middleware::no_route)
        .method_not_allowed_fallback(middleware::wrong_method)
        .layer(axum::middleware::from_fn(unread_body::close_if_unread))
        .layer(axum::middleware::from_fn(middleware::observe))
        .layer(CatchPanicLayer::custom(middleware::panicked))
        .with_state(state)
}

/// How long a drain waits by default.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(20);
