//! A realistic demo portfolio, generated deterministically from a seed and loaded with COPY: companies in
//! multi-level groups (up to 6 levels), with LEIs (valid check digits), registrations, NAICS codes, sizes,
//! revenues, statuses and owners; risk assessment histories (some reviews overdue); contacts with primary
//! and finance roles; registered addresses. Used by the embedded default (a few thousand clients) and the
//! benchmark (a million).
//!
//! The load runs as a superuser with `session_replication_role = replica`, which skips the schema's triggers
//! (and foreign-key triggers) for speed, so this generator computes every derived column the triggers would
//! (root, path, depth, current risk, audit) and only uses reference codes that exist. Check, unique and
//! exclusion constraints still apply.

use bytes::Bytes;
use futures_util::SinkExt as _;
use time::{Date, Duration, OffsetDateTime};
use tokio_postgres::Client;
use uuid::Uuid;

/// What was loaded.
#[derive(Debug, Clone, Copy, Default)]
pub struct DemoReport {
    /// Clients.
    pub clients: i64,
    /// Contacts.
    pub contacts: i64,
    /// Risk assessments.
    pub assessments: i64,
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

const PREFIXES: &[&str] = &[
    "Northwind",
    "Bluewater",
    "Granite",
    "Silverline",
    "Aurora",
    "Cedar",
    "Helios",
    "Meridian",
    "Oakridge",
    "Polaris",
    "Quantum",
    "Redwood",
    "Summit",
    "Tidewater",
    "Vertex",
    "Zenith",
    "Harbor",
    "Evergreen",
    "Falcon",
    "Ironbridge",
    "Juniper",
    "Keystone",
    "Lakeside",
    "Monarch",
    "Nimbus",
    "Orion",
    "Pinnacle",
    "Riverbend",
    "Sapphire",
    "Trident",
    "Beacon",
    "Crescent",
    "Dunmore",
    "Elmstead",
    "Foxglove",
    "Greyhawk",
    "Highgate",
];
const NOUNS: &[&str] = &[
    "Logistics",
    "Foods",
    "Analytics",
    "Therapeutics",
    "Energy",
    "Robotics",
    "Materials",
    "Software",
    "Capital",
    "Healthcare",
    "Textiles",
    "Aerospace",
    "Packaging",
    "Minerals",
    "Media",
    "Biosciences",
    "Instruments",
    "Systems",
    "Retail",
    "Hospitality",
    "Water",
    "Mobility",
    "Semiconductors",
    "Chemicals",
    "Agritech",
];
/// (country, legal suffix, registration authority, currency)
const COUNTRIES: &[(&str, &str, &str, &str)] = &[
    ("GB", "Ltd", "RA000585", "GBP"),
    ("DE", "GmbH", "RA000202", "EUR"),
    ("FR", "SAS", "RA000189", "EUR"),
    ("NL", "B.V.", "RA000463", "EUR"),
    ("US", "Inc.", "RA000602", "USD"),
    ("US", "LLC", "RA000602", "USD"),
    ("CH", "AG", "RA000548", "CHF"),
    ("SE", "AB", "RA000544", "SEK"),
    ("IE", "Limited", "RA000402", "EUR"),
    ("ES", "S.L.", "RA000533", "EUR"),
    ("IT", "S.r.l.", "RA000407", "EUR"),
    ("CA", "Corp.", "RA000072", "CAD"),
];
const OWNERS: &[&str] = &[
    "a.hughes",
    "b.schmidt",
    "c.dubois",
    "d.okafor",
    "e.lindqvist",
    "f.rossi",
    "g.tanaka",
    "h.silva",
];
const GIVEN: &[&str] = &[
    "Anna", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kira", "Liam", "Maya",
    "Noah", "Olga", "Pablo",
];
const FAMILY: &[&str] = &[
    "Adams", "Becker", "Costa", "Dalton", "Eriksen", "Fischer", "Garcia", "Hansen", "Ito", "Jensen", "Kowalski",
    "Laurent", "Moreau", "Novak", "Okoro", "Petrov",
];
const STATUSES: &[(&str, u64)] = &[
    ("active", 70),
    ("onboarding", 8),
    ("prospect", 10),
    ("suspended", 4),
    ("exited", 8),
];
const RATINGS: &[(&str, i64)] = &[("low", 730), ("medium", 365), ("high", 182), ("critical", 91)];
const CITIES: &[&str] = &[
    "London",
    "Berlin",
    "Paris",
    "Amsterdam",
    "New York",
    "Zurich",
    "Stockholm",
    "Dublin",
    "Madrid",
    "Milan",
    "Toronto",
];

struct Node {
    id: Uuid,
    root: Uuid,
    path: String,
    depth: i16,
    /// Index of the parent within the group (itself for the root).
    parent_index: usize,
}

/// An LEI with valid ISO 7064 MOD 97-10 check digits: LOU prefix, then the serial in base 36.
fn lei(serial: u64) -> String {
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

/// COPY text format for one optional value.
fn field(out: &mut String, value: Option<&str>) {
    match value {
        None => out.push_str("\\N"),
        Some(v) => {
            for c in v.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    _ => out.push(c),
                }
            }
        }
    }
}

