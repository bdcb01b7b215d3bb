//! `pccdb render k8s`: the committed files under deploy/k8s are exactly what the manifest renders today (so a
//! manifest change without a new render fails here), every rendered object passes Kubernetes' own schema for
//! its kind, the service's own configuration parser accepts the rendered variables, and the secret, CA and
//! Workload Identity wiring lines up with the manifest.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;
use test_support::repo_root;

use super::pod::objects_in;
use crate::common;

/// The deployments rendered into the repository: every service in every environment that has `gke`.
fn rendered_deployments() -> Vec<(String, String)> {
    let manifest = super::repo_manifest();
    let mut out = Vec::new();
    for env in manifest.environments.values().filter(|e| e.gke.is_some()) {
        for d in manifest.deployments(env) {
            out.push((env.name.to_string(), d.service.name.to_string()));
        }
    }
    assert!(
        out.contains(&("devtest".to_owned(), "pcc-client-api".to_owned())),
        "{out:?}"
    );
    out
}

fn render_dir(env: &str, service: &str) -> PathBuf {
    repo_root().join("deploy/k8s").join(format!("{service}-{env}"))
}

fn render(args: &[&str], cwd: &Path) -> (i32, String) {
    common::pccdb(args, Some(cwd), &[], None)
}

#[test]
fn render_the_committed_files_are_what_the_manifest_renders_today() {
    for (env, service) in rendered_deployments() {
        let (code, out) = render(
            &["render", "k8s", "--env", &env, "--service", &service, "--check"],
            &repo_root(),
        );
        assert_eq!(
            code, 0,
            "deploy/k8s/{service}-{env} is stale; run `pccdb render k8s --env {env} --service {service}`:\n{out}"
        );
        // And byte for byte here: a fresh render into a temporary directory against the committed files.
        let fresh = tempfile::tempdir().unwrap();
        let out = fresh.path().to_str().unwrap();
        let (code, text) = render(
            &["render", "k8s", "--env", &env, "--service", &service, "--out", out],
            &repo_root(),
        );
        assert_eq!(code, 0, "{text}");
        let names = |dir: &Path| -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let committed = render_dir(&env, &service);
        assert_eq!(
            names(fresh.path()),
            names(&committed),
            "{service}-{env}: the same files"
        );
        for name in names(fresh.path()) {
            let new = std::fs::read(fresh.path().join(&name)).unwrap();
            let old = std::fs::read(committed.join(&name)).unwrap();
            assert!(new == old, "{service}-{env}/{name} differs from a fresh render");
        }
    }
}

#[test]
fn render_a_manifest_change_without_a_new_render_fails_the_check_and_a_render_fixes_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = repo_root();
    let text = std::fs::read_to_string(root.join("deploy/pcc.toml")).unwrap();
    let changed = text.replace("pool = { min = 2, max = 15,", "pool = { min = 2, max = 14,");
    assert_ne!(text, changed, "the test edits the primary pool");
    std::fs::write(dir.path().join("pcc.toml"), changed).unwrap();
    let manifest = dir.path().join("pcc.toml");
    let manifest = manifest.to_str().unwrap();
    let committed = render_dir("devtest", "pcc-client-api");
    let committed = committed.to_str().unwrap();
    let base = [
        "render",
        "k8s",
        "--manifest",
        manifest,
        "--env",
        "devtest",
        "--service",
        "pcc-client-api",
    ];
    let with = |extra: &[&str]| -> Vec<String> { base.iter().chain(extra).map(|s| (*s).to_owned()).collect() };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        render(&refs, &root)
    };
    let (code, out) = run(with(&["--check", "--out", committed]));
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("deployment.yaml: differs from a fresh render"), "{out}");
    assert!(!out.contains("service.yaml: differs"), "only what changed: {out}");

    // A render into a directory holding a stale file of an earlier render: written, stale file gone, then
    // the check passes.
    let out_dir = dir.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    std::fs::write(
        out_dir.join("old.yaml"),
        format!("{}\nkind: Gone\n", k8s_render::HEADER),
    )
    .unwrap();
    std::fs::write(out_dir.join("mine.yaml"), "kind: NotRendered\n").unwrap();
    let out_path = out_dir.to_str().unwrap();
    let (code, out) = run(with(&["--out", out_path]));
    assert_eq!(code, 0, "{out}");
    assert!(!out_dir.join("old.yaml").exists() && out_dir.join("mine.yaml").exists());
    let deployment = std::fs::read_to_string(out_dir.join("deployment.yaml")).unwrap();
    assert!(deployment.contains("Maximum Pool Size=14"), "{deployment}");
    let (code, out) = run(with(&["--check", "--out", out_path]));
    assert_eq!(code, 0, "{out}");

    // Bad input: a service not in the manifest is an error (exit 1) naming the known ones; nothing written.
    let empty = dir.path().join("empty");
    let (code, out) = render(
        &[
            "render",
            "k8s",
            "--manifest",
            manifest,
            "--env",
            "devtest",
            "--service",
            "pcc-nope",
            "--out",
            empty.to_str().unwrap(),
        ],
        &root,
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("pcc-nope") && out.contains("pcc-client-api"), "{out}");
    assert!(!empty.exists());
    // An environment without `gke` cannot be rendered, and says what to set.
    let (code, out) = render(
        &[
            "render",
            "k8s",
            "--manifest",
            manifest,
            "--env",
            "dev",
            "--service",
            "pcc-client-api",
            "--out",
            empty.to_str().unwrap(),
        ],
        &root,
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("environments.dev.gke is not set"), "{out}");
    assert!(!empty.exists());
}

