//! Malformed and hostile requests, reproducible from a seed: valid requests of every write
//! endpoint mutated at the JSON level (missing, mistyped, oversized, NUL-bearing, read-only and
//! unknown members), at the byte level (truncated, invalid UTF-8, duplicate keys, deep nesting,
//! trailing garbage), in their headers (authorization, content type, If-Match, Idempotency-Key,
//! consistency token, request id) and in query strings and paths of the read endpoints. About one
//! case in ten is left valid, so the flood also proves that good requests still work amid it.
//!
//! A case never names an existing client as a new parent: re-parenting would change clients the
//! request does not address, and the suite checks that only addressed rows change.

use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};
use reqwest::Method;
use serde_json::{Map, Value, json};

/// One request.
#[derive(Debug, Clone)]
pub struct Case {
    /// What kind of case (for reports).
    pub kind: &'static str,
    /// The method.
    pub method: Method,
    /// Path and query.
    pub path: String,
    /// Headers (name, raw value); values a client cannot send are dropped when sending.
    pub headers: Vec<(&'static str, Vec<u8>)>,
    /// Whether the bearer token is replaced by a header in `headers`.
    pub custom_auth: bool,
    /// The body.
    pub body: Vec<u8>,
    /// The client the path addresses, if any.
    pub client: Option<String>,
    /// Carries a well-formed `Idempotency-Key`.
    pub keyed: bool,
    /// Left valid on purpose (no mutation).
    pub valid: bool,
    /// Presents a token with only the read scope.
    pub read_only: bool,
}

/// Existing rows the cases address.
#[derive(Debug, Clone)]
pub struct Targets {
    /// Clients with their current versions.
    pub clients: Vec<(String, i64)>,
    /// A contact.
    pub contact: String,
}

/// The generator.
#[derive(Debug)]
pub struct Fuzzer {
    rng: StdRng,
    targets: Targets,
}

mod damage;

use damage::{EVIL, percent_encode};

impl Fuzzer {
    /// A generator seeded with `seed` addressing `targets`.
    pub fn new(seed: u64, targets: Targets) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            targets,
        }
    }

    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    /// A random (version 4 layout) UUID from the seeded generator.
    pub(super) fn uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.random())
            .into_uuid()
            .to_string()
    }

    pub(super) fn long(&mut self) -> String {
        let n = *self.pick(&[256usize, 1_001, 10_001, 70_000]);
        "x".repeat(n)
    }

    fn client(&mut self) -> (String, i64) {
        let targets = self.targets.clients.clone();
        self.pick(&targets).clone()
    }

    fn empty(kind: &'static str, method: Method, path: String) -> Case {
        Case {
            kind,
            method,
            path,
            headers: Vec::new(),
            custom_auth: false,
            body: Vec::new(),
            client: None,
            keyed: false,
            valid: false,
            read_only: false,
        }
    }

    fn with_key(&mut self, case: &mut Case) {
        if self.chance(0.3) {
            let key = self.uuid();
            case.headers.push(("idempotency-key", key.into_bytes()));
            case.keyed = true;
        }
    }

    /// The next case.
    pub fn case(&mut self) -> Case {
        let valid = self.chance(0.1);
        let mut case = self.case_of(valid);
        case.valid = valid;
        case.read_only = !valid && !case.custom_auth && self.chance(0.03);
        case
    }

    fn case_of(&mut self, valid: bool) -> Case {
        match self.rng.random_range(0..10) {
            0 | 1 => {
                let mut case = Self::empty("create client", Method::POST, "/v1/clients".into());
                let body = self.client_body();
                case.body = self.body_of(
                    body,
                    &[
                        "display_name",
                        "legal_name",
                        "hq_country",
                        "lei",
                        "employee_count",
                        "revenue_amount",
                        "revenue_currency",
                        "status",
                        "website",
                        "industry_code",
                    ],
                    valid,
                );
                self.with_key(&mut case);
                self.headers(&mut case, "application/json", valid);
                case
            }
            2 | 3 => {
                let (id, version) = self.client();
                let mut case = Self::empty("patch client", Method::PATCH, format!("/v1/clients/{id}"));
                let mut body = Map::new();
                body.insert("owner".into(), json!(format!("fuzz-{}", self.rng.random::<u16>())));
                case.body = self.body_of(
                    body,
                    &[
                        "owner",
                        "display_name",
                        "status",
                        "lei",
                        "hq_country",
                        "employee_count",
                        "website",
                    ],
                    valid,
                );
                case.headers.push(("if-match", format!("\"{version}\"").into_bytes()));
                case.client = Some(id);
                self.headers(&mut case, "application/merge-patch+json", valid);
                case
            }
            4 => {
                let (id, _) = self.client();
                let mut case = Self::empty("delete client", Method::DELETE, format!("/v1/clients/{id}"));
                let tag = self
                    .pick(&["*", "\"0\"", "W/\"1\"", "garbage", "\"18446744073709551616\""])
                    .to_string();
                case.headers.push(("if-match", tag.into_bytes()));
                case.client = Some(id);
                case
            }
            5 => {
                let (id, _) = self.client();
                let (kind, path, body, fields): (&'static str, String, Map<String, Value>, &[&str]) = match self.rng.random_range(0..3) {
                    0 => (
                        "create address",
                        format!("/v1/clients/{id}/addresses"),
                        json!({"address_type": "operating", "line1": "1 Main St", "city": "Berlin", "country_code": "DE"}).as_object().cloned().unwrap_or_default(),
                        &["address_type", "line1", "city", "country_code", "postal_code"],
                    ),
                    1 => (
                        "create risk assessment",
                        format!("/v1/clients/{id}/risk-assessments"),
                        json!({"rating": "low", "rationale": "fuzz"}).as_object().cloned().unwrap_or_default(),
                        &["rating", "rationale", "assessed_at", "next_review_due"],
                    ),
                    _ => (
                        "link contact",
                        format!("/v1/clients/{id}/contacts"),
                        json!({"contact_id": self.targets.contact, "role": "other"}).as_object().cloned().unwrap_or_default(),
                        &["contact_id", "role", "valid_from", "valid_to"],
                    ),
                };
                let mut case = Self::empty(kind, Method::POST, path);
                case.body = self.body_of(body, fields, valid);
                case.client = Some(id);
                self.with_key(&mut case);
                self.headers(&mut case, "application/json", valid);
                case
            }
            6 => {
                let mut case = Self::empty("create contact", Method::POST, "/v1/contacts".into());
                let body = json!({"family_name": "Fuzz", "given_name": "F", "email": "f@example.com"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                case.body = self.body_of(
                    body,
                    &["family_name", "given_name", "email", "phone", "job_title"],
                    valid,
                );
                self.with_key(&mut case);
                self.headers(&mut case, "application/json", valid);
                case
            }
            7 | 8 => self.query_case(),
            _ => {
                let (id, _) = self.client();
                let path = match self.rng.random_range(0..6) {
                    0 => format!("/v1/clients/{id}"),
                    1 => format!("/v1/clients/{}", self.pick(EVIL)),
                    2 => format!(
                        "/v1/clients/{id}/{}",
                        self.pick(&["tree", "ancestors", "children", "moves", "descendants", "nope"])
                    ),
                    3 => format!(
                        "/v1/reference/{}",
                        self.pick(&["client-statuses", "risk-ratings", "nope", "..", "%2e%2e"])
                    ),
                    4 => format!("/v1/clients/{}", "9".repeat(5000)),
                    _ => format!("/v1/contacts/{}", self.targets.contact),
                };
                let mut case = Self::empty(
                    "read with odd headers",
                    Method::GET,
                    path.replace(['\u{0}', ' '], "%20"),
                );
                self.headers(&mut case, "application/json", valid);
                case
            }
        }
    }

    fn query_case(&mut self) -> Case {
        let (id, _) = self.client();
        let base = self
            .pick(&[
                "/v1/clients".to_owned(),
                "/v1/contacts".to_owned(),
                format!("/v1/clients/{id}/descendants"),
                format!("/v1/clients/{id}/tree"),
                format!("/v1/clients/{id}/children"),
                "/v1/reports/portfolio-summary".to_owned(),
                "/v1/reports/risk-reviews-due".to_owned(),
                "/v1/reference/industry-codes".to_owned(),
            ])
            .clone();
        let keys = [
            "limit",
            "cursor",
            "sort",
            "q",
            "status",
            "country",
            "risk",
            "size_band",
            "industry",
            "industry_scheme",
            "parent",
            "root",
            "owner",
            "updated_since",
            "include_deleted",
            "max_depth",
            "max_nodes",
            "group_by",
            "due_by",
            "prefix",
            "level",
            "current",
            "unknown_param",
        ];
        let mut parts = Vec::new();
        for _ in 0..self.rng.random_range(1..4) {
            let key = *self.pick(&keys);
            let value = match self.rng.random_range(0..6) {
                0 => self.rng.random::<i32>().to_string(),
                1 => self.long(),
                2 => (*self.pick(&["-1", "0", "201", "1e3", "abc", "true", "-name", "name,-name", "DE,XX"])).to_owned(),
                3 => self.uuid(),
                4 => (*self.pick(EVIL)).to_owned(),
                _ => "eyJxIjoiIn0".to_owned(),
            };
            let encoded: String = if self.chance(0.2) {
                // Raw, possibly invalid percent-encoding.
                (*self.pick(&["%ZZ", "%", "%C3%28", "%00", "%FF%FE", "a&&b=", "=="])).to_owned()
            } else {
                percent_encode(&value)
            };
            parts.push(format!("{key}={encoded}"));
        }
        Self::empty("query string", Method::GET, format!("{base}?{}", parts.join("&")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_cases() {
        let targets = Targets {
            clients: vec![("0192f0a0-0000-7000-8000-000000000001".into(), 1)],
            contact: "0192f0a0-0000-7000-8000-000000000002".into(),
        };
        let mut a = Fuzzer::new(7, targets.clone());
        let mut b = Fuzzer::new(7, targets);
        for _ in 0..200 {
            let (x, y) = (a.case(), b.case());
            assert_eq!((x.kind, &x.path, &x.body), (y.kind, &y.path, &y.body));
        }
    }
}
