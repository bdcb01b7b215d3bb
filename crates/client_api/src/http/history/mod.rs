//! The change history (`client_api.change_history`, V10) as the API shows it: a client's (itself, its addresses,
//! contact links and risk assessments) and a contact's (itself and its links), newest first in keyset pages, with
//! filters by changed field and by time. One file per endpoint; the entry, the parameters and the query here.
//!
//! Every entry is written by the database in the transaction of the change (triggers), so these lists are the
//! complete record of what changed since the history began, whatever wrote it. Read from the replica like other
//! lists (a `Pcc-Consistency-Token` makes your own writes visible).

pub mod client;
pub mod contact;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use tokio_postgres::Row;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::Query;
use crate::domain::format;
use crate::error::ApiError;
use crate::http::extract::Repeatable;
use crate::http::paging::{Limits, Paging};
use crate::http::respond::JsonResponse;
use crate::http::sql::{Sql, list};

/// One value before and after a change (JSON null where there was none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// Before (null for an insert, or when the field was empty).
    pub old: Value,
    /// After (null for a delete, or when the field was emptied).
    pub new: Value,
}

/// One change of one row.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// Entry id: the order in which the database recorded the changes.
    pub id: i64,
    /// When: the start of the transaction that made the change (the row's `updated_at`).
    #[schema(format = DateTime)]
    pub changed_at: String,
    /// Who: the token subject of the request (for changes made outside the service, the database user).
    pub actor: String,
    /// The request (`X-Request-Id`, the problem `instance`) that made the change; null outside the service.
    pub request_id: Option<String>,
    /// What kind of row changed.
    #[schema(example = "client")]
    pub entity: EntityKind,
    /// Its id.
    pub entity_id: Uuid,
    /// The client the row belongs to (null for a contact's own changes).
    pub client_id: Option<Uuid>,
    /// The contact (for a contact and a contact link).
    pub contact_id: Option<Uuid>,
    /// `insert`, `update`, `move` (the parent changed), `soft_delete`, `restore` or `delete`.
    #[schema(example = "update")]
    pub operation: String,
    /// The row's version after the change (null after a delete, and for risk assessments, which have none).
    pub version: Option<i64>,
    /// The fields whose value changed, each with its old and new value in the API's forms.
    pub changes: BTreeMap<String, Change>,
}

/// The kinds of rows with a history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A client (portfolio company).
    Client,
    /// One of a client's addresses.
    Address,
    /// A contact (person).
    Contact,
    /// A contact's link to a client (role and validity).
    ContactLink,
    /// A risk assessment of a client.
    RiskAssessment,
}

impl EntityKind {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "client" => Self::Client,
            "address" => Self::Address,
            "contact" => Self::Contact,
            "contact_link" => Self::ContactLink,
            "risk_assessment" => Self::RiskAssessment,
            _ => return None,
        })
    }

    /// The fields the database records for this kind: every column except generated and audit ones
    /// (`tg_record_change`, V10 and V11; V12 and V13 added columns). A test compares these lists with the catalog.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Self::Client => &[
                "display_name",
                "legal_name",
                "lei",
                "registration_authority",
                "registration_number",
                "incorporation_country",
                "hq_country",
                "website",
                "status",
                "owner",
                "parent_id",
                "root_id",
                "path",
                "depth",
                "industry_scheme",
                "industry_code",
                "employee_count",
                "revenue_amount",
                "revenue_currency",
                "revenue_fiscal_year",
                "risk_category",
                "risk_assessed_at",
                "risk_next_review_due",
                "deleted_at",
                "deleted_by",
                "ownership_percent",
                "ownership_effective_from",
                "ownership_holder_id",
            ],
            Self::Address => &[
                "client_id",
                "address_type",
                "line1",
                "line2",
                "line3",
                "city",
                "region",
                "postal_code",
                "country_code",
            ],
            Self::Contact => &[
                "given_name",
                "family_name",
                "email",
                "phone",
                "job_title",
                "deleted_at",
                "deleted_by",
                "erased_at",
                "erased_by",
                "erasure_reason",
            ],
            Self::ContactLink => &["client_id", "contact_id", "role", "valid_from", "valid_to"],
            Self::RiskAssessment => &[
                "client_id",
                "rating",
                "rationale",
                "assessed_at",
                "assessed_by",
                "next_review_due",
            ],
        }
    }
}

