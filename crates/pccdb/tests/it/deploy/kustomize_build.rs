//! The `kustomization.yaml` of every directory under deploy/k8s, refereed by the real kustomize (no published
//! schema of the Kustomization kind exists to check it against): `kustomize build` must accept each one and
//! print exactly the objects of the resource files it lists, which must be every object file of the
//! directory, so what the deploy pipeline's overlay applies is what the committed render holds. Broken copies
//! (an unknown top-level field, a listed file that does not exist) must be refused.
//!
//! kustomize is pinned in scripts/lib/kustomize.version and built by `scripts/lib/ensure-deps.sh
//! --deploy-checks` into `.pcc/go-bin`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_yaml_ng::Value;
use test_support::repo_root;

use super::pod::{documents, objects_in};

const PIN: &str = "scripts/lib/kustomize.version";

/// The pinned kustomize that ensure-deps built; a missing or other version is a setup error naming the command
/// that fixes it (a test never installs anything itself).
fn kustomize() -> PathBuf {
    let root = repo_root();
    let pinned = std::fs::read_to_string(root.join(PIN)).unwrap();
    let pinned = pinned
        .lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())
        .unwrap_or_else(|| panic!("{PIN} names no version"))
        .trim()
        .to_owned();
    let binary = root.join(".pcc/go-bin/kustomize");
    let built = Command::new(&binary)
        .arg("version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    assert!(
        built.as_deref() == Some(pinned.as_str()),
        "{} is missing or not kustomize {pinned} ({PIN}; it says {built:?}): run scripts/lib/ensure-deps.sh \
         --deploy-checks",
        binary.display()
    );
    binary
}

fn build(dir: &Path) -> Output {
    Command::new(kustomize())
        .arg("build")
        .arg(dir)
        .output()
        .expect("running kustomize build")
}

/// Every directory under deploy/k8s that holds a kustomization.yaml.
fn kustomization_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let mut stack = vec![repo_root().join("deploy/k8s")];
    while let Some(d) = stack.pop() {
        if d.join("kustomization.yaml").exists() {
            dirs.push(d.clone());
        }
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    dirs.sort();
    assert!(!dirs.is_empty(), "deploy/k8s has rendered directories");
    dirs
}

/// The files a kustomization.yaml lists under `resources`, as paths in its directory.
fn listed_resources(dir: &Path) -> Vec<PathBuf> {
    let file = dir.join("kustomization.yaml");
    let kustomization: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let mut listed: Vec<PathBuf> = kustomization["resources"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{}: no resources list", file.display()))
        .iter()
        .map(|r| dir.join(r.as_str().unwrap()))
        .collect();
    listed.sort();
    listed
}

/// What identifies an object to Kubernetes (and to kustomize): group/version, kind, namespace, name.
fn identity(object: &Value) -> [String; 4] {
    let field = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    [
        field(&object["apiVersion"]),
        field(&object["kind"]),
        field(&object["metadata"]["namespace"]),
        field(&object["metadata"]["name"]),
    ]
}

/// Objects in a stable order, so two lists compare as sets and a difference prints side by side.
fn by_identity(mut objects: Vec<Value>) -> Vec<([String; 4], Value)> {
    objects.sort_by_key(identity);
    objects.into_iter().map(|o| (identity(&o), o)).collect()
}

#[test]
fn kustomize_builds_every_committed_kustomization_into_exactly_the_objects_of_its_listed_files() {
    for dir in kustomization_dirs() {
        let listed = listed_resources(&dir);
        // A rendered file the kustomization forgot would never be applied; one it lists but the directory
        // lacks, kustomize refuses (the second test).
        let in_dir = objects_in(&dir);
        let mut object_files: Vec<PathBuf> = in_dir.iter().map(|(p, _)| p.clone()).collect();
        object_files.dedup();
        assert_eq!(
            object_files,
            listed,
            "{}: the object files and the listed ones",
            dir.display()
        );

        let output = build(&dir);
        assert!(
            output.status.success(),
            "kustomize build {}: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let built = by_identity(documents(
            &String::from_utf8(output.stdout).unwrap(),
            &format!("kustomize build {}", dir.display()),
        ));
        let expected = by_identity(in_dir.into_iter().map(|(_, o)| o).collect());
        let ids = |objects: &[([String; 4], Value)]| objects.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&built), ids(&expected), "{}: what kustomize builds", dir.display());
        // Nothing is transformed either (no namePrefix, labels or patches the files do not show); YAML mappings
        // compare regardless of key order, which kustomize sorts.
        for ((id, built), (_, expected)) in built.iter().zip(&expected) {
            assert_eq!(built, expected, "{}: {id:?} as kustomize builds it", dir.display());
        }
    }
}

/// A copy of a rendered directory whose kustomization.yaml is `edit`ed, and the error kustomize gives for it.
fn build_broken_copy(edit: impl FnOnce(String) -> String) -> String {
    let source = kustomization_dirs().remove(0);
    let scratch = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, scratch.path().join(path.file_name().unwrap())).unwrap();
    }
    let file = scratch.path().join("kustomization.yaml");
    std::fs::write(&file, edit(std::fs::read_to_string(&file).unwrap())).unwrap();
    let output = build(scratch.path());
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "kustomize accepted a broken copy of {}:\n{}",
        source.display(),
        std::fs::read_to_string(&file).unwrap()
    );
    stderr
}

#[test]
fn kustomize_refuses_an_unknown_top_level_field_and_a_missing_resource_file() {
    // A misspelt field would otherwise be dropped silently, and with it every resource it was meant to list.
    let error = build_broken_copy(|k| {
        assert!(
            k.contains("\nresources:\n"),
            "the render lists its files under resources:\n{k}"
        );
        k.replace("\nresources:\n", "\nresource:\n")
    });
    assert!(
        error.contains("invalid Kustomization") && error.contains(r#"unknown field "resource""#),
        "{error}"
    );

    let error = build_broken_copy(|k| format!("{k}- missing.yaml\n"));
    assert!(
        error.contains("accumulating resources from 'missing.yaml'") && error.contains("no such file or directory"),
        "{error}"
    );
}