fn row(out: &mut String, values: &[Option<&str>]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        field(out, *v);
    }
    out.push('\n');
}

fn ts(t: OffsetDateTime) -> String {
    crate::domain::format::timestamp(t)
}

fn day(d: Date) -> String {
    crate::domain::format::date(d)
}

async fn copy(client: &Client, statement: &str, data: String) -> Result<(), tokio_postgres::Error> {
    let sink = client.copy_in(statement).await?;
    futures_util::pin_mut!(sink);
    let bytes = Bytes::from(data);
    const CHUNK: usize = 1 << 20;
    let mut start = 0;
    while start < bytes.len() {
        let end = (start + CHUNK).min(bytes.len());
        sink.send(bytes.slice(start..end)).await?;
        start = end;
    }
    sink.finish().await?;
    Ok(())
}

/// Loads `count` clients (with contacts, assessments and addresses) in one transaction.
///
/// # Errors
/// The server's error (nothing is loaded then).
pub async fn load(client: &Client, count: u32, seed: u64) -> Result<DemoReport, tokio_postgres::Error> {
    load_batch(
        client,
        &Batch {
            first_serial: 0,
            count,
            seed,
            one_group: false,
        },
    )
    .await
}

/// One batch of a larger load (the benchmark loads a million clients in batches).
#[derive(Debug, Clone, Copy)]
pub struct Batch {
    /// Serial of the first client: serials make LEIs, registrations and names unique across batches.
    pub first_serial: u64,
    /// Clients in this batch.
    pub count: u32,
    /// Random seed.
    pub seed: u64,
    /// Put the whole batch into one group (a large subtree for roll-up measurements).
    pub one_group: bool,
}

