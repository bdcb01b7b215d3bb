//! The damage the fuzzer does: hostile values, mutated JSON members, broken bytes, odd headers, raw
//! query encodings.

use rand::RngExt as _;
use serde_json::{Map, Value, json};

use super::{Case, Fuzzer};

pub(super) const EVIL: &[&str] = &[
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
    /// A hostile JSON value.
    pub(super) fn evil_value(&mut self) -> Value {
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

    pub(super) fn client_body(&mut self) -> Map<String, Value> {
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

    pub(super) fn mutate(&mut self, mut body: Map<String, Value>, fields: &[&str]) -> Map<String, Value> {
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
    pub(super) fn damage(&mut self, mut bytes: Vec<u8>) -> Vec<u8> {
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

    pub(super) fn body_of(&mut self, body: Map<String, Value>, fields: &[&str], valid: bool) -> Vec<u8> {
        if valid {
            return serde_json::to_vec(&body).unwrap_or_default();
        }
        let body = self.mutate(body, fields);
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        if self.chance(0.3) { self.damage(bytes) } else { bytes }
    }

    pub(super) fn headers(&mut self, case: &mut Case, content_type: &str, valid: bool) {
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
}

pub(super) fn percent_encode(text: &str) -> String {
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
