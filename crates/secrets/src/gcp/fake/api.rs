//! The fake's Secret Manager methods: secrets (GET, alias PATCH), versions (add, list, get,
//! access, disable, destroy), each behind its IAM permission when IAM is enforced. Messages are
//! Google's ("Secret [..] not found or has no versions.", "Permission '..' denied for resource
//! '..' (or it may not exist).").

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use serde_json::{Value, json};

use super::{FakeSecret, FakeState, FakeVersion, error, now, ok};

/// The permission a method needs (`None` for an unknown method, which is a 404 anyway).
fn permission(method: &str, parts: &[&str]) -> Option<&'static str> {
    Some(match (method, parts) {
        ("GET", [_, "secrets", _]) => "secretmanager.secrets.get",
        ("PATCH", [_, "secrets", _]) => "secretmanager.secrets.update",
        ("POST", [_, "secrets", s]) if s.ends_with(":addVersion") => "secretmanager.versions.add",
        ("GET", [_, "secrets", _, "versions"]) => "secretmanager.versions.list",
        ("GET", [_, "secrets", _, "versions", v]) if v.ends_with(":access") => "secretmanager.versions.access",
        ("GET", [_, "secrets", _, "versions", _]) => "secretmanager.versions.get",
        ("POST", [_, "secrets", _, "versions", v]) if v.ends_with(":disable") => "secretmanager.versions.disable",
        ("POST", [_, "secrets", _, "versions", v]) if v.ends_with(":destroy") => "secretmanager.versions.destroy",
        _ => return None,
    })
}

pub(super) fn route(
    st: &mut FakeState,
    principal: &str,
    method: &Method,
    parts: &[&str],
    query: &BTreeMap<String, String>,
    body: &[u8],
) -> Response {
    if let (Some(policy), Some(permission), [project, "secrets", secret, ..]) =
        (&st.iam, permission(method.as_str(), parts), parts)
    {
        let secret = secret.split(':').next().unwrap_or_default();
        if !policy.allows(principal, permission, project, secret) {
            let resource = format!("projects/{}", parts.join("/"));
            return error(
                StatusCode::FORBIDDEN,
                "PERMISSION_DENIED",
                &format!("Permission '{permission}' denied for resource '{resource}' (or it may not exist)."),
            );
        }
    }
    match (method.as_str(), parts) {
        ("GET", [p, "secrets", s]) => with_secret(st, p, s, |sec, name| {
            let aliases: BTreeMap<&String, String> = sec.aliases.iter().map(|(k, v)| (k, v.to_string())).collect();
            ok(json!({"name": name, "versionAliases": aliases, "etag": format!("\"{}\"", sec.etag)}))
        }),
        ("PATCH", [p, "secrets", s]) => {
            if query.get("updateMask").map(String::as_str) != Some("versionAliases") {
                return error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", "unsupported updateMask");
            }
            let Ok(req) = serde_json::from_slice::<Value>(body) else {
                return error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", "invalid JSON");
            };
            with_secret(st, p, s, |sec, name| patch_aliases(sec, name, &req))
        }
        ("POST", [p, "secrets", s_add]) if s_add.ends_with(":addVersion") => {
            let s = s_add.trim_end_matches(":addVersion");
            with_secret(st, p, s, |sec, name| add_version(sec, name, body))
        }
        ("GET", [p, "secrets", s, "versions"]) => with_secret(st, p, s, |sec, name| list(sec, name, query)),
        ("GET", [p, "secrets", s, "versions", v_access]) if v_access.ends_with(":access") => {
            let v = v_access.trim_end_matches(":access").to_owned();
            let corrupt = std::mem::take(&mut st.corrupt_next_access);
            with_secret_for_access(st, p, s, |sec, name| access(sec, name, &v, corrupt))
        }
        ("GET", [p, "secrets", s, "versions", v]) => with_secret(st, p, s, |sec, name| {
            with_version(sec, name, v, |e, name| ok(version_json(name, e)))
        }),
        ("POST", [p, "secrets", s, "versions", v_disable]) if v_disable.ends_with(":disable") => {
            let v = v_disable.trim_end_matches(":disable").to_owned();
            with_secret(st, p, s, |sec, name| {
                with_version(sec, name, &v, |e, name| {
                    if e.state == "ENABLED" {
                        e.state = "DISABLED";
                    }
                    ok(version_json(name, e))
                })
            })
        }
        ("POST", [p, "secrets", s, "versions", v_destroy]) if v_destroy.ends_with(":destroy") => {
            let v = v_destroy.trim_end_matches(":destroy").to_owned();
            with_secret(st, p, s, |sec, name| {
                with_version(sec, name, &v, |e, name| {
                    if e.state == "DESTROYED" {
                        let msg = format!(
                            "SecretVersion [{name}/versions/{}] is already in DESTROYED state.",
                            e.number
                        );
                        return error(StatusCode::BAD_REQUEST, "FAILED_PRECONDITION", &msg);
                    }
                    e.state = "DESTROYED";
                    e.payload.clear();
                    let mut v = version_json(name, e);
                    v["destroyTime"] = json!(now());
                    ok(v)
                })
            })
        }
        _ => error(StatusCode::NOT_FOUND, "NOT_FOUND", "unknown method or path"),
    }
}

