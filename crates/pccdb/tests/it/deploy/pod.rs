//! The pod specs under deploy/k8s against the image they run: whatever the kubelet executes inside the
//! container (the command, exec probes, exec lifecycle hooks) must exist in a shell-less distroless image,
//! which holds the service binary and nothing else to run.

use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;
use test_support::repo_root;

use super::dockerfile;

/// Every Kubernetes object in the YAML files under `dir` (recursively; multi-document files), with the file
/// it came from. `kustomization.yaml` is kustomize's, not an object.
pub fn objects_in(dir: &Path) -> Vec<(PathBuf, Value)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml")
                && path.file_name().is_some_and(|n| n != "kustomization.yaml")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for value in documents(&text, &path.display().to_string()) {
            out.push((path.clone(), value));
        }
    }
    out
}

/// The non-empty documents of a multi-document YAML text (a file, or what kustomize prints); `origin` names
/// the text in the panic when it is not YAML.
pub fn documents(text: &str, origin: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let value: Value = serde::Deserialize::deserialize(doc).unwrap_or_else(|e| panic!("{origin}: not YAML: {e}"));
        if !value.is_null() {
            out.push(value);
        }
    }
    out
}

/// Every object of deploy/k8s.
pub fn objects() -> Vec<(PathBuf, Value)> {
    objects_in(&repo_root().join("deploy/k8s"))
}

/// What a container runs through the kubelet: its command and every exec action (probes, lifecycle hooks).
fn executed(container: &Value) -> Vec<(String, Vec<String>)> {
    let strings = |v: &Value| -> Vec<String> {
        v.as_sequence()
            .map(|s| s.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    if let Some(command) = container.get("command") {
        out.push(("command".to_owned(), strings(command)));
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(exec) = container.get(probe).and_then(|p| p.get("exec")) {
            out.push((probe.to_owned(), strings(&exec["command"])));
        }
    }
    for hook in ["preStop", "postStart"] {
        if let Some(exec) = container
            .get("lifecycle")
            .and_then(|l| l.get(hook))
            .and_then(|h| h.get("exec"))
        {
            out.push((hook.to_owned(), strings(&exec["command"])));
        }
    }
    out
}

#[test]
fn what_the_pods_execute_exists_in_the_shell_less_image() {
    let stages = dockerfile::stages();
    let image = dockerfile::stage(&stages, "pcc-client-api");
    let programs: Vec<String> = image.copies_from().into_iter().map(|(_, _, dest)| dest).collect();
    let deployments: Vec<_> = objects()
        .into_iter()
        .filter(|(_, o)| o["kind"] == "Deployment")
        .collect();
    assert!(!deployments.is_empty(), "deploy/k8s has a Deployment");
    for (path, deployment) in deployments {
        let containers = deployment["spec"]["template"]["spec"]["containers"]
            .as_sequence()
            .unwrap();
        for container in containers {
            let runs = executed(container);
            assert!(
                runs.iter().any(|(what, _)| what == "command"),
                "{}: the container names its command (the image's binary), so a changed ENTRYPOINT cannot \
                 silently change what runs",
                path.display()
            );
            for (what, argv) in runs {
                let program = argv
                    .first()
                    .unwrap_or_else(|| panic!("{}: empty {what}", path.display()));
                assert!(
                    programs.contains(program),
                    "{}: {what} runs {program}, which the image does not have (it has {programs:?})",
                    path.display()
                );
            }
            if let Some(pre_stop) = container.get("lifecycle").and_then(|l| l.get("preStop")) {
                assert!(
                    pre_stop.get("sleep").is_some(),
                    "{}: the preStop pause is the kubelet's own sleep action",
                    path.display()
                );
            }
        }
    }
}
