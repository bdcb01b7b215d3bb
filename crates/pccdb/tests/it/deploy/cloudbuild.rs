//! The Cloud Build pipelines under deploy/ci, read as Cloud Build reads them: every step that runs our code
//! runs an image built from the same commit (`:${COMMIT_SHA}`), nothing is compiled in a pipeline, the
//! images built are the Dockerfile's stages, every pccdb step's arguments are accepted by the real pccdb,
//! and the cluster CA comes from the API call that has it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_yaml_ng::Value;
use test_support::repo_root;

use super::dockerfile;
use crate::common;

/// The registry path of our images; `${COMMIT_SHA}` follows.
const REGISTRY: &str = "${_REGION}-docker.pkg.dev/${PROJECT_ID}/pcc/";
/// Google's builder images a step may use for what is not ours (gcloud, gsutil, docker, kubectl).
const BUILDERS: &[&str] = &[
    "gcr.io/google.com/cloudsdktool/cloud-sdk:slim",
    "gcr.io/cloud-builders/docker",
    "gcr.io/cloud-builders/kubectl",
];

pub(super) fn pipelines() -> Vec<(PathBuf, Value)> {
    let dir = repo_root().join("deploy/ci");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("cloudbuild-") && n.ends_with(".yaml"))
        })
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let value: Value =
                serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: not YAML: {e}", p.display()));
            (p, value)
        })
        .collect()
}

pub(super) fn pipeline(name: &str) -> Value {
    pipelines()
        .into_iter()
        .find(|(p, _)| p.file_name().unwrap() == name)
        .unwrap_or_else(|| panic!("deploy/ci/{name}"))
        .1
}

fn steps(pipeline: &Value) -> &Vec<Value> {
    pipeline["steps"].as_sequence().expect("steps")
}

/// Every word a step hands to its container: entrypoint, args, script.
fn words(step: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["entrypoint", "script"] {
        if let Some(s) = step.get(key).and_then(Value::as_str) {
            out.push(s.to_owned());
        }
    }
    if let Some(args) = step.get("args").and_then(Value::as_sequence) {
        out.extend(args.iter().map(|a| a.as_str().expect("args are strings").to_owned()));
    }
    out
}

/// `text` with the pipeline's default substitutions and Cloud Build's built-in ones filled in.
fn substitute(pipeline: &Value, text: &str) -> String {
    let mut values: BTreeMap<String, String> = BTreeMap::from([
        ("PROJECT_ID".to_owned(), "pcc-devtest".to_owned()),
        (
            "COMMIT_SHA".to_owned(),
            "0123456789abcdef0123456789abcdef01234567".to_owned(),
        ),
        ("BUILD_ID".to_owned(), "b-1".to_owned()),
    ]);
    if let Some(subs) = pipeline.get("substitutions").and_then(Value::as_mapping) {
        for (k, v) in subs {
            values.insert(k.as_str().unwrap().to_owned(), v.as_str().unwrap().to_owned());
        }
    }
    let mut out = text.to_owned();
    for (k, v) in &values {
        out = out.replace(&format!("${{{k}}}"), v).replace(&format!("${k}"), v);
    }
    assert!(!out.contains('$'), "unknown substitution in {text:?}");
    out
}

/// The steps of a pipeline that run our pccdb image, in order: each one's id and the arguments the image's
/// entrypoint (pccdb) gets, with the pipeline's default substitutions filled in.
pub(super) fn pccdb_steps(pipeline: &Value) -> Vec<(String, Vec<String>)> {
    let ours = format!("{REGISTRY}pccdb:${{COMMIT_SHA}}");
    steps(pipeline)
        .iter()
        .filter(|step| step["name"].as_str() == Some(ours.as_str()))
        .map(|step| {
            assert!(step.get("entrypoint").is_none(), "the image's entrypoint is pccdb");
            let id = step["id"].as_str().expect("every pccdb step has an id").to_owned();
            (id, words(step).iter().map(|w| substitute(pipeline, w)).collect())
        })
        .collect()
}