fn version_json(secret_name: &str, e: &FakeVersion) -> Value {
    json!({"name": format!("{secret_name}/versions/{}", e.number), "state": e.state, "createTime": e.created})
}

fn with_secret(
    st: &mut FakeState,
    project: &str,
    secret: &str,
    f: impl FnOnce(&mut FakeSecret, &str) -> Response,
) -> Response {
    let name = format!("projects/{project}/secrets/{secret}");
    match st.secrets.get_mut(&(project.to_owned(), secret.to_owned())) {
        Some(sec) => f(sec, &name),
        None => error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("Secret [{name}] not found."),
        ),
    }
}

/// `:access` words a missing secret as Google does (the same words as a secret without versions).
fn with_secret_for_access(
    st: &mut FakeState,
    project: &str,
    secret: &str,
    f: impl FnOnce(&mut FakeSecret, &str) -> Response,
) -> Response {
    let name = format!("projects/{project}/secrets/{secret}");
    match st.secrets.get_mut(&(project.to_owned(), secret.to_owned())) {
        Some(sec) => f(sec, &name),
        None => error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("Secret [{name}] not found or has no versions."),
        ),
    }
}

fn with_version(
    sec: &mut FakeSecret,
    name: &str,
    v: &str,
    f: impl FnOnce(&mut FakeVersion, &str) -> Response,
) -> Response {
    match v
        .parse::<i64>()
        .ok()
        .and_then(|n| sec.versions.iter_mut().find(|e| e.number == n))
    {
        Some(e) => f(e, name),
        None => error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("Secret Version [{name}/versions/{v}] not found."),
        ),
    }
}

fn add_version(sec: &mut FakeSecret, name: &str, body: &[u8]) -> Response {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", "invalid JSON");
    };
    let data = req["payload"]["data"].as_str().unwrap_or_default();
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data) else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "payload.data is not base64",
        );
    };
    if let Some(crc) = req["payload"]["dataCrc32c"].as_str()
        && crc.parse::<i64>().ok() != Some(i64::from(crc32c::crc32c(&bytes)))
    {
        return error(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", "Checksum mismatch.");
    }
    ok(version_json(name, sec.push_version(bytes)))
}

fn access(sec: &FakeSecret, name: &str, v: &str, corrupt: bool) -> Response {
    let number = if v == "latest" {
        match sec.versions.iter().rev().find(|e| e.state == "ENABLED") {
            Some(e) => Some(e.number),
            None => {
                return error(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    &format!("Secret [{name}] not found or has no versions."),
                );
            }
        }
    } else if let Ok(n) = v.parse::<i64>() {
        Some(n)
    } else {
        sec.aliases.get(v).copied()
    };
    let Some(entry) = number.and_then(|n| sec.versions.iter().find(|e| e.number == n)) else {
        return error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            &format!("Secret Version [{name}/versions/{v}] not found."),
        );
    };
    if entry.state != "ENABLED" {
        let msg = format!(
            "Secret Version [{name}/versions/{}] is in {} state.",
            entry.number, entry.state
        );
        return error(StatusCode::BAD_REQUEST, "FAILED_PRECONDITION", &msg);
    }
    let mut crc = i64::from(crc32c::crc32c(&entry.payload));
    if corrupt {
        crc ^= 1;
    }
    ok(json!({
        "name": format!("{name}/versions/{}", entry.number),
        "payload": {"data": base64::engine::general_purpose::STANDARD.encode(&entry.payload), "dataCrc32c": crc.to_string()}
    }))
}

fn list(sec: &FakeSecret, name: &str, query: &BTreeMap<String, String>) -> Response {
    let size: usize = query
        .get("pageSize")
        .and_then(|s| s.parse().ok())
        .unwrap_or(25)
        .clamp(1, 25_000);
    let offset: usize = query.get("pageToken").and_then(|s| s.parse().ok()).unwrap_or(0);
    let newest_first: Vec<Value> = sec
        .versions
        .iter()
        .rev()
        .skip(offset)
        .take(size)
        .map(|e| version_json(name, e))
        .collect();
    let mut body = json!({"versions": newest_first, "totalSize": sec.versions.len()});
    if offset + size < sec.versions.len() {
        body["nextPageToken"] = Value::String((offset + size).to_string());
    }
    ok(body)
}

fn patch_aliases(sec: &mut FakeSecret, name: &str, req: &Value) -> Response {
    if let Some(etag) = req["etag"].as_str()
        && etag != format!("\"{}\"", sec.etag)
    {
        return error(StatusCode::CONFLICT, "ABORTED", "etag mismatch");
    }
    let mut aliases = BTreeMap::new();
    for (k, v) in req["versionAliases"].as_object().into_iter().flatten() {
        let n = v.as_str().and_then(|s| s.parse::<i64>().ok()).or_else(|| v.as_i64());
        match n {
            Some(n) if sec.versions.iter().any(|e| e.number == n) => {
                aliases.insert(k.clone(), n);
            }
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_ARGUMENT",
                    &format!("alias {k} points to no version"),
                );
            }
        }
    }
    sec.aliases = aliases;
    sec.etag += 1;
    let shown: BTreeMap<&String, String> = sec.aliases.iter().map(|(k, v)| (k, v.to_string())).collect();
    ok(json!({"name": name, "versionAliases": shown, "etag": format!("\"{}\"", sec.etag)}))
}
