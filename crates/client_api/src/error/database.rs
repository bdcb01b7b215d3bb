//! Database errors to problems: the schema's SQLSTATEs and constraint names are the contract (docs/SCHEMA.md).
//!
//! Custom class PC (V4): PC001 cycle, PC002 too deep, PC003 live children, PC004 parent deleted, PC005 status
//! transition, PC006 append-only, PC007 row deleted, PC008 version mismatch, PC009 not found, PC010 reference
//! code withdrawn; PC014 (V10) history not kept that far back; PC015 (V12) contact erased; PC020 (V14) import
//! job state refused. Standard integrity classes are mapped by constraint name to a JSON pointer and a message
//! (the table below), so a client learns which field broke which rule, never the SQL.

use tokio_postgres::error::{DbError, SqlState};

use super::{ApiError, FieldError, ProblemKind};

/// Constraint name -> (JSON pointer of the field, what the rule is).
const CONSTRAINTS: &[(&str, &str, &str)] = &[
    (
        "client_display_name_clean",
        "/display_name",
        "must be 1-200 characters, without surrounding whitespace or control characters",
    ),
    (
        "client_legal_name_clean",
        "/legal_name",
        "must be 1-500 characters, without surrounding whitespace or control characters",
    ),
    (
        "client_lei_valid",
        "/lei",
        "is not a valid ISO 17442 LEI (18 characters A-Z/0-9 and 2 MOD 97-10 check digits)",
    ),
    (
        "client_registration_authority_format",
        "/registration_authority",
        "must be a GLEIF registration authority code such as RA000585",
    ),
    (
        "client_registration_number_clean",
        "/registration_number",
        "must be 1-100 characters, without surrounding whitespace or control characters",
    ),
    (
        "client_registration_complete",
        "/registration_number",
        "registration_authority and registration_number must be given together",
    ),
    (
        "client_incorporation_country_fk",
        "/incorporation_country",
        "is not an ISO 3166-1 alpha-2 country code",
    ),
    (
        "client_hq_country_fk",
        "/hq_country",
        "is not an ISO 3166-1 alpha-2 country code",
    ),
    (
        "client_website_format",
        "/website",
        "must be an http(s) URL with a host name, at most 2048 characters",
    ),
    (
        "client_status_fk",
        "/status",
        "is not a client status (prospect, onboarding, active, suspended, exited)",
    ),
    (
        "client_owner_clean",
        "/owner",
        "must be 1-200 characters, without surrounding whitespace or control characters",
    ),
    ("client_parent_fk", "/parent_id", "no client has this id"),
    (
        "client_industry_fk",
        "/industry_code",
        "is not a code of this industry scheme",
    ),
    (
        "client_industry_complete",
        "/industry_code",
        "industry_scheme and industry_code must be given together",
    ),
    (
        "client_employee_count_range",
        "/employee_count",
        "must be between 0 and 10000000",
    ),
    (
        "client_revenue_currency_fk",
        "/revenue_currency",
        "is not an ISO 4217 currency code",
    ),
    (
        "client_revenue_complete",
        "/revenue_amount",
        "revenue_amount and revenue_currency must be given together",
    ),
    (
        "client_revenue_range",
        "/revenue_amount",
        "must be at least 0, below 1e18, with at most 4 decimals",
    ),
    (
        "client_revenue_minor_units",
        "/revenue_amount",
        "has more decimals than the currency allows",
    ),
    (
        "client_revenue_fiscal_year_range",
        "/revenue_fiscal_year",
        "must be between 1900 and 2200, and needs a revenue_amount",
    ),
    (
        "risk_assessment_rating_fk",
        "/rating",
        "is not a risk rating (low, medium, high, critical)",
    ),
    (
        "risk_assessment_rationale_length",
        "/rationale",
        "must be 1-10000 characters",
    ),
    (
        "risk_assessment_assessed_by_clean",
        "/assessed_by",
        "must be 1-200 characters, without surrounding whitespace or control characters",
    ),
    (
        "risk_assessment_review_after_assessment",
        "/next_review_due",
        "must be after the assessment date",
    ),
    (
        "risk_assessment_review_within_5_years",
        "/next_review_due",
        "must be within 5 years of the assessment",
    ),
    (
        "risk_assessment_not_in_future",
        "/assessed_at",
        "must not be in the future",
    ),
    ("client_address_type_fk", "/address_type", "is not an address type"),
    (
        "client_address_country_fk",
        "/country_code",
        "is not an ISO 3166-1 alpha-2 country code",
    ),
    (
        "client_address_line1_clean",
        "/line1",
        "must be 1-200 characters, without surrounding whitespace or control characters",
    ),
    (
        "client_address_line2_clean",
        "/line2",
        "must be 1-200 characters, without surrounding whitespace or control characters",
    ),
    (
        "client_address_line3_clean",
        "/line3",
        "must be 1-200 characters, without surrounding whitespace or control characters",
    ),
    (
        "client_address_city_clean",
        "/city",
        "must be 1-100 characters, without surrounding whitespace or control characters",
    ),
    (
        "client_address_region_clean",
        "/region",
        "must be 1-100 characters, without surrounding whitespace or control characters",
    ),
    (
        "client_address_postal_code_format",
        "/postal_code",
        "must be 1-16 letters, digits, spaces or dashes, starting and ending with a letter or digit",
    ),
    (
        "contact_given_name_clean",
        "/given_name",
        "must be 1-200 characters, without surrounding whitespace or control characters",
    ),
    (
        "contact_family_name_clean",
        "/family_name",
        "must be 1-200 characters, without surrounding whitespace or control characters",
    ),
    (
        "contact_job_title_clean",
        "/job_title",
        "must be 1-200 characters, without surrounding whitespace or control characters",
    ),
    ("contact_email_format", "/email", "is not a valid e-mail address"),
    (
        "contact_phone_e164",
        "/phone",
        "must be an E.164 number: +, country code, at most 15 digits",
    ),
    ("client_contact_contact_fk", "/contact_id", "no contact has this id"),
    ("client_contact_role_fk", "/role", "is not a contact role"),
    ("client_contact_validity_order", "/valid_to", "must be after valid_from"),
    (
        "contact_erasure_reason_clean",
        "/reason",
        "is required: 1-500 characters, without surrounding whitespace or control characters",
    ),
    (
        "client_ownership_complete",
        "/ownership",
        "needs a parent_id: a stake is the parent's share of this client",
    ),
    (
        "client_ownership_holder_is_parent",
        "/ownership",
        "must be the stake of the client's parent (parent_id)",
    ),
    (
        "client_ownership_percent_range",
        "/ownership/percent",
        "must be more than 0 and at most 100, with at most 4 decimals",
    ),
    (
        "client_ownership_effective_from_range",
        "/ownership/effective_from",
        "must be 1900-01-01 or later",
    ),
    (
        "client_ownership_effective_from_not_future",
        "/ownership/effective_from",
        "must not be in the future (the stake recorded is the one in effect)",
    ),
];

