//! The catalogue of problem types: one entry per error kind, each with its `type` URI, title and HTTP status.
//!
//! RFC 9457 asks that a problem `type` be a URI that identifies the kind of problem and, ideally, documents it.
//! Ours are relative references (`/problems/<slug>`), resolved against the service's own URL, where
//! `GET /problems/<slug>` serves the description below; docs/API.md lists the same table for client teams.

use http::StatusCode;

/// Every kind of problem the service reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// The request body or parameters break a rule; `errors` lists each with a JSON pointer.
    Validation,
    /// The body is not JSON, or not of the expected shape (wrong type, unknown field).
    MalformedBody,
    /// The body is larger than the service accepts.
    PayloadTooLarge,
    /// The body's media type is not one the endpoint accepts.
    UnsupportedMediaType,
    /// No such resource (or it is not visible to the caller).
    NotFound,
    /// The method is not allowed on this resource.
    MethodNotAllowed,
    /// The request conflicts with the current state (a duplicate LEI, an overlapping primary contact, ...).
    Conflict,
    /// The change would make a client its own ancestor.
    HierarchyCycle,
    /// The change would make the hierarchy deeper than its limit.
    HierarchyTooDeep,
    /// The client still has live children.
    HasChildren,
    /// The parent client is deleted.
    ParentDeleted,
    /// The resource is deleted and must be restored first.
    Deleted,
    /// The contact's personal data was erased; it cannot be written again.
    Erased,
    /// The status change is not an allowed transition.
    StatusTransition,
    /// The request needs `If-Match` and did not send it.
    PreconditionRequired,
    /// `If-Match` names a version that is not the current one.
    PreconditionFailed,
    /// The `Idempotency-Key` was used before for a different request.
    IdempotencyKeyReused,
    /// The `cursor` parameter is not one this service issued for this query.
    InvalidCursor,
    /// The consistency token is malformed.
    InvalidConsistencyToken,
    /// No or an invalid bearer token.
    Unauthorized,
    /// The token lacks the scope the endpoint needs.
    Forbidden,
    /// The service is overloaded or the database is unreachable; retry after `Retry-After`.
    Unavailable,
    /// A bug: the service failed unexpectedly. The `instance` (request id) identifies it in the logs.
    Internal,
}

/// The static description of one kind.
#[derive(Debug, Clone, Copy)]
pub struct KindInfo {
    /// The last path segment of the type URI.
    pub slug: &'static str,
    /// The problem's `title`: the same for every occurrence of the kind.
    pub title: &'static str,
    /// The HTTP status.
    pub status: StatusCode,
    /// What it means and what to do, for the documentation page.
    pub description: &'static str,
}

impl ProblemKind {
    /// Every kind, in documentation order.
    pub const ALL: [ProblemKind; 23] = [
        Self::Validation,
        Self::MalformedBody,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::Conflict,
        Self::HierarchyCycle,
        Self::HierarchyTooDeep,
        Self::HasChildren,
        Self::ParentDeleted,
        Self::Deleted,
        Self::Erased,
        Self::StatusTransition,
        Self::PreconditionRequired,
        Self::PreconditionFailed,
        Self::IdempotencyKeyReused,
        Self::InvalidCursor,
        Self::InvalidConsistencyToken,
        Self::Unauthorized,
        Self::Forbidden,
        Self::Unavailable,
        Self::Internal,
    ];

