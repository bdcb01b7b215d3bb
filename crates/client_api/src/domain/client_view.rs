//! A client read straight from its row for a response, without copying: [`ClientView`] borrows the row's
//! text and serializes to exactly the JSON of [`Client`] (the same fields, names and order; timestamps and
//! dates formatted on the stack as [`super::format`] writes them). Lists serialize pages of these: a page of
//! 50 clients built as owned [`Client`]s cost about 1,650 string allocations and their frees, measured as the
//! largest share of the list path's CPU after JSON escaping itself.

use serde::{Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};
use tokio_postgres::Row;
use uuid::Uuid;

use super::client::{Client, Ownership};

/// A timestamp on the wire (`2026-11-25T15:06:06.123456Z`), formatted when serialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireTime(pub OffsetDateTime);

/// A calendar date on the wire (`2026-11-25`), formatted when serialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireDate(pub Date);

/// Formats into a stack buffer and serializes the text (RFC 3339 in UTC needs at most 35 bytes).
fn serialize_formatted<S: Serializer>(
    serializer: S,
    write: impl FnOnce(&mut std::io::Cursor<&mut [u8]>) -> Result<usize, time::error::Format>,
) -> Result<S::Ok, S::Error> {
    let mut buffer = [0u8; 64];
    let mut cursor = std::io::Cursor::new(&mut buffer[..]);
    write(&mut cursor).map_err(serde::ser::Error::custom)?;
    // What the cursor advanced by (format_into's own count is not the whole text for Rfc3339).
    let written = usize::try_from(cursor.position()).map_err(serde::ser::Error::custom)?;
    let text = std::str::from_utf8(&buffer[..written]).map_err(serde::ser::Error::custom)?;
    serializer.serialize_str(text)
}

impl Serialize for WireTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let utc = self.0.to_offset(UtcOffset::UTC);
        serialize_formatted(serializer, |out| utc.format_into(out, &Rfc3339))
    }
}

impl Serialize for WireDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let date = self.0;
        serialize_formatted(serializer, |out| {
            date.format_into(out, format_description!("[year]-[month]-[day]"))
        })
    }
}

/// The parent's stake, borrowed.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct OwnershipView<'a> {
    /// See [`Ownership::percent`].
    pub percent: &'a str,
    /// See [`Ownership::effective_from`].
    pub effective_from: WireDate,
}

/// A client borrowed from its row; the fields of [`Client`], in its order.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)] // The fields of `Client`, documented there.
pub struct ClientView<'a> {
    pub id: Uuid,
    pub display_name: &'a str,
    pub legal_name: &'a str,
    pub lei: Option<&'a str>,
    pub registration_authority: Option<&'a str>,
    pub registration_number: Option<&'a str>,
    pub incorporation_country: Option<&'a str>,
    pub hq_country: Option<&'a str>,
    pub website: Option<&'a str>,
    pub status: &'a str,
    pub owner: Option<&'a str>,
    pub parent_id: Option<Uuid>,
    pub root_id: Uuid,
    pub depth: i16,
    pub industry_scheme: Option<&'a str>,
    pub industry_code: Option<&'a str>,
    pub employee_count: Option<i32>,
    pub size_band: Option<&'a str>,
    pub revenue_amount: Option<&'a str>,
    pub revenue_currency: Option<&'a str>,
    pub revenue_fiscal_year: Option<i16>,
    pub risk_category: Option<&'a str>,
    pub risk_assessed_at: Option<WireTime>,
    pub risk_next_review_due: Option<WireDate>,
    pub version: i64,
    pub created_at: WireTime,
    pub created_by: &'a str,
    pub updated_at: WireTime,
    pub updated_by: &'a str,
    pub deleted_at: Option<WireTime>,
    pub deleted_by: Option<&'a str>,
    pub ownership: Option<OwnershipView<'a>>,
}

impl<'a> ClientView<'a> {
    /// Borrows a row whose first columns are [`super::CLIENT_COLUMNS`], in that order.
    ///
    /// # Errors
    /// A column of an unexpected type (a schema drift: reported as 500).
    pub fn from_row(row: &'a Row) -> Result<Self, tokio_postgres::Error> {
        // By position (the order of CLIENT_COLUMNS): a name lookup per column costs more than the row.
        Ok(Self {
            id: row.try_get(0)?,
            display_name: row.try_get(1)?,
            legal_name: row.try_get(2)?,
            lei: row.try_get(3)?,
            registration_authority: row.try_get(4)?,
            registration_number: row.try_get(5)?,
            incorporation_country: row.try_get(6)?,
            hq_country: row.try_get(7)?,
            website: row.try_get(8)?,
            status: row.try_get(9)?,
            owner: row.try_get(10)?,
            parent_id: row.try_get(11)?,
            root_id: row.try_get(12)?,
            depth: row.try_get(13)?,
            industry_scheme: row.try_get(14)?,
            industry_code: row.try_get(15)?,
            employee_count: row.try_get(16)?,
            size_band: row.try_get(17)?,
            revenue_amount: row.try_get(18)?,
            revenue_currency: row.try_get(19)?,
            revenue_fiscal_year: row.try_get(20)?,
            risk_category: row.try_get(21)?,
            risk_assessed_at: row.try_get::<_, Option<OffsetDateTime>>(22)?.map(WireTime),
            risk_next_review_due: row.try_get::<_, Option<Date>>(23)?.map(WireDate),
            version: row.try_get(24)?,
            created_at: WireTime(row.try_get(25)?),
            created_by: row.try_get(26)?,
            updated_at: WireTime(row.try_get(27)?),
            updated_by: row.try_get(28)?,
            deleted_at: row.try_get::<_, Option<OffsetDateTime>>(29)?.map(WireTime),
            deleted_by: row.try_get(30)?,
            ownership: match (row.try_get::<_, Option<&str>>(31)?, row.try_get::<_, Option<Date>>(32)?) {
                (Some(percent), Some(from)) => Some(OwnershipView {
                    percent,
                    effective_from: WireDate(from),
                }),
                _ => None,
            },
        })
    }