/// Unique and exclusion constraints -> what the conflict is.
const CONFLICTS: &[(&str, &str)] = &[
    ("client_lei_live_key", "a live client already has this LEI"),
    (
        "client_registration_live_key",
        "a live client already has this registration authority and number",
    ),
    (
        "client_address_single_type_key",
        "the client already has an address of this type",
    ),
    (
        "client_contact_one_primary",
        "the client already has a primary contact for an overlapping period",
    ),
    (
        "client_contact_no_overlap",
        "the contact already holds this role at this client for an overlapping period",
    ),
    ("client_pkey", "a client with this id already exists"),
    ("contact_pkey", "a contact with this id already exists"),
];

fn field_for(constraint: &str) -> Option<(&'static str, &'static str)> {
    CONSTRAINTS
        .iter()
        .find(|(name, ..)| *name == constraint)
        .map(|(_, p, m)| (*p, *m))
}

/// Translates a db_router error into the problem a client should see: server errors by SQLSTATE and
/// constraint, routing and availability failures as 503 with `Retry-After` (load shedding included).
pub fn from_router_error(e: &db_router::RouterError) -> ApiError {
    use db_router::RouterError as R;
    let seconds = |d: std::time::Duration| d.as_secs_f64().ceil().max(1.0) as u64;
    match e {
        R::Db(_) => match e.as_db_error() {
            Some(db) => from_server_error(db),
            None if e.is_retryable() => ApiError::unavailable("the database connection was lost; retry", 1),
            None => match e {
                R::Db(failure) => from_db_error(&failure.source),
                _ => ApiError::internal(e),
            },
        },
        R::CheckoutTimeout { .. } => {
            metrics::counter!("http_shed_total", "reason" => "pool_exhausted").increment(1);
            ApiError::unavailable("all database connections are busy; retry shortly", 1)
        }
        R::PrimaryUnavailable { retry_after, .. } => {
            ApiError::unavailable("the primary database is not available; retry", seconds(*retry_after))
        }
        R::Overloaded { retry_after, .. } => {
            ApiError::unavailable("no replica can serve this read right now; retry", seconds(*retry_after))
        }
        R::Timeout { .. } => {
            tracing::warn!(error = %e, "database timeout");
            ApiError::unavailable("the database took too long to answer; retry", 1)
        }
        R::Connect { .. } | R::WrongRole { .. } | R::AuthFailed { .. } | R::Credentials(_) => {
            tracing::warn!(error = %e, "database unavailable");
            ApiError::unavailable("the database is not available right now; retry", 2)
        }
        R::RowCount { .. } | R::Aborted | R::Config(_) => ApiError::internal(e),
    }
}