/// Filters and paging of a history.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Only changes of these fields: names separated by commas, or the parameter repeated
    /// (`field=status&field=owner`). An entry matches when it changed any of them.
    pub field: Option<String>,
    /// Only changes made at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only changes made before this RFC 3339 time.
    pub until: Option<String>,
    /// Page size, 1-200 (default 50).
    pub limit: Option<u32>,
    /// Cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl Repeatable for HistoryParams {
    const REPEATABLE: &'static [&'static str] = &["field"];
}

/// Page sizes.
const LIMITS: Limits = Limits { default: 50, max: 200 };

/// Whose history a list is: the rows of one client, or of one contact.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope {
    /// A client and the rows that belong to it.
    Client(Uuid),
    /// A contact and its links.
    Contact(Uuid),
}

impl Scope {
    fn kinds(self) -> &'static [EntityKind] {
        match self {
            Self::Client(_) => &[
                EntityKind::Client,
                EntityKind::Address,
                EntityKind::ContactLink,
                EntityKind::RiskAssessment,
            ],
            Self::Contact(_) => &[EntityKind::Contact, EntityKind::ContactLink],
        }
    }

    /// The column that names the owner, and the owner.
    fn owner(self) -> (&'static str, Uuid) {
        match self {
            Self::Client(id) => ("h.client_id", id),
            Self::Contact(id) => ("h.contact_id", id),
        }
    }
}

/// The fields named by `field=`, checked against those recorded for the kinds of the scope, without repeats.
fn wanted_fields(scope: Scope, value: Option<&str>) -> Result<Option<Vec<String>>, ApiError> {
    let Some(names) = list(value) else {
        return Ok(None);
    };
    if names.is_empty() {
        return Err(ApiError::invalid_parameter("field", "must name at least one field"));
    }
    let mut known: Vec<&str> = scope.kinds().iter().flat_map(|k| k.fields().iter().copied()).collect();
    known.sort_unstable();
    known.dedup();
    let mut wanted = Vec::new();
    for name in names {
        if !known.contains(&name.as_str()) {
            let shown: String = name.chars().take(64).collect();
            return Err(ApiError::invalid_parameter(
                "field",
                format!(
                    "`{shown}` is not a field this history records; it records {}",
                    known.join(", ")
                ),
            ));
        }
        if !wanted.contains(&name) {
            wanted.push(name);
        }
    }
    wanted.sort_unstable();
    Ok(Some(wanted))
}

fn time_parameter(name: &str, value: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    value
        .map(|text| {
            format::parse_timestamp(text).ok_or_else(|| {
                ApiError::invalid_parameter(name, "must be an RFC 3339 time such as 2026-01-31T00:00:00Z")
            })
        })
        .transpose()
}

const ENTRY_COLUMNS: &str = "h.id, h.changed_at, h.actor, h.request_id, h.entity, h.entity_id, h.client_id, \
    h.contact_id, h.operation, (h.stamps -> 'version' ->> 'new')::bigint, h.changes";

fn entry(row: &Row) -> Result<HistoryEntry, ApiError> {
    let entity: String = row.try_get(4).map_err(ApiError::internal)?;
    let changes: Value = row.try_get(10).map_err(ApiError::internal)?;
    Ok(HistoryEntry {
        id: row.try_get(0).map_err(ApiError::internal)?,
        changed_at: format::timestamp(row.try_get(1).map_err(ApiError::internal)?),
        actor: row.try_get(2).map_err(ApiError::internal)?,
        request_id: row.try_get(3).map_err(ApiError::internal)?,
        entity: EntityKind::parse(&entity)
            .ok_or_else(|| ApiError::internal(format!("unknown history entity {entity}")))?,
        entity_id: row.try_get(5).map_err(ApiError::internal)?,
        client_id: row.try_get(6).map_err(ApiError::internal)?,
        contact_id: row.try_get(7).map_err(ApiError::internal)?,
        operation: row.try_get(8).map_err(ApiError::internal)?,
        version: row.try_get(9).map_err(ApiError::internal)?,
        changes: serde_json::from_value(changes).map_err(ApiError::internal)?,
    })
}

