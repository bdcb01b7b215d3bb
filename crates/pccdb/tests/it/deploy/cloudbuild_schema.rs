//! The Cloud Build pipelines (deploy/ci/cloudbuild-*.yaml) against Cloud Build's published schema:
//! SchemaStore's `cloudbuild` schema as check-jsonschema (PyPI) vendors it (`--builtin-schema
//! vendor.cloudbuild`), run by check-jsonschema itself. Both are pinned in
//! scripts/lib/check-jsonschema.requirements.txt and installed by `scripts/lib/ensure-deps.sh --deploy-checks`
//! into `.pcc/venv-check-jsonschema`.
//!
//! What the schema refuses: unknown keys in a step and in `options`, wrong types (a step's `timeout` must be a
//! `"<n>s"` string), values outside an enum (`options.machineType`, `options.logging`), a build without
//! `steps`. What it does not: a step without `name` (cloudbuild.rs fails on that), and unknown top-level keys
//! (it lists the top-level fields but leaves `additionalProperties` open), so this file also holds every
//! top-level key to the fields the schema declares, as the strict Kubernetes schemas do for objects.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml_ng::Value;
use test_support::repo_root;

use super::cloudbuild::pipelines;

const REQUIREMENTS: &str = "scripts/lib/check-jsonschema.requirements.txt";

/// The venv ensure-deps built from the pinned requirements; a missing or outdated one is a setup error that
/// names the command that fixes it (a test never installs anything itself).
fn venv() -> PathBuf {
    let root = repo_root();
    let venv = root.join(".pcc/venv-check-jsonschema");
    let pinned = std::fs::read(root.join(REQUIREMENTS)).unwrap();
    let built_from = std::fs::read(venv.join("pcc-requirements.txt")).ok();
    assert!(
        built_from.as_deref() == Some(pinned.as_slice()) && venv.join("bin/check-jsonschema").exists(),
        "{} is missing or not built from {REQUIREMENTS}: run scripts/lib/ensure-deps.sh --deploy-checks",
        venv.display()
    );
    venv
}

/// check-jsonschema's verdict on `files` against the vendored Cloud Build schema: whether it passed, and its
/// JSON report (`errors`: filename, path, message).
fn check(files: &[PathBuf]) -> (bool, serde_json::Value) {
    let output = Command::new(venv().join("bin/check-jsonschema"))
        .args(["--builtin-schema", "vendor.cloudbuild", "--output-format", "json"])
        .args(files)
        .output()
        .expect("running check-jsonschema");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "check-jsonschema printed no JSON report ({e}):\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let passed = output.status.success() && report["status"] == "ok";
    (passed, report)
}

/// The vendored schema itself (the same file check-jsonschema loads for `vendor.cloudbuild`).
fn vendored_schema() -> serde_json::Value {
    let lib = venv().join("lib");
    let python = std::fs::read_dir(&lib)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("python3"))
        .unwrap_or_else(|| panic!("no python3.* under {}", lib.display()));
    let file = python.join("site-packages/check_jsonschema/builtin_schemas/vendor/cloudbuild.json");
    serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap()
}

/// The top-level keys of a pipeline that the schema does not declare.
fn undeclared_top_level_keys(schema: &serde_json::Value, pipeline: &Value) -> Vec<String> {
    let declared = schema["properties"]
        .as_object()
        .expect("the schema lists the build's fields");
    pipeline
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .filter(|k| !declared.contains_key(k))
        .collect()
}

#[test]
fn every_pipeline_passes_the_published_cloud_build_schema() {
    let schema = vendored_schema();
    assert_eq!(
        schema["$id"], "https://json.schemastore.org/cloudbuild",
        "the referee is SchemaStore's Cloud Build schema"
    );
    for (path, pipeline) in pipelines() {
        // One run per file, so a failure names the file and a passing run cannot hide one that was skipped.
        let (passed, report) = check(std::slice::from_ref(&path));
        assert!(passed, "{}: {report:#}", path.display());
        let unknown = undeclared_top_level_keys(&schema, &pipeline);
        assert!(
            unknown.is_empty(),
            "{}: top-level keys the Cloud Build schema does not declare: {unknown:?}",
            path.display()
        );
    }
}

fn step0(pipeline: &mut Value) -> &mut serde_yaml_ng::Mapping {
    pipeline["steps"][0].as_mapping_mut().unwrap()
}

/// A copy of a real pipeline with one deliberate mistake, written where check-jsonschema can read it.
fn broken(dir: &Path, name: &str, base: &Value, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut copy = base.clone();
    edit(&mut copy);
    let path = dir.join(format!("cloudbuild-{name}.yaml"));
    std::fs::write(&path, serde_yaml_ng::to_string(&copy).unwrap()).unwrap();
    path
}

#[test]
fn the_schema_refuses_a_misspelt_step_field_a_wrong_type_an_unknown_machine_and_a_build_without_steps() {
    let (_, image) = pipelines()
        .into_iter()
        .find(|(p, _)| p.ends_with("cloudbuild-image.yaml"))
        .expect("deploy/ci/cloudbuild-image.yaml");
    let dir = tempfile::tempdir().unwrap();
    // Each case: the broken copy and a fragment of the message the referee must give for it.
    let cases = [
        (
            broken(dir.path(), "misspelt", &image, |p| {
                let args = step0(p).remove("args").unwrap();
                step0(p).insert("arg".into(), args);
            }),
            "'arg' was unexpected",
        ),
        (
            broken(dir.path(), "timeout", &image, |p| {
                step0(p).insert("timeout".into(), 600.into());
            }),
            "600 is not of type 'string'",
        ),
        (
            broken(dir.path(), "machine", &image, |p| {
                p["options"]["machineType"] = "E2_HIGHCPU_9000".into();
            }),
            "'E2_HIGHCPU_9000' is not one of",
        ),
        (
            broken(dir.path(), "no-steps", &image, |p| {
                p.as_mapping_mut().unwrap().remove("steps");
            }),
            "'steps' is a required property",
        ),
    ];
    let files: Vec<PathBuf> = cases.iter().map(|(f, _)| f.clone()).collect();
    let (passed, report) = check(&files);
    assert!(!passed, "the broken copies were accepted: {report:#}");
    let errors = report["errors"].as_array().unwrap();
    for (file, expected) in &cases {
        let messages: Vec<&str> = errors
            .iter()
            .filter(|e| e["filename"].as_str() == file.to_str())
            .map(|e| e["message"].as_str().unwrap())
            .collect();
        assert!(
            messages.iter().any(|m| m.contains(expected)),
            "{}: expected an error containing {expected:?}, got {messages:?}",
            file.display()
        );
    }

    // The top-level keys the schema leaves open are held to its declared fields here: a misspelt one fails.
    let schema = vendored_schema();
    let mut typo = image;
    let images = typo.as_mapping_mut().unwrap().remove("images").unwrap();
    typo.as_mapping_mut().unwrap().insert("image".into(), images);
    assert_eq!(undeclared_top_level_keys(&schema, &typo), ["image"]);
}
