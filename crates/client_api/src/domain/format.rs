//! Text forms of times and dates on the wire: RFC 3339 timestamps in UTC and ISO 8601 calendar dates.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};

/// `2026-11-25T15:06:06.123456Z`.
pub fn timestamp(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC).format(&Rfc3339).unwrap_or_default()
}

/// Optional [`timestamp`].
pub fn timestamp_opt(t: Option<OffsetDateTime>) -> Option<String> {
    t.map(timestamp)
}

/// `2026-11-25`.
pub fn date(d: Date) -> String {
    d.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// Optional [`date`].
pub fn date_opt(d: Option<Date>) -> Option<String> {
    d.map(date)
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<Date> {
    Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
}

/// Parses an RFC 3339 timestamp.
pub fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_timestamps_round_trip() {
        let d = parse_date("2026-02-28").unwrap();
        assert_eq!(date(d), "2026-02-28");
        assert!(parse_date("2026-02-30").is_none());
        assert!(parse_date("26-02-01").is_none());
        let t = parse_timestamp("2026-11-25T16:06:06.5+01:00").unwrap();
        assert_eq!(timestamp(t), "2026-11-25T15:06:06.5Z");
    }
}