    /// The kind's static description.
    pub fn info(self) -> KindInfo {
        use StatusCode as S;
        let (slug, title, status, description) = match self {
            Self::Validation => (
                "validation",
                "Validation failed",
                S::UNPROCESSABLE_ENTITY,
                "One or more values break a rule. `errors` lists each one with a JSON pointer (`pointer`) into the request body, or the query parameter name (`parameter`), and a message. Fix the values and send the request again.",
            ),
            Self::MalformedBody => (
                "malformed-body",
                "Malformed request body",
                S::BAD_REQUEST,
                "The body is not valid JSON, a value has the wrong type, or an object has a field this endpoint does not know. `errors` points at the offending place. Nothing was written.",
            ),
            Self::PayloadTooLarge => (
                "payload-too-large",
                "Payload too large",
                S::PAYLOAD_TOO_LARGE,
                "The body exceeds the size limit of the service (64 KiB by default). Nothing was written.",
            ),
            Self::UnsupportedMediaType => (
                "unsupported-media-type",
                "Unsupported media type",
                S::UNSUPPORTED_MEDIA_TYPE,
                "Send `Content-Type: application/json` (or `application/merge-patch+json` for PATCH).",
            ),
            Self::NotFound => (
                "not-found",
                "Not found",
                S::NOT_FOUND,
                "No resource exists at this URL, or the identifier in the path is not a valid UUID.",
            ),
            Self::MethodNotAllowed => (
                "method-not-allowed",
                "Method not allowed",
                S::METHOD_NOT_ALLOWED,
                "The resource exists but does not support this method; `Allow` lists the ones it does.",
            ),
            Self::Conflict => (
                "conflict",
                "Conflict",
                S::CONFLICT,
                "The request conflicts with the current state: a live client already has this LEI or registration, a contact link overlaps another one, a single-per-client address type is taken. `detail` says which.",
            ),
            Self::HierarchyCycle => (
                "hierarchy-cycle",
                "Hierarchy cycle",
                S::CONFLICT,
                "The new parent is the client itself or one of its descendants; a group structure can never contain a cycle.",
            ),
            Self::HierarchyTooDeep => (
                "hierarchy-too-deep",
                "Hierarchy too deep",
                S::CONFLICT,
                "The move would make the group deeper than 16 levels (the client plus its deepest descendant under the new parent).",
            ),
            Self::HasChildren => (
                "has-children",
                "Client has live children",
                S::CONFLICT,
                "A client with live children cannot be deleted; move or delete the children first.",
            ),
            Self::ParentDeleted => (
                "parent-deleted",
                "Parent is deleted",
                S::CONFLICT,
                "A live client cannot be placed under (or restored beneath) a deleted parent; restore the parent first.",
            ),
            Self::Deleted => (
                "deleted",
                "Resource is deleted",
                S::CONFLICT,
                "The resource is soft-deleted and read-only; restore it first (`POST .../restore`).",
            ),
            Self::Erased => (
                "erased",
                "Personal data erased",
                S::CONFLICT,
                "The contact's personal data was erased (`POST /v1/contacts/{id}/erase`). Erasure cannot be undone: an erased contact cannot be changed or linked to a client again (it can still be deleted, and its existing links ended or removed). Create a new contact if the person is to be recorded again.",
            ),
            Self::StatusTransition => (
                "status-transition",
                "Status transition not allowed",
                S::CONFLICT,
                "The client cannot move from its current status to the requested one; `GET /v1/reference/client-statuses` lists the allowed transitions.",
            ),
            Self::PreconditionRequired => (
                "precondition-required",
                "Precondition required",
                S::PRECONDITION_REQUIRED,
                "Updates and deletes need `If-Match` with the ETag of the version you read, so that concurrent edits are never lost.",
            ),
            Self::PreconditionFailed => (
                "precondition-failed",
                "Precondition failed",
                S::PRECONDITION_FAILED,
                "The resource changed since you read it (`If-Match` does not match its current ETag). Read it again, re-apply your change, and retry.",
            ),
            Self::IdempotencyKeyReused => (
                "idempotency-key-reused",
                "Idempotency key reused",
                S::UNPROCESSABLE_ENTITY,
                "This `Idempotency-Key` was already used for a different request (method, path or body). Use a new key for a new request.",
            ),
            Self::InvalidCursor => (
                "invalid-cursor",
                "Invalid cursor",
                S::BAD_REQUEST,
                "The `cursor` is not one this service issued, or it was issued for a different query (other filters or sort). Start again from the first page.",
            ),
            Self::InvalidConsistencyToken => (
                "invalid-consistency-token",
                "Invalid consistency token",
                S::BAD_REQUEST,
                "The `Pcc-Consistency-Token` header is not a token this service issued. Send back exactly the value a write response carried.",
            ),
            Self::Unauthorized => (
                "unauthorized",
                "Unauthorized",
                S::UNAUTHORIZED,
                "Send `Authorization: Bearer <JWT>` with a valid, unexpired token from the configured issuer for this audience.",
            ),
            Self::Forbidden => (
                "forbidden",
                "Forbidden",
                S::FORBIDDEN,
                "The token is valid but lacks the scope this endpoint needs (`clients:read` for reads, `clients:write` for writes).",
            ),
            Self::Unavailable => (
                "unavailable",
                "Service unavailable",
                S::SERVICE_UNAVAILABLE,
                "The service is overloaded or cannot reach its database right now. Retry after the `Retry-After` seconds; the request was not applied.",
            ),
            Self::Internal => (
                "internal",
                "Internal error",
                S::INTERNAL_SERVER_ERROR,
                "An unexpected failure. Nothing was written unless the response says otherwise. Report the `instance` value (the request id).",
            ),
        };
        KindInfo {
            slug,
            title,
            status,
            description,
        }
    }

    /// The `type` URI (relative to the service's base URL).
    pub fn type_uri(self) -> String {
        format!("/problems/{}", self.info().slug)
    }

    /// The kind with this slug.
    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.info().slug == slug)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_unique_slug_and_an_error_status() {
        let mut slugs = std::collections::HashSet::new();
        for kind in ProblemKind::ALL {
            let info = kind.info();
            assert!(slugs.insert(info.slug), "duplicate slug {}", info.slug);
            assert!(info.status.is_client_error() || info.status.is_server_error());
            assert_eq!(ProblemKind::from_slug(info.slug), Some(kind));
        }
    }
}
