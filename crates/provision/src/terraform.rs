//! Endpoints taken from Terraform: the JSON `terraform output -json` writes, read for one named output.
//! The manifest names the output (`primary = { terraform_output = "alloydb_primary_ip", settings = "..." }`)
//! instead of copying the address Terraform assigned.
//!
//! The file's shape (Terraform's documented machine-readable output): an object from output name to
//! `{"sensitive": bool, "type": <type>, "value": <value>}`. An endpoint output must be a non-sensitive
//! string holding an IP address or a DNS name.

use std::net::IpAddr;
use std::path::Path;

/// Reads output `name` of the outputs file `file` as a host.
///
/// # Errors
/// A description naming the file and the output: unreadable or malformed file, a missing, sensitive or
/// non-string output, or a value that is not a host.
pub fn output_host(file: &Path, name: &str) -> Result<String, String> {
    let shown = file.display();
    let text = std::fs::read_to_string(file).map_err(|e| {
        format!("cannot read the Terraform outputs {shown}: {e} (write it with `terraform output -json > {shown}`)")
    })?;
    let outputs: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{shown} is not `terraform output -json` output: {e}"))?;
    let Some(outputs) = outputs.as_object() else {
        return Err(format!(
            "{shown} is not `terraform output -json` output: not a JSON object"
        ));
    };
    let Some(output) = outputs.get(name) else {
        let mut known: Vec<&str> = outputs.keys().map(String::as_str).collect();
        known.sort_unstable();
        return Err(format!(
            "{shown} has no output {name:?} (it has: {})",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ));
    };
    if output.get("sensitive").and_then(serde_json::Value::as_bool) == Some(true) {
        return Err(format!(
            "output {name:?} of {shown} is sensitive; an endpoint is not a secret"
        ));
    }
    let Some(value) = output.get("value").and_then(serde_json::Value::as_str) else {
        return Err(format!("output {name:?} of {shown} is not a string"));
    };
    if value.parse::<IpAddr>().is_ok() || is_dns_name(value) {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "output {name:?} of {shown} is {value:?}, not an IP address or a DNS name"
        ))
    }
}

/// Letters, digits, `-` and `.`, in labels of 1-63 characters: nothing that could carry another
/// connection-string setting.
fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs(json: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outputs.json");
        std::fs::write(&path, json).unwrap();
        (dir, path)
    }

    #[test]
    fn a_string_output_is_the_host_and_everything_else_is_refused_by_name() {
        let (_d, path) = outputs(
            r#"{"ip":{"sensitive":false,"type":"string","value":"10.1.2.3"},
                "dns":{"sensitive":false,"type":"string","value":"db.internal"},
                "pw":{"sensitive":true,"type":"string","value":"hunter2"},
                "list":{"sensitive":false,"type":["list","string"],"value":["a"]},
                "evil":{"sensitive":false,"type":"string","value":"x;Password=y"}}"#,
        );
        assert_eq!(output_host(&path, "ip").unwrap(), "10.1.2.3");
        assert_eq!(output_host(&path, "dns").unwrap(), "db.internal");
        let e = output_host(&path, "pw").unwrap_err();
        assert!(e.contains("sensitive") && !e.contains("hunter2"), "{e}");
        assert!(output_host(&path, "list").unwrap_err().contains("not a string"));
        assert!(
            output_host(&path, "evil")
                .unwrap_err()
                .contains("not an IP address or a DNS name")
        );
        let e = output_host(&path, "nope").unwrap_err();
        assert!(e.contains("\"nope\"") && e.contains("dns, evil, ip, list, pw"), "{e}");
        let missing = path.with_file_name("absent.json");
        assert!(
            output_host(&missing, "ip")
                .unwrap_err()
                .contains("terraform output -json >")
        );
        let (_d2, bad) = outputs("[1]");
        assert!(output_host(&bad, "ip").unwrap_err().contains("not a JSON object"));
    }
}
