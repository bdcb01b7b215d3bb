//! The demo generator: one batch of clients in multi-level groups (up to 6 levels), with LEIs (valid check
//! digits), registrations, NAICS codes, sizes, revenues, statuses and owners; risk assessment histories (some
//! reviews overdue); contacts with primary and finance roles; registered addresses. Deterministic apart from
//! the UUIDv7 ids and the clock, and written straight into COPY text rows (no per-field allocation: the
//! benchmark generates a million clients while PostgreSQL ingests the previous batch).
//!
//! Every column the schema's triggers would derive from other rows is computed here (root, path, depth, the
//! current risk copied from the latest assessment), because the load skips those triggers; `super::verify`
//! proves afterwards that the database agrees.

use std::fmt::Write as _;

use time::{Date, Duration, OffsetDateTime, UtcOffset};
use uuid::Uuid;

use super::words::{CITIES, COUNTRIES, FAMILY, GIVEN, NOUNS, OWNERS, PREFIXES, RATINGS, STATUSES};
use super::{Batch, DemoReport};

/// The COPY text (tab-separated, `\N` for NULL) of one batch, table by table, in the column orders of
/// [`super::COPY_STATEMENTS`].
#[derive(Debug, Default)]
pub struct Rows {
    /// `client` rows.
    pub clients: String,
    /// `risk_assessment` rows.
    pub assessments: String,
    /// `contact` rows.
    pub contacts: String,
    /// `client_contact` rows.
    pub links: String,
    /// `client_address` rows.
    pub addresses: String,
    /// Row counts.
    pub report: DemoReport,
}

impl Rows {
    /// The tables' texts in the order of [`super::COPY_STATEMENTS`] (clients first: the others refer to them).
    pub fn tables(&self) -> [&str; 5] {
        [
            &self.clients,
            &self.assessments,
            &self.contacts,
            &self.links,
            &self.addresses,
        ]
    }

    /// The tables' texts, owned, in the order of [`super::COPY_STATEMENTS`].
    pub fn into_tables(self) -> [String; 5] {
        [
            self.clients,
            self.assessments,
            self.contacts,
            self.links,
            self.addresses,
        ]
    }

    /// Bytes of COPY text in all tables.
    pub fn len(&self) -> usize {
        self.tables().iter().map(|t| t.len()).sum()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// SplitMix64: small, fast, deterministic (the demo must be the same on every machine).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// A group member, for choosing parents and deriving the hierarchy columns.
struct Node {
    id: Uuid,
    root: Uuid,
    path: String,
    depth: i16,
    /// Index of the parent within the group (itself for the root).
    parent_index: usize,
}

/// An LEI with valid ISO 7064 MOD 97-10 check digits: LOU prefix, then the serial in base 36.
pub(super) fn lei(serial: u64) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut body = *b"529900000000000000";
    let mut n = serial;
    for slot in body[6..].iter_mut().rev() {
        *slot = DIGITS[(n % 36) as usize];
        n /= 36;
    }
    let mut remainder: u64 = 0;
    for &b in body.iter().chain(b"00") {
        remainder = if b.is_ascii_digit() {
            (remainder * 10 + u64::from(b - b'0')) % 97
        } else {
            (remainder * 100 + u64::from(b - b'A' + 10)) % 97
        };
    }
    format!("{}{:02}", String::from_utf8_lossy(&body), 98 - remainder)
}

/// One COPY text row being written: fields separated by tabs, the line ended by [`Line::end`].
struct Line<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Line<'a> {
    fn new(out: &'a mut String) -> Self {
        Self { out, first: true }
    }
    fn sep(&mut self) {
        if !self.first {
            self.out.push('\t');
        }
        self.first = false;
    }
    fn text(&mut self, value: &str) -> &mut Self {
        self.sep();
        if value.bytes().any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r')) {
            for c in value.chars() {
                match c {
                    '\\' => self.out.push_str("\\\\"),
                    '\t' => self.out.push_str("\\t"),
                    '\n' => self.out.push_str("\\n"),
                    '\r' => self.out.push_str("\\r"),
                    _ => self.out.push(c),
                }
            }
        } else {
            self.out.push_str(value);
        }
        self
    }
    fn null(&mut self) -> &mut Self {
        self.sep();
        self.out.push_str("\\N");
        self
    }
    fn opt(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }
    fn uuid(&mut self, id: Uuid) -> &mut Self {
        self.sep();
        let mut buf = Uuid::encode_buffer();
        self.out.push_str(id.hyphenated().encode_lower(&mut buf));
        self
    }
    fn display(&mut self, value: impl std::fmt::Display) -> &mut Self {
        self.sep();
        let _ = write!(self.out, "{value}");
        self
    }
    /// A timestamptz in UTC with microseconds (what PostgreSQL stores).
    fn ts(&mut self, t: OffsetDateTime) -> &mut Self {
        self.sep();
        let t = t.to_offset(UtcOffset::UTC);
        let _ = write!(
            self.out,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}+00",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.microsecond()
        );
        self
    }
    fn date(&mut self, d: Date) -> &mut Self {
        self.sep();
        let _ = write!(self.out, "{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day());
        self
    }
    fn end(&mut self) {
        self.out.push('\n');
    }
}