/// One page of the history of `scope`, or `None` when the page is empty and neither the owner nor any entry
/// of it exists (the caller answers 404). `exists` is the statement that says whether the owner exists.
///
/// # Errors
/// 422 naming `field`, `since` or `until`; 400 for a cursor of another query; database problems.
pub(crate) async fn page(
    conn: &impl Query,
    scope: Scope,
    exists: &str,
    params: &HistoryParams,
    uri: &http::Uri,
) -> Result<Option<JsonResponse>, ApiError> {
    let fields = wanted_fields(scope, params.field.as_deref())?;
    let since = time_parameter("since", params.since.as_deref())?;
    let until = time_parameter("until", params.until.as_deref())?;
    if let (Some(since), Some(until)) = (since, until)
        && until <= since
    {
        return Err(ApiError::invalid_parameter("until", "must be later than since"));
    }
    let (column, owner) = scope.owner();
    let fingerprint = format!("{:?}", (column, owner, &fields, since, until));
    let paging = Paging::new(
        LIMITS,
        params.limit,
        params.cursor.as_deref(),
        &["history", &fingerprint],
        2,
    )?;

    let mut sql = Sql::new(format!(
        "SELECT {ENTRY_COLUMNS} FROM client_api.change_history AS h WHERE "
    ));
    let at = sql.bind(owner);
    sql.push(&format!("{column} = {at}"));
    if let Some(fields) = fields {
        let at = sql.bind(fields);
        sql.push(&format!(" AND h.fields && {at}::text[]"));
    }
    if let Some(since) = since {
        let at = sql.bind(since);
        sql.push(&format!(" AND h.changed_at >= {at}"));
    }
    if let Some(until) = until {
        let at = sql.bind(until);
        sql.push(&format!(" AND h.changed_at < {at}"));
    }
    if let Some(after) = paging.after() {
        let changed_at = sql.bind(after.timestamp(0)?);
        let id = sql.bind(after.integer(1)?);
        sql.push(&format!(" AND (h.changed_at, h.id) < ({changed_at}, {id})"));
    }
    let limit = sql.bind(paging.fetch());
    sql.push(&format!(" ORDER BY h.changed_at DESC, h.id DESC LIMIT {limit}"));

    let rows = conn.query(&sql.text, &sql.params()).await?;
    if rows.is_empty() && conn.query_opt(exists, &[&owner]).await?.is_none() {
        return Ok(None);
    }
    let items = rows.iter().map(entry).collect::<Result<Vec<_>, _>>()?;
    paging
        .respond(uri, items, |last| vec![last.changed_at.clone().into(), last.id.into()])
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProblemKind;

    #[test]
    fn field_filters_name_recorded_fields_of_the_scope() {
        let client = Scope::Client(Uuid::nil());
        assert_eq!(wanted_fields(client, None).unwrap(), None);
        assert_eq!(
            wanted_fields(client, Some("status, city,status")).unwrap(),
            Some(vec!["city".to_owned(), "status".to_owned()])
        );
        for bad in ["", ",", "colour", "version", "updated_at", "email"] {
            let error = wanted_fields(client, Some(bad)).unwrap_err();
            assert_eq!(error.kind, ProblemKind::Validation, "{bad}");
            assert_eq!(error.errors[0].parameter.as_deref(), Some("field"), "{bad}");
        }
        let contact = Scope::Contact(Uuid::nil());
        assert!(wanted_fields(contact, Some("email,role")).is_ok());
        assert!(wanted_fields(contact, Some("display_name")).is_err());
    }

    #[test]
    fn times_are_rfc_3339_and_name_their_parameter() {
        assert!(
            time_parameter("since", Some("2026-01-31T00:00:00+01:00"))
                .unwrap()
                .is_some()
        );
        let error = time_parameter("until", Some("2026-01-31")).unwrap_err();
        assert_eq!(error.errors[0].parameter.as_deref(), Some("until"));
    }
}
