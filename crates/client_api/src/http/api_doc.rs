//! The OpenAPI document's root: every path and the security scheme. Adding a route means adding its handler
//! here too (a test compares this list with the router's routes).

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::{FieldError, Problem};

use crate::http::{
    addresses, clients, contacts, exports, hierarchy, history, imports, links, ops, reference, reports, risk,
};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "pcc-client-api", description = "Client portfolio management: portfolio companies, their group hierarchy, metadata and contacts. Errors are RFC 9457 problem documents; see docs/API.md.", version = "1"),
    paths(
        clients::list::list_clients,
        clients::create::create_client,
        clients::get::get_client,
        clients::update::update_client,
        clients::delete::delete_client,
        clients::restore::restore_client,
        hierarchy::children::list_children,
        hierarchy::descendants::list_descendants,
        hierarchy::ancestors::list_ancestors,
        hierarchy::tree::get_tree,
        hierarchy::moves::list_moves,
        history::client::client_history,
        history::contact::contact_history,
        risk::list::list_risk_assessments,
        risk::create::create_risk_assessment,
        addresses::list::list_addresses,
        addresses::create::create_address,
        addresses::update::update_address,
        addresses::delete::delete_address,
        links::list::list_client_contacts,
        links::create::link_contact,
        links::update::update_link,
        links::delete::unlink_contact,
        contacts::list::list_contacts,
        contacts::create::create_contact,
        contacts::get::get_contact,
        contacts::update::update_contact,
        contacts::delete::delete_contact,
        contacts::erase::erase_contact,
        contacts::clients::list_contact_clients,
        imports::create::import_clients,
        imports::get::get_import,
        exports::clients::export_clients,
        reports::portfolio_summary::portfolio_summary,
        reports::reviews_due::reviews_due,
        reference::countries::list_countries,
        reference::currencies::list_currencies,
        reference::industry_codes::list_industry_codes,
        reference::vocabularies::get_vocabulary,
        ops::health::healthz,
        ops::health::readyz,
        ops::metrics::metrics,
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&Security, &CommonProblems),
    tags(
        (name = "clients", description = "Portfolio companies"),
        (name = "hierarchy", description = "Group structure: children, descendants, ancestors, tree, moves"),
        (name = "metadata", description = "Risk assessments and addresses"),
        (name = "contacts", description = "People and their links to clients"),
        (name = "history", description = "Change history (audit trail) of clients and contacts"),
        (name = "imports", description = "Bulk import of clients as jobs (CSV, JSON lines)"),
        (name = "exports", description = "Bulk export of clients (CSV, streamed)"),
        (name = "reports", description = "Portfolio roll-ups and reviews due"),
        (name = "reference", description = "Countries, currencies, industry codes, vocabularies"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Documents the problems any API operation can answer with, beyond those its handler lists: the
/// authentication, validation, body, consistency-token and availability failures shared by every route.
struct CommonProblems;

fn problem_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                Content::new(Some(Ref::from_schema_name("Problem"))),
            )
            .build(),
    )
}

fn add_common(path: &str, operation: &mut Operation, with_body: bool) {
    let mut common: Vec<(&str, &str)> = vec![
        ("400", "Malformed request (body, cursor or consistency token)"),
        ("401", "Missing or invalid bearer token"),
        ("403", "The token lacks the scope"),
        ("422", "Validation failed"),
        ("500", "Internal error"),
        ("503", "Overloaded or database unavailable; see Retry-After"),
    ];
    if path.contains('{') {
        common.push(("404", "No such resource"));
    }
    if with_body {
        common.push(("413", "Body too large"));
        common.push(("415", "Unsupported media type"));
    }
    for (status, description) in common {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| problem_response(description));
    }
}

/// Every successful response of a read may carry `Pcc-Read-Staleness-Ms` (http::staleness), set by a
/// middleware rather than by each handler, so it is documented here once.
fn add_staleness_header(operation: &mut Operation) {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let header = utoipa::openapi::header::HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0))))
        .description(Some(
            "How old the data may be, in milliseconds (rounded up): 0 when read on the primary, else an upper \
             bound on the replica's lag. Absent when the request read nothing or the bound is not yet known.",
        ))
        .build();
    for (status, response) in &mut operation.responses.responses {
        if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
            response
                .headers
                .entry("Pcc-Read-Staleness-Ms".to_owned())
                .or_insert_with(|| RefOr::T(header.clone()));
        }
    }
}

impl Modify for CommonProblems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            if !path.starts_with("/v1") {
                continue;
            }
            for (operation, with_body) in [
                (&mut item.get, false),
                (&mut item.delete, false),
                (&mut item.post, true),
                (&mut item.patch, true),
                (&mut item.put, true),
            ] {
                if let Some(operation) = operation.as_mut() {
                    add_common(path, operation, with_body);
                }
            }
            if let Some(get) = item.get.as_mut() {
                add_staleness_header(get);
            }
        }
    }
}