/// Loads one batch in one transaction.
///
/// # Errors
/// The server's error (nothing of this batch is loaded then).
pub async fn load_batch(client: &Client, batch: &Batch) -> Result<DemoReport, tokio_postgres::Error> {
    let mut rng = Rng(batch.seed ^ batch.first_serial.wrapping_mul(0x9E37_79B9));
    let codes: Vec<String> = client
        .query(
            "SELECT code FROM client_api.industry_code WHERE scheme = 'naics_2022' AND level = 6 AND NOT withdrawn ORDER BY code",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let now = OffsetDateTime::now_utc();
    let today = now.date();
    let mut clients = String::new();
    let mut assessments = String::new();
    let mut contacts = String::new();
    let mut links = String::new();
    let mut addresses = String::new();
    let mut report = DemoReport::default();
    let mut group: Vec<Node> = Vec::new();
    let mut group_left = 0usize;
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
        let parent = parent_index.map(|i| &group[i]);
        let node = match parent {
            None => Node {
                id,
                root: id,
                path: format!("/{id}/"),
                depth: 0,
                parent_index: 0,
            },
            Some(p) => Node {
                id,
                root: p.root,
                path: format!("{}{id}/", p.path),
                depth: p.depth + 1,
                parent_index: parent_index.unwrap_or(0),
            },
        };
        let parent_id = parent.map(|p| p.id.to_string());
        let (country, suffix, authority, currency) = *rng.pick(COUNTRIES);
        let name = format!("{} {} {}", rng.pick(PREFIXES), rng.pick(NOUNS), serial);
        let legal = format!("{name} {suffix}");
        let slug: String = name.to_ascii_lowercase().replace(' ', "-");
        let lei_value = rng.chance(60).then(|| lei(serial));
        let registration = format!("{:08}", serial + 1_000_000);
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
        let mut latest: Option<(String, OffsetDateTime, Date)> = None;
        let history = if rng.chance(85) { 1 + rng.below(3) } else { 0 };
        let mut at = created + Duration::days(5);
        for _ in 0..history {
            let (rating, interval) = *rng.pick(RATINGS);
            if at > now {
                break;
            }
            let due = (at + Duration::days(interval)).date();
            let rationale = format!("{rating} risk after annual review of financials and exposure");
            row(
                &mut assessments,
                &[
                    Some(&Uuid::now_v7().to_string()),
                    Some(&id.to_string()),
                    Some(rating),
                    Some(&rationale),
                    Some(&ts(at)),
                    Some(owner),
                    Some(&day(due)),
                    Some(&ts(at)),
                    Some(owner),
                ],
            );
            report.assessments += 1;
            latest = Some((rating.to_owned(), at, due));
            at += Duration::days(interval.min(400) + (rng.next() % 60) as i64);
        }
        let (risk, risk_at, risk_due) = match &latest {
            Some((r, a, d)) => (Some(r.as_str()), Some(ts(*a)), Some(day(*d))),
            None => (None, None, None),
        };
        let employees_text = employees.to_string();
        let revenue_text = revenue.to_string();
        let year = (today.year() - 1).to_string();
        let website = format!("https://www.{slug}.example");
        let created_text = ts(created);
        row(
            &mut clients,
            &[
                Some(&id.to_string()),
                Some(&name),
                Some(&legal),
                lei_value.as_deref(),
                Some(authority),
                Some(&registration),
                Some(country),
                Some(country),
                Some(&website),
                Some(status),
                Some(owner),
                parent_id.as_deref(),
                Some(&node.root.to_string()),
                Some(&node.path),
                Some(&node.depth.to_string()),
                Some("naics_2022"),
                Some(rng.pick(&codes).as_str()),
                Some(&employees_text),
                Some(&revenue_text),
                Some(currency),
                Some(&year),
                risk,
                risk_at.as_deref(),
                risk_due.as_deref(),
                Some("1"),
                Some(&created_text),
                Some(owner),
                Some(&created_text),
                Some(owner),
            ],
        );
        report.clients += 1;

        // A primary contact for most clients, a finance contact for some.
        for (role, chance) in [("primary", 80), ("finance", 35)] {
            if !rng.chance(chance) {
                continue;
            }
            let contact = Uuid::now_v7();
            let (given, family) = (*rng.pick(GIVEN), *rng.pick(FAMILY));
            let email = format!(
                "{}.{}@{slug}.example",
                given.to_ascii_lowercase(),
                family.to_ascii_lowercase()
            );
            let phone = format!("+44{}", 7_000_000_000_u64 + rng.next() % 999_999_999);
            let title = if role == "primary" {
                "Chief Executive Officer"
            } else {
                "Chief Financial Officer"
            };
            row(
                &mut contacts,
                &[
                    Some(&contact.to_string()),
                    Some(given),
                    Some(family),
                    Some(&email),
                    Some(&phone),
                    Some(title),
                    Some(owner),
                    Some(owner),
                ],
            );
            row(
                &mut links,
                &[
                    Some(&Uuid::now_v7().to_string()),
                    Some(&id.to_string()),
                    Some(&contact.to_string()),
                    Some(role),
                    Some(&day(created.date())),
                    Some(owner),
                    Some(owner),
                ],
            );
            report.contacts += 1;
        }
        let city = *rng.pick(CITIES);
        row(
            &mut addresses,
            &[
                Some(&Uuid::now_v7().to_string()),
                Some(&id.to_string()),
                Some("registered"),
                Some(&format!("{} Market Street", 1 + rng.below(200))),
                Some(city),
                Some(&format!("{}", 10_000 + rng.below(89_999))),
                Some(country),
                Some(owner),
                Some(owner),
            ],
        );
        group.push(node);
    }

    client
        .batch_execute("BEGIN; SET LOCAL session_replication_role = replica")
        .await?;
    copy(
        client,
        "COPY client_api.client (id, display_name, legal_name, lei, registration_authority, registration_number, \
        incorporation_country, hq_country, website, status, owner, parent_id, root_id, path, depth, industry_scheme, \
        industry_code, employee_count, revenue_amount, revenue_currency, revenue_fiscal_year, risk_category, \
        risk_assessed_at, risk_next_review_due, version, created_at, created_by, updated_at, updated_by) FROM STDIN",
        clients,
    )
    .await?;
    copy(
        client,
        "COPY client_api.risk_assessment (id, client_id, rating, rationale, assessed_at, assessed_by, \
        next_review_due, recorded_at, recorded_by) FROM STDIN",
        assessments,
    )
    .await?;
    copy(client, "COPY client_api.contact (id, given_name, family_name, email, phone, job_title, created_by, updated_by) FROM STDIN", contacts).await?;
    copy(client, "COPY client_api.client_contact (id, client_id, contact_id, role, valid_from, created_by, updated_by) FROM STDIN", links).await?;
    copy(
        client,
        "COPY client_api.client_address (id, client_id, address_type, line1, city, postal_code, country_code, \
        created_by, updated_by) FROM STDIN",
        addresses,
    )
    .await?;
    client.batch_execute("COMMIT; ANALYZE client_api.client, client_api.risk_assessment, client_api.contact, client_api.client_contact, client_api.client_address").await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::lei;

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
}