/// Translates a tokio-postgres error into the problem a client should see.
pub fn from_db_error(e: &tokio_postgres::Error) -> ApiError {
    match e.as_db_error() {
        Some(db) => from_server_error(db),
        None if e.is_closed() => ApiError::unavailable("the database connection was lost; retry", 1),
        // Client-side conversion errors are bugs of the service, not outages.
        None if is_conversion(e) => ApiError::internal(format!("database value conversion: {e}")),
        None => ApiError::unavailable(format!("the database could not be reached: {e}"), 1),
    }
}

fn is_conversion(e: &tokio_postgres::Error) -> bool {
    let text = e.to_string();
    text.starts_with("error serializing") || text.starts_with("error deserializing") || text.contains("invalid column")
}

fn from_server_error(db: &DbError) -> ApiError {
    from_sqlstate(&ServerError {
        code: db.code().code(),
        constraint: db.constraint(),
        column: db.column(),
        message: db.message(),
        detail: db.detail(),
    })
}

/// What the server said about an error, field by field: from a [`DbError`], or as a PL/pgSQL function
/// reported it for a row it caught the error for (`GET STACKED DIAGNOSTICS`, the import's batch function).
#[derive(Debug, Clone, Copy)]
pub struct ServerError<'a> {
    /// The SQLSTATE.
    pub code: &'a str,
    /// The constraint name, when the error names one.
    pub constraint: Option<&'a str>,
    /// The column, when the error names one.
    pub column: Option<&'a str>,
    /// The primary message.
    pub message: &'a str,
    /// The detail, when there is one.
    pub detail: Option<&'a str>,
}

