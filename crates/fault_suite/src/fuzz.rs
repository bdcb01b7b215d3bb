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

const EVIL: &[&str] = &[
    "",
    " ",
    "\u{0}",
    "a\u{0}b",
    "\u{feff}",
    "\u{202e}evil",
    "😀😀😀",
    "<script>alert(1)</script>",
    "'; DROP TABLE client_api.client; --",
    "../../etc/passwd",
    "%00",
    "\\",
    "\"",
    "null",
    "NaN",
    "Infinity",
    "-0",
    "1e309",
    "2026-02-30",
    "9999-12-31T23:59:60Z",
    "0000-00-00",
    "XX",
    "de",
    "ZZZ",
    "not-a-uuid",
    "00000000-0000-0000-0000-000000000000",
    "critical ",
    "LOW",
    "5299009ZZZZZZZZZZZ00",
    "http://",
    "javascript:alert(1)",
];

impl Fuzzer {
    /// A generator seeded with `seed` addressing `targets`.
    pub fn new(seed: u64, targets: Targets) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            targets,
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.random_range(0..items.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    /// A random (version 4 layout) UUID from the seeded generator.
    fn uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.random())
            .into_uuid()
            .to_string()
    }

    fn long(&mut self) -> String {
        let n = *self.pick(&[256usize, 1_001, 10_001, 70_000]);
        "x".repeat(n)
    }

    /// A hostile JSON value.
    fn evil_value(&mut self) -> Value {
        match self.rng.random_range(0..12) {
            0 => Value::Null,
            1 => json!(true),
            2 => json!(self.rng.random::<i64>()),
            3 => json!(-1),
            4 => json!(2_147_483_648_i64),
            5 => json!(0.5),
            6 => json!([]),
            7 => json!({"a": [1, {"b": null}]}),
            8 => json!(self.long()),
            9 => json!(self.uuid()),
            _ => json!(*self.pick(EVIL)),
        }
    }

    fn client_body(&mut self) -> Map<String, Value> {
        let n = self.rng.random::<u32>();
        let mut m = Map::new();
        m.insert("display_name".into(), json!(format!("Fuzz {n}")));
        m.insert("legal_name".into(), json!(format!("Fuzz {n} GmbH")));
        m.insert("hq_country".into(), json!("DE"));
        if self.chance(0.3) {
            m.insert("employee_count".into(), json!(self.rng.random_range(1..5000)));
            m.insert("status".into(), json!("prospect"));
            m.insert("website".into(), json!("https://example.com"));
        }
        m
    }

    fn mutate(&mut self, mut body: Map<String, Value>, fields: &[&str]) -> Map<String, Value> {
        for _ in 0..self.rng.random_range(1..4) {
            let field = (*self.pick(fields)).to_owned();
            match self.rng.random_range(0..6) {
                0 => {
                    body.remove(&field);
                }
                1 => {
                    let value = self.evil_value();
                    body.insert(field, value);
                }
                2 => {
                    let value = self.evil_value();
                    body.insert(format!("{field}_typo"), value);
                }
                3 => {
                    let read_only = *self.pick(&[
                        "id",
                        "version",
                        "root_id",
                        "depth",
                        "created_at",
                        "risk_category",
                        "deleted_at",
                    ]);
                    body.insert(read_only.into(), json!(1));
                }
                4 => {
                    body.insert(
                        "parent_id".into(),
                        json!(*self.pick(&["not-a-uuid", "00000000-0000-7000-8000-000000000000", ""])),
                    );
                }
                _ => {
                    let value = json!(format!("{}{}", self.pick(EVIL), self.pick(EVIL)));
                    body.insert(field, value);
                }
            }
        }
        body
    }

    /// Byte-level damage to a serialized body.
    fn damage(&mut self, mut bytes: Vec<u8>) -> Vec<u8> {
        match self.rng.random_range(0..8) {
            0 if bytes.len() > 1 => {
                let at = self.rng.random_range(0..bytes.len());
                bytes.truncate(at);
            }
            1 => bytes.insert(self.rng.random_range(0..=bytes.len()), 0xFF),
            2 if bytes.first() == Some(&b'{') => {
                let _ = bytes.splice(1..1, br#""display_name":"dup","#.iter().copied());
            }
            3 => bytes = format!("{}1{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
            4 => bytes.extend_from_slice(b"}{garbage"),
            5 => bytes = b"display_name=x&legal_name=y".to_vec(),
            6 => bytes = Vec::new(),
            _ => {
                let _ = bytes.splice(0..0, "\u{feff}".bytes());
            }
        }
        bytes
    }

    fn body_of(&mut self, body: Map<String, Value>, fields: &[&str], valid: bool) -> Vec<u8> {
        if valid {
            return serde_json::to_vec(&body).unwrap_or_default();
        }
        let body = self.mutate(body, fields);
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        if self.chance(0.3) { self.damage(bytes) } else { bytes }
    }

    fn headers(&mut self, case: &mut Case, content_type: &str, valid: bool) {
        case.headers.push(("content-type", content_type.as_bytes().to_vec()));
        if valid {
            return;
        }
        for _ in 0..self.rng.random_range(0..3) {
            let header: (&'static str, Vec<u8>) = match self.rng.random_range(0..9) {
                0 => (
                    "content-type",
                    (*self.pick(&[
                        "text/plain",
                        "application/json; charset=latin1",
                        "application/xml",
                        "",
                        "application/json;;",
                        "multipart/form-data; boundary=x",
                        "application/merge-patch+json",
                    ]))
                    .into(),
                ),
                1 => (
                    "idempotency-key",
                    (*self.pick(&["", " ", "ключ", "a\tb"])).as_bytes().to_vec(),
                ),
                2 => ("idempotency-key", self.long().into_bytes()),
                3 => (
                    "pcc-consistency-token",
                    (*self.pick(&[
                        "w1.zzzz",
                        "w1.ffffffffffffffff",
                        "w2.0000000000000001",
                        "",
                        "w1.0000000000000000",
                        "w1.-1",
                    ]))
                    .into(),
                ),
                4 => (
                    "authorization",
                    (*self.pick(&[
                        "Bearer",
                        "Bearer ",
                        "Basic Zm9vOmJhcg==",
                        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
                        "bearer x.y.z",
                    ]))
                    .into(),
                ),
                5 => (
                    "if-match",
                    (*self.pick(&[
                        "*",
                        "W/\"1\"",
                        "\"abc\"",
                        "1",
                        "\"99999999999999999999\"",
                        "\"1\", \"2\"",
                        "",
                    ]))
                    .into(),
                ),
                6 => (
                    "x-request-id",
                    (*self.pick(&["", "../../x", "a b", "x".repeat(300).as_str()]))
                        .to_owned()
                        .into_bytes(),
                ),
                7 => (
                    "accept",
                    (*self.pick(&["application/xml", "*/*;q=0", "text/html"])).into(),
                ),
                _ => ("if-none-match", (*self.pick(&["*", "\"1\"", "garbage", ""])).into()),
            };
            if header.0 == "authorization" {
                case.custom_auth = true;
            }
            case.headers.retain(|(name, _)| *name != header.0);
            case.headers.push(header);
        }
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

fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