/// Generates one batch. `codes` are the NAICS codes to draw from (in force, so the skipped reference trigger
/// would have accepted them); `now` is the load's clock (histories end before it).
pub fn generate(batch: &Batch, codes: &[String], now: OffsetDateTime) -> Rows {
    let mut rng = Rng(batch.seed ^ batch.first_serial.wrapping_mul(0x9E37_79B9));
    let count = batch.count as usize;
    let mut rows = Rows {
        clients: String::with_capacity(count * 560),
        assessments: String::with_capacity(count * 270),
        contacts: String::with_capacity(count * 160),
        links: String::with_capacity(count * 140),
        addresses: String::with_capacity(count * 140),
        report: DemoReport::default(),
    };
    let today = now.date();
    let fiscal_year = today.year() - 1;
    let mut group: Vec<Node> = Vec::new();
    let mut group_left = 0usize;
    let mut name = String::new();
    let mut legal = String::new();
    let mut slug = String::new();
    let mut scratch = String::new();
    for serial in batch.first_serial..batch.first_serial + u64::from(batch.count) {
        if batch.one_group && !group.is_empty() {
            group_left = usize::MAX;
        }
        if group_left == 0 {
            group.clear();
            // Group sizes: many standalone companies, some large multi-level groups.
            group_left = match rng.below(10) {
                0..=4 => 1,
                5..=7 => 2 + rng.below(6),
                _ => 8 + rng.below(40),
            };
        }
        group_left -= 1;
        let id = Uuid::now_v7();
        let parent_index = if group.is_empty() {
            None
        } else {
            // Prefer recent members so groups grow deep as well as wide; stay within 6 levels. A single
            // large group picks among all members (a wide, bushy tree).
            let window = if batch.one_group {
                group.len()
            } else {
                group.len().min(8)
            };
            let start = group.len() - window;
            let mut pick = start + rng.below(window);
            while group[pick].depth >= 5 {
                pick = group[pick].parent_index;
            }
            Some(pick)
        };
        let node = match parent_index {
            None => Node {
                id,
                root: id,
                path: format!("/{id}/"),
                depth: 0,
                parent_index: 0,
            },
            Some(p) => Node {
                id,
                root: group[p].root,
                path: format!("{}{id}/", group[p].path),
                depth: group[p].depth + 1,
                parent_index: p,
            },
        };
        let parent_id = parent_index.map(|p| group[p].id);
        let (country, suffix, authority, currency) = *rng.pick(COUNTRIES);
        name.clear();
        let _ = write!(name, "{} {} {serial}", rng.pick(PREFIXES), rng.pick(NOUNS));
        legal.clear();
        let _ = write!(legal, "{name} {suffix}");
        slug.clear();
        slug.extend(
            name.chars()
                .map(|c| if c == ' ' { '-' } else { c.to_ascii_lowercase() }),
        );
        let lei_value = rng.chance(60).then(|| lei(serial));
        let status = {
            let mut roll = rng.next() % 100;
            let mut chosen = "active";
            for (s, weight) in STATUSES {
                if roll < *weight {
                    chosen = s;
                    break;
                }
                roll -= weight;
            }
            chosen
        };
        let employees = [3_u64, 25, 120, 900, 12_000][rng.below(5)] * (50 + rng.next() % 100) / 100;
        let revenue = employees * (80_000 + rng.next() % 120_000);
        let created = now - Duration::days(30 + (rng.next() % 2000) as i64);
        let owner = *rng.pick(OWNERS);

        // Risk history: 0-3 assessments; the latest one is copied onto the client.
        let mut latest: Option<(&str, OffsetDateTime, Date)> = None;
        let history = if rng.chance(85) { 1 + rng.below(3) } else { 0 };
        let mut at = created + Duration::days(5);
        for _ in 0..history {
            let (rating, interval) = *rng.pick(RATINGS);
            if at > now {
                break;
            }
            let due = (at + Duration::days(interval)).date();
            scratch.clear();
            let _ = write!(scratch, "{rating} risk after annual review of financials and exposure");
            Line::new(&mut rows.assessments)
                .uuid(Uuid::now_v7())
                .uuid(id)
                .text(rating)
                .text(&scratch)
                .ts(at)
                .text(owner)
                .date(due)
                .ts(at)
                .text(owner)
                .end();
            rows.report.assessments += 1;
            latest = Some((rating, at, due));
            at += Duration::days(interval.min(400) + (rng.next() % 60) as i64);
        }
        let code = rng.pick(codes).as_str();
        let mut line = Line::new(&mut rows.clients);
        line.uuid(id)
            .text(&name)
            .text(&legal)
            .opt(lei_value.as_deref())
            .text(authority)
            .display(serial + 1_000_000)
            .text(country)
            .text(country);
        scratch.clear();
        let _ = write!(scratch, "https://www.{slug}.example");
        line.text(&scratch).text(status).text(owner);
        match parent_id {
            Some(parent) => line.uuid(parent),
            None => line.null(),
        };
        line.uuid(node.root)
            .text(&node.path)
            .display(node.depth)
            .text("naics_2022")
            .text(code)
            .display(employees)
            .display(revenue)
            .text(currency)
            .display(fiscal_year);
        match latest {
            Some((rating, assessed, due)) => line.text(rating).ts(assessed).date(due),
            None => line.null().null().null(),
        };
        line.display(1).ts(created).text(owner).ts(created).text(owner).end();
        rows.report.clients += 1;

        // A primary contact for most clients, a finance contact for some.
        for (role, chance) in [("primary", 80), ("finance", 35)] {
            if !rng.chance(chance) {
                continue;
            }
            let contact = Uuid::now_v7();
            let (given, family) = (*rng.pick(GIVEN), *rng.pick(FAMILY));
            scratch.clear();
            let _ = write!(
                scratch,
                "{}.{}@{slug}.example",
                given.to_ascii_lowercase(),
                family.to_ascii_lowercase()
            );
            let phone = 7_000_000_000_u64 + rng.next() % 999_999_999;
            let title = if role == "primary" {
                "Chief Executive Officer"
            } else {
                "Chief Financial Officer"
            };
            Line::new(&mut rows.contacts)
                .uuid(contact)
                .text(given)
                .text(family)
                .text(&scratch)
                .display(format_args!("+44{phone}"))
                .text(title)
                .text(owner)
                .text(owner)
                .end();
            Line::new(&mut rows.links)
                .uuid(Uuid::now_v7())
                .uuid(id)
                .uuid(contact)
                .text(role)
                .date(created.date())
                .text(owner)
                .text(owner)
                .end();
            rows.report.contacts += 1;
        }
        let city = *rng.pick(CITIES);
        Line::new(&mut rows.addresses)
            .uuid(Uuid::now_v7())
            .uuid(id)
            .text("registered")
            .display(format_args!("{} Market Street", 1 + rng.below(200)))
            .text(city)
            .display(10_000 + rng.below(89_999))
            .text(country)
            .text(owner)
            .text(owner)
            .end();
        group.push(node);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_leis_have_valid_check_digits() {
        for serial in [0, 1, 35, 36, 1_000_000, 3_999_999_999] {
            let code = lei(serial);
            assert_eq!(code.len(), 20);
            let mut remainder = 0u64;
            for b in code.bytes() {
                remainder = if b.is_ascii_digit() {
                    (remainder * 10 + u64::from(b - b'0')) % 97
                } else {
                    (remainder * 100 + u64::from(b - b'A' + 10)) % 97
                };
            }
            assert_eq!(remainder, 1, "{code}");
        }
        assert_ne!(lei(1), lei(2));
    }

    fn batch(count: u32, one_group: bool) -> Rows {
        let codes = vec!["111110".to_owned(), "541511".to_owned()];
        let now = OffsetDateTime::now_utc();
        generate(
            &Batch {
                first_serial: 7,
                count,
                seed: 42,
                one_group,
            },
            &codes,
            now,
        )
    }

    #[test]
    fn rows_have_the_columns_of_their_copy_statements() {
        let rows = batch(500, false);
        for (text, statement) in rows.tables().iter().zip(super::super::COPY_STATEMENTS) {
            let columns = statement
                .split('(')
                .nth(1)
                .unwrap()
                .split(')')
                .next()
                .unwrap()
                .split(',')
                .count();
            assert!(!text.is_empty(), "{statement}");
            for line in text.lines() {
                assert_eq!(line.split('\t').count(), columns, "{statement}: {line}");
            }
        }
        assert_eq!(rows.clients.lines().count(), 500);
        assert_eq!(rows.addresses.lines().count(), 500);
        assert_eq!(rows.report.clients, 500);
        assert_eq!(rows.links.lines().count(), rows.contacts.lines().count());
    }

    #[test]
    fn hierarchy_columns_follow_the_parent() {
        let rows = batch(2000, false);
        let mut paths = std::collections::HashMap::new();
        for line in rows.clients.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            let (id, parent, root, path, depth) = (f[0], f[11], f[12], f[13], f[14].parse::<usize>().unwrap());
            if parent == "\\N" {
                assert_eq!((root, path.to_owned(), depth), (id, format!("/{id}/"), 0));
            } else {
                let (parent_root, parent_path, parent_depth): &(String, String, usize) = &paths[parent];
                assert_eq!(root, parent_root);
                assert_eq!(path, format!("{parent_path}{id}/"));
                assert_eq!(depth, parent_depth + 1);
            }
            assert!(depth <= 5);
            paths.insert(id.to_owned(), (root.to_owned(), path.to_owned(), depth));
        }
    }

    #[test]
    fn one_group_puts_the_batch_under_one_root() {
        let rows = batch(300, true);
        let roots: std::collections::HashSet<&str> =
            rows.clients.lines().map(|l| l.split('\t').nth(12).unwrap()).collect();
        assert_eq!(roots.len(), 1);
    }
}