/// The vendored schema of an object's kind (deploy/k8s/schemas/README.md says where each came from).
fn schema_for(object: &Value) -> serde_json::Value {
    let dir = repo_root().join("deploy/k8s/schemas");
    let file = match (object["apiVersion"].as_str().unwrap(), object["kind"].as_str().unwrap()) {
        ("apps/v1", "Deployment") => "v1.30.0-standalone-strict/deployment-apps-v1.json",
        ("v1", "Namespace") => "v1.30.0-standalone-strict/namespace-v1.json",
        ("v1", "ServiceAccount") => "v1.30.0-standalone-strict/serviceaccount-v1.json",
        ("v1", "Service") => "v1.30.0-standalone-strict/service-v1.json",
        ("policy/v1", "PodDisruptionBudget") => "v1.30.0-standalone-strict/poddisruptionbudget-policy-v1.json",
        ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass") => {
            "crds/secretproviderclass-secrets-store.csi.x-k8s.io-v1.json"
        }
        other => panic!("no vendored schema for {other:?}: vendor it (deploy/k8s/schemas/README.md)"),
    };
    serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap()
}

fn schema_errors(object: &Value) -> Vec<String> {
    let schema = schema_for(object);
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(&schema)
        .expect("the vendored schema compiles");
    let instance: serde_json::Value = serde_json::to_value(object).unwrap();
    validator
        .iter_errors(&instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

#[test]
fn render_every_object_passes_the_kubernetes_schema_of_its_kind() {
    let objects = objects_in(&repo_root().join("deploy/k8s"));
    let kinds: Vec<&str> = objects.iter().map(|(_, o)| o["kind"].as_str().unwrap()).collect();
    for kind in [
        "Namespace",
        "ServiceAccount",
        "SecretProviderClass",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
    ] {
        assert!(kinds.contains(&kind), "{kind} is rendered: {kinds:?}");
    }
    for (path, object) in &objects {
        let errors = schema_errors(object);
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
    // The referee is strict: a misspelt field and a wrong type are refused.
    let (_, deployment) = objects.iter().find(|(_, o)| o["kind"] == "Deployment").unwrap();
    let mut typo = deployment.clone();
    typo["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] =
        typo["spec"]["template"]["spec"]["containers"][0]["readinessProbe"].clone();
    assert!(!schema_errors(&typo).is_empty(), "an unknown field is refused");
    let mut wrong = deployment.clone();
    wrong["spec"]["replicas"] = Value::String("two".to_owned());
    assert!(!schema_errors(&wrong).is_empty(), "a wrong type is refused");
}

fn object<'a>(objects: &'a [(PathBuf, Value)], kind: &str) -> &'a Value {
    &objects
        .iter()
        .find(|(_, o)| o["kind"] == kind)
        .unwrap_or_else(|| panic!("{kind}"))
        .1
}

#[test]
fn render_the_service_accepts_the_rendered_environment_and_the_mounts_line_up() {
    let manifest = super::repo_manifest();
    for (env, service) in rendered_deployments() {
        let d = manifest.deployment(&env, &service).unwrap();
        let objects = objects_in(&render_dir(&env, &service));
        let deployment = object(&objects, "Deployment");
        let pod = &deployment["spec"]["template"]["spec"];
        let container = &pod["containers"][0];
        let vars: HashMap<String, String> = container["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["name"].as_str().unwrap().to_owned(),
                    v["value"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        // The service's own parser is the referee of the variables.
        let config = client_api::config::Config::from_env(&vars).unwrap_or_else(|e| panic!("{env}: {e}"));
        let db = config.db.expect("a configured database, not the embedded default");
        assert_eq!(db.pool_max, d.sizing.pool.max as usize);
        assert_eq!(db.replica_pool_max, d.sizing.replica_pool.unwrap().max as usize);
        assert_eq!(db.primary.database.as_deref(), Some(d.names.database.as_str()));
        assert_eq!(db.primary.pool.min_size, d.sizing.pool.min);
        assert_eq!(
            db.primary.pool.max_lifetime,
            Some(d.sizing.pool.max_lifetime.duration())
        );
        // The refresh the manifest's rotation rule counted is the one the pods run with.
        assert_eq!(db.credential_refresh, d.service.rotation.credentials_refresh.duration());
        let replica = db.replica.expect("the replica");
        assert!(replica.read_pool, "the manifest's Read Pool=true reaches the pods");
        assert_eq!(replica.target_session_attrs, conninfo::TargetSessionAttrs::ReadOnly);
        let fallback = &config.routing.fallback;
        let f = &d.service.read_fallback;
        assert_eq!(
            (fallback.min_in_flight, fallback.max_in_flight),
            (f.min_in_flight as usize, f.max_in_flight as usize)
        );
        assert_eq!(fallback.queue_wait, f.queue_wait.duration());
        assert!(config.auth.is_some(), "{env}: the token issuer is configured");
        assert_eq!(deployment["spec"]["replicas"].as_u64(), Some(u64::from(d.sizing.pods)));
        assert_eq!(
            deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"].as_u64(),
            Some(u64::from(d.sizing.max_surge))
        );

        // The credential file the service reads is the Secret Manager secret the class mounts.
        let client_api::config::CredentialSource::File(file) = &db.credentials else {
            panic!("{env}: the pods read a mounted credential file");
        };
        let spc = object(&objects, "SecretProviderClass");
        let entries: Vec<Value> =
            serde_yaml_ng::from_str(spc["spec"]["parameters"]["secrets"].as_str().unwrap()).unwrap();
        let [entry] = entries.as_slice() else {
            panic!("one secret: {entries:?}")
        };
        let provision::manifest::SecretsBackend::Gcp { project, .. } = &d.env.secrets else {
            panic!()
        };
        assert_eq!(
            entry["resourceName"].as_str().unwrap(),
            format!("projects/{project}/secrets/{}/versions/current", d.names.secret)
        );
        let mount = |volume: &str| -> String {
            container["volumeMounts"]
                .as_sequence()
                .unwrap()
                .iter()
                .find(|m| m["name"] == volume)
                .unwrap_or_else(|| panic!("mount {volume}"))["mountPath"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let volume = |name: &str| -> &Value {
            pod["volumes"]
                .as_sequence()
                .unwrap()
                .iter()
                .find(|v| v["name"] == name)
                .unwrap()
        };
        assert_eq!(
            volume("db-credential")["csi"]["volumeAttributes"]["secretProviderClass"],
            spc["metadata"]["name"]
        );
        assert_eq!(
            Path::new(&mount("db-credential")).join(entry["path"].as_str().unwrap()),
            *file
        );
        // The CA the connection strings verify with is the file the ConfigMap mount puts there.
        let root = db.primary.root_cert.clone().expect("VerifyCA with a root certificate");
        assert_eq!(Path::new(&mount(k8s_render::CA_CONFIG_MAP)), root.parent().unwrap());
        assert_eq!(
            volume(k8s_render::CA_CONFIG_MAP)["configMap"]["name"],
            k8s_render::CA_CONFIG_MAP
        );

        // Workload Identity: the Kubernetes service account the pods run as names the Google one.
        let ksa = object(&objects, "ServiceAccount");
        assert_eq!(pod["serviceAccountName"], ksa["metadata"]["name"]);
        let gke = d.env.gke.as_ref().unwrap();
        assert_eq!(
            ksa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].as_str(),
            Some(format!("{service}-{env}@{}.iam.gserviceaccount.com", gke.project).as_str())
        );
        // The add-on's rotation interval the manifest's rotation grace was checked against, in the cluster
        // flag's spelling, next to the secret it syncs.
        assert_eq!(
            spc["metadata"]["annotations"][k8s_render::SYNC_INTERVAL_ANNOTATION].as_str(),
            Some(format!("{}s", gke.secret_sync_interval.0 / 1000).as_str())
        );
        // The kustomization lists every object file (the deploy pipeline applies it).
        let kustomization: Value = serde_yaml_ng::from_str(
            &std::fs::read_to_string(render_dir(&env, &service).join("kustomization.yaml")).unwrap(),
        )
        .unwrap();
        let listed: Vec<&str> = kustomization["resources"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert_eq!(listed.len(), objects.len());
        for (path, _) in &objects {
            assert!(
                listed.contains(&path.file_name().unwrap().to_str().unwrap()),
                "{}",
                path.display()
            );
        }
    }
}