/// Translates a server error (by its SQLSTATE, constraint and column) into the problem a client should see.
pub fn from_sqlstate(db: &ServerError<'_>) -> ApiError {
    let code = db.code;
    let constraint = db.constraint.unwrap_or("");
    let column = db.column;
    match code {
        "PC001" => ApiError::new(ProblemKind::HierarchyCycle, db.message),
        "PC002" => ApiError::new(ProblemKind::HierarchyTooDeep, db.message),
        "PC003" => ApiError::new(ProblemKind::HasChildren, db.message),
        "PC004" => ApiError::new(ProblemKind::ParentDeleted, db.message),
        "PC005" => ApiError::new(ProblemKind::StatusTransition, db.message),
        "PC006" => ApiError::new(ProblemKind::Conflict, db.message),
        "PC007" => ApiError::new(ProblemKind::Deleted, db.message),
        "PC008" => ApiError::new(ProblemKind::PreconditionFailed, db.message),
        "PC009" => ApiError::new(ProblemKind::NotFound, db.message),
        "PC015" => ApiError::new(ProblemKind::Erased, db.message),
        "PC010" => {
            let pointer = format!("/{}", column.unwrap_or(""));
            ApiError::invalid_field(&pointer, db.message)
        }
        // An import job's state (V14): a second runner or a late write lost to the job's end.
        "PC020" => ApiError::new(ProblemKind::Conflict, db.message),
        // Raised only by client_as_of (V10), whose time is the `as_of` parameter; the detail is the time the
        // kept history starts.
        "PC014" => ApiError::invalid_parameter(
            "as_of",
            format!(
                "is earlier than the kept history, which starts at {}",
                db.detail.unwrap_or("a later time")
            ),
        ),
        _ if code == SqlState::UNIQUE_VIOLATION.code() || code == SqlState::EXCLUSION_VIOLATION.code() => {
            let detail = CONFLICTS
                .iter()
                .find(|(name, _)| *name == constraint)
                .map_or("the change conflicts with existing data", |(_, m)| m);
            ApiError::new(ProblemKind::Conflict, detail)
        }
        _ if code == SqlState::FOREIGN_KEY_VIOLATION.code() || code == SqlState::CHECK_VIOLATION.code() => {
            if constraint == "client_not_own_parent" {
                return ApiError::new(ProblemKind::HierarchyCycle, "a client cannot be its own parent");
            }
            if matches!(
                constraint,
                "risk_assessment_client_fk" | "client_address_client_fk" | "client_contact_client_fk"
            ) {
                return ApiError::new(ProblemKind::NotFound, "the client does not exist");
            }
            match field_for(constraint) {
                Some((pointer, message)) => ApiError::validation(vec![FieldError::pointer(pointer, message)]),
                None => {
                    tracing::warn!(
                        db.constraint = constraint,
                        db.code = code,
                        "unmapped constraint violation"
                    );
                    ApiError::new(
                        ProblemKind::Validation,
                        format!("the request breaks the rule {constraint}"),
                    )
                }
            }
        }
        _ if code == SqlState::NOT_NULL_VIOLATION.code() => {
            let column = column.unwrap_or("value");
            ApiError::invalid_field(&format!("/{column}"), "is required")
        }
        // Class 22: a value the server could not take (numeric overflow, a bad date, ...).
        _ if code.starts_with("22") => ApiError::new(ProblemKind::Validation, db.message),
        _ if code == SqlState::T_R_SERIALIZATION_FAILURE.code() || code == SqlState::T_R_DEADLOCK_DETECTED.code() => {
            ApiError::unavailable("the request collided with a concurrent change; retry", 1)
        }
        _ if code == SqlState::QUERY_CANCELED.code() => {
            tracing::warn!(
                db.code = code,
                db.message = db.message,
                "statement cancelled (statement_timeout)"
            );
            ApiError::unavailable("the database took too long to answer; retry", 1)
        }
        _ if code.starts_with("08")
            || code.starts_with("57P")
            || code == SqlState::TOO_MANY_CONNECTIONS.code()
            || code == SqlState::READ_ONLY_SQL_TRANSACTION.code()
            || code == SqlState::INVALID_PASSWORD.code() =>
        {
            ApiError::unavailable("the database is not available right now; retry", 2)
        }
        _ => ApiError::internal(format!("database error {code}: {}", db.message)),
    }
}
