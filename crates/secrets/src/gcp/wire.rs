//! The JSON shapes of the Secret Manager v1 REST API that this backend uses
//! (<https://cloud.google.com/secret-manager/docs/reference/rest>). Proto3 JSON encodes int64
//! as a string (`"dataCrc32c": "2910141592"`, `"versionAliases": {"current": "3"}`), so those
//! fields accept both strings and numbers.

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};

/// `SecretPayload`: base64 data and its CRC32C.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PayloadIn {
    pub data: SecretString,
    #[serde(default, deserialize_with = "opt_int64")]
    pub data_crc32c: Option<i64>,
}

/// Response of `versions/*:access`.
#[derive(Deserialize)]
pub(crate) struct AccessResponse {
    pub name: String,
    pub payload: PayloadIn,
}

/// `SecretPayload` as sent by `:addVersion` (the value is borrowed, never copied into a String
/// that outlives the request).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PayloadOut<'a> {
    pub data: &'a str,
    pub data_crc32c: String,
}

/// Body of `secrets/*:addVersion`.
#[derive(Serialize)]
pub(crate) struct AddVersionRequest<'a> {
    pub payload: PayloadOut<'a>,
}

/// `SecretVersion` metadata.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Version {
    pub name: String,
    #[serde(default)]
    pub create_time: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    /// Set when the secret delays destruction: the version is disabled until then.
    #[serde(default)]
    pub scheduled_destroy_time: Option<String>,
}

/// Response of `secrets/*/versions` (list).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListResponse {
    #[serde(default)]
    pub versions: Vec<Version>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// The parts of `Secret` this backend reads and patches.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Secret {
    #[serde(default, deserialize_with = "alias_map")]
    pub version_aliases: BTreeMap<String, i64>,
    #[serde(default)]
    pub etag: Option<String>,
}

/// Body of the `PATCH secrets/*?updateMask=versionAliases` request.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AliasPatch {
    pub version_aliases: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// Google's error envelope.
#[derive(Deserialize)]
pub(crate) struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// The inside of Google's error envelope.
#[derive(Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub status: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Int64 {
    Text(String),
    Number(i64),
}

impl Int64 {
    fn value<E: serde::de::Error>(self) -> Result<i64, E> {
        match self {
            Self::Number(n) => Ok(n),
            Self::Text(s) => s.parse().map_err(|_| E::custom(format!("invalid int64 {s:?}"))),
        }
    }
}

fn opt_int64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Option::<Int64>::deserialize(d)?.map(Int64::value).transpose()
}

fn alias_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, i64>, D::Error> {
    BTreeMap::<String, Int64>::deserialize(d)?
        .into_iter()
        .map(|(k, v)| v.value().map(|v| (k, v)))
        .collect()
}