    /// The owned client.
    pub fn to_client(&self) -> Client {
        let own = |s: Option<&str>| s.map(str::to_owned);
        let time = |t: WireTime| super::format::timestamp(t.0);
        Client {
            id: self.id,
            display_name: self.display_name.to_owned(),
            legal_name: self.legal_name.to_owned(),
            lei: own(self.lei),
            registration_authority: own(self.registration_authority),
            registration_number: own(self.registration_number),
            incorporation_country: own(self.incorporation_country),
            hq_country: own(self.hq_country),
            website: own(self.website),
            status: self.status.to_owned(),
            owner: own(self.owner),
            parent_id: self.parent_id,
            root_id: self.root_id,
            depth: self.depth,
            industry_scheme: own(self.industry_scheme),
            industry_code: own(self.industry_code),
            employee_count: self.employee_count,
            size_band: own(self.size_band),
            revenue_amount: own(self.revenue_amount),
            revenue_currency: own(self.revenue_currency),
            revenue_fiscal_year: self.revenue_fiscal_year,
            risk_category: own(self.risk_category),
            risk_assessed_at: self.risk_assessed_at.map(time),
            risk_next_review_due: self.risk_next_review_due.map(|d| super::format::date(d.0)),
            version: self.version,
            created_at: time(self.created_at),
            created_by: self.created_by.to_owned(),
            updated_at: time(self.updated_at),
            updated_by: self.updated_by.to_owned(),
            deleted_at: self.deleted_at.map(time),
            deleted_by: own(self.deleted_by),
            ownership: self.ownership.map(|o| Ownership {
                percent: o.percent.to_owned(),
                effective_from: super::format::date(o.effective_from.0),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn every_field_set() -> ClientView<'static> {
        ClientView {
            id: Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0001),
            display_name: "Acme \"quoted\" \u{e9}",
            legal_name: "Acme Ltd",
            lei: Some("5493001KJTIIGC8Y1R12"),
            registration_authority: Some("RA000463"),
            registration_number: Some("123"),
            incorporation_country: Some("NL"),
            hq_country: Some("DE"),
            website: Some("https://acme.example.com"),
            status: "active",
            owner: Some("rm-1"),
            parent_id: Some(Uuid::from_u128(2)),
            root_id: Uuid::from_u128(3),
            depth: 2,
            industry_scheme: Some("naics_2022"),
            industry_code: Some("541511"),
            employee_count: Some(250),
            size_band: Some("medium"),
            revenue_amount: Some("1250000.50"),
            revenue_currency: Some("EUR"),
            revenue_fiscal_year: Some(2025),
            risk_category: Some("high"),
            risk_assessed_at: Some(WireTime(datetime!(2026-11-25 15:06:06.123456 +01:00))),
            risk_next_review_due: Some(WireDate(time::macros::date!(2027 - 05 - 25))),
            version: 7,
            created_at: WireTime(datetime!(2026-01-02 03:04:05 UTC)),
            created_by: "alice",
            updated_at: WireTime(datetime!(2026-11-25 15:06:06.5 UTC)),
            updated_by: "bob",
            deleted_at: Some(WireTime(datetime!(2026-12-01 00:00:00.000001 UTC))),
            deleted_by: Some("carol"),
            ownership: Some(OwnershipView {
                percent: "51.25",
                effective_from: WireDate(time::macros::date!(2024 - 07 - 01)),
            }),
        }
    }

    #[test]
    fn a_view_serializes_to_the_bytes_of_the_owned_client() {
        let full = every_field_set();
        let empty = ClientView {
            lei: None,
            registration_authority: None,
            registration_number: None,
            incorporation_country: None,
            hq_country: None,
            website: None,
            owner: None,
            parent_id: None,
            industry_scheme: None,
            industry_code: None,
            employee_count: None,
            size_band: None,
            revenue_amount: None,
            revenue_currency: None,
            revenue_fiscal_year: None,
            risk_category: None,
            risk_assessed_at: None,
            risk_next_review_due: None,
            deleted_at: None,
            deleted_by: None,
            ownership: None,
            ..full.clone()
        };
        for view in [full, empty] {
            let borrowed = serde_json::to_string(&view).unwrap();
            let owned = serde_json::to_string(&view.to_client()).unwrap();
            assert_eq!(borrowed, owned);
        }
        // The owned client's keys, all of them, in the view too (a field added to Client and not here fails).
        let owned = serde_json::to_value(every_field_set().to_client()).unwrap();
        assert_eq!(owned.as_object().unwrap().len(), 32);
        let text = serde_json::to_string(&every_field_set()).unwrap();
        assert!(
            text.contains("\"risk_assessed_at\":\"2026-11-25T14:06:06.123456Z\""),
            "{text}"
        );
        assert!(text.contains("\"created_at\":\"2026-01-02T03:04:05Z\""), "{text}");
    }
}