#[test]
fn no_pipeline_compiles_and_every_step_runs_an_image_of_its_commit_or_a_google_builder() {
    for (path, p) in pipelines() {
        for step in steps(&p) {
            let name = step["name"].as_str().unwrap();
            let id = step["id"].as_str().unwrap_or(name);
            let ours = name
                .strip_prefix(REGISTRY)
                .and_then(|rest| rest.strip_suffix(":${COMMIT_SHA}"));
            assert!(
                ours.is_some() || BUILDERS.contains(&name),
                "{}: step {id} runs {name}: neither our image of this commit nor a Google builder",
                path.display()
            );
            assert!(
                !name.starts_with("rust"),
                "{}: step {id} runs a Rust toolchain",
                path.display()
            );
            for word in words(step) {
                assert!(
                    !word.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w == "cargo"),
                    "{}: step {id} runs cargo: {word}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn the_image_pipeline_builds_and_pushes_each_dockerfile_stage_tagged_with_the_commit() {
    let p = pipeline("cloudbuild-image.yaml");
    let stages = dockerfile::stages();
    let mut tags = Vec::new();
    for target in ["pcc-client-api", "pccdb"] {
        dockerfile::stage(&stages, target);
        let expected_tag = format!("--tag={REGISTRY}{target}:${{COMMIT_SHA}}");
        let step = steps(&p)
            .iter()
            .find(|s| words(s).contains(&format!("--target={target}")))
            .unwrap_or_else(|| panic!("no step builds the {target} target"));
        let w = words(step);
        assert_eq!(w[0], "build", "{w:?}");
        assert!(w.contains(&expected_tag), "{w:?} lacks {expected_tag}");
        assert_eq!(w.last().unwrap(), ".", "the build context is the repository root");
        tags.push(format!("{REGISTRY}{target}:${{COMMIT_SHA}}"));
    }
    let images: Vec<String> = p["images"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        images, tags,
        "what is pushed is what was built, nothing else (no `latest`)"
    );
}

#[test]
fn every_pccdb_step_is_accepted_by_the_real_pccdb() {
    let mut seen = 0;
    for (path, p) in pipelines() {
        for (_, mut args) in pccdb_steps(&p) {
            // --help after the step's own arguments: clap parses (and refuses) each of them first.
            args.push("--help".to_owned());
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let (code, out) = common::pccdb(&refs, None, &[], None);
            assert_eq!(code, 0, "{}: pccdb {args:?}:\n{out}", path.display());
            seen += 1;
        }
    }
    assert!(
        seen >= 7,
        "the database and rotation pipelines run pccdb ({seen} steps)"
    );
}

#[test]
fn the_cluster_ca_comes_from_generate_client_certificate_into_the_manifests_root_certificate() {
    let script = std::fs::read_to_string(repo_root().join("deploy/ci/alloydb-ca.sh")).unwrap();
    let code: String = script
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        code.contains(":generateClientCertificate") && code.contains("\"caCert\""),
        "the CA is caCert of clusters.generateClientCertificate"
    );
    assert!(
        !code.contains("connectionInfo") && !code.contains("pemCertificateChain"),
        "connectionInfo has no certificate; pemCertificateChain is the client certificate's chain"
    );
    let manifest = super::repo_manifest();
    for (file, env) in [
        ("cloudbuild-database.yaml", "devtest"),
        ("cloudbuild-rotate.yaml", "devtest"),
    ] {
        let p = pipeline(file);
        let step = steps(&p)
            .iter()
            .find(|s| s["id"] == "alloydb-ca")
            .unwrap_or_else(|| panic!("{file}: an alloydb-ca step"));
        let w = words(step);
        assert_eq!(w[1], "deploy/ci/alloydb-ca.sh", "{file}: {w:?}");
        let out = w.last().unwrap().clone();
        let mount = step["volumes"][0]["path"].as_str().unwrap();
        assert!(
            out.starts_with(&format!("{mount}/")),
            "{file}: the CA is written into the shared volume"
        );
        let root = roots_of(&manifest, env);
        assert_eq!(
            root,
            vec![out.clone()],
            "{file}: pccdb verifies with the file the step writes"
        );
        for step in steps(&p)
            .iter()
            .filter(|s| s["name"].as_str().unwrap().starts_with(REGISTRY))
        {
            assert_eq!(
                step["volumes"][0]["path"].as_str(),
                Some(mount),
                "{file}: {step:?} sees the CA"
            );
        }
    }
}

#[test]
fn the_deploy_pipeline_applies_the_fresh_render_with_the_commit_image_and_the_ca_the_pods_mount() {
    let p = pipeline("cloudbuild-deploy.yaml");
    let steps = steps(&p);
    let first = words(&steps[0]);
    assert_eq!(
        first[..2],
        ["render".to_owned(), "k8s".to_owned()],
        "the render is checked first"
    );
    assert!(first.contains(&"--check".to_owned()));
    let ca = steps
        .iter()
        .find(|s| s["id"] == "alloydb-ca")
        .expect("an alloydb-ca step");
    let ca_file = words(ca).last().unwrap().clone();
    let manifest = super::repo_manifest();
    let root = roots_of(&manifest, "devtest");
    let file_name = |p: &str| {
        std::path::Path::new(p)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        file_name(&ca_file),
        file_name(&root[0]),
        "the ConfigMap key is the file the pods verify with"
    );
    let apply = words(steps.iter().find(|s| s["id"] == "apply").unwrap()).join("\n");
    let overlay_dir = std::path::Path::new(&ca_file).parent().unwrap().display().to_string();
    for needle in [
        format!("cat > {overlay_dir}/kustomization.yaml"),
        format!("files: [{}]", file_name(&ca_file)),
        format!("- name: {}", k8s_render::CA_CONFIG_MAP),
        "newTag: ${COMMIT_SHA}".to_owned(),
        "newName: ${_REGION}-docker.pkg.dev/${PROJECT_ID}/pcc/${_SERVICE}".to_owned(),
        "- ../../deploy/k8s/${_SERVICE}-${_ENV}".to_owned(),
        format!("kubectl apply -k {overlay_dir}"),
    ] {
        assert!(apply.contains(&needle), "the apply step lacks {needle:?}:\n{apply}");
    }
}

/// The distinct root certificate files of an environment's endpoints.
fn roots_of(manifest: &provision::Manifest, env: &str) -> Vec<String> {
    let ends = provision::target::endpoints(manifest.environment(env).unwrap()).unwrap();
    let mut roots: Vec<String> = std::iter::once(&ends.primary)
        .chain(ends.replica.as_ref())
        .map(|s| {
            s.root_cert
                .as_ref()
                .expect("VerifyCA needs a root certificate")
                .display()
                .to_string()
        })
        .collect();
    roots.dedup();
    roots
}
