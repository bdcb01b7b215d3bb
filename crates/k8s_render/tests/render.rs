//! What the renderer refuses (nothing written, the key or value at fault named) and what it derives when
//! the manifest has less (no replica), on manifests written here; the repository's own render is checked by
//! pccdb's tests (byte for byte, Kubernetes schemas, the service's parser).

use std::path::Path;

use provision::Manifest;

fn manifest(extra_env: &str, service: &str, replica: bool) -> Manifest {
    let replica = if replica {
        "replica = \"Host=10.0.0.2;SSL Mode=VerifyCA;Root Certificate=/etc/pcc/ca.pem;Target Session Attributes=read-only\"\n"
    } else {
        ""
    };
    let text = format!(
        "version = 1\n[environments.devtest]\nprimary = \"Host=10.0.0.1;SSL Mode=VerifyCA;Root Certificate=/etc/pcc/ca.pem\"\n\
         {replica}secrets = {{ backend = \"gcp\", project = \"pcc-devtest\" }}\nmax_connections = 100\n{extra_env}\n\
         [services.{service}]\npool = {{ min = 1, max = 5 }}\nreplica_pool = {{ min = 1, max = 4 }}\n"
    );
    Manifest::parse(Path::new("test.toml"), &text).unwrap()
}

const GKE: &str = "gke = { project = \"pcc-devtest\" }";

#[test]
fn a_deployment_without_a_replica_gets_no_replica_variables() {
    let m = manifest(GKE, "pcc-orders", false);
    let rendered = k8s_render::render(&m, "devtest", "pcc-orders").unwrap();
    assert_eq!(rendered.name, "pcc-orders-devtest");
    let deployment = &rendered
        .files
        .iter()
        .find(|f| f.name == "deployment.yaml")
        .unwrap()
        .text;
    assert!(deployment.contains("name: PCC_DB_PRIMARY"), "{deployment}");
    assert!(!deployment.contains("PCC_DB_REPLICA"), "{deployment}");
    assert!(deployment.contains("mountPath: /etc/pcc"), "{deployment}");
    // Rendering twice gives the same bytes.
    let again = k8s_render::render(&m, "devtest", "pcc-orders").unwrap();
    assert_eq!(rendered.files, again.files);
}

#[test]
fn what_the_objects_need_and_the_manifest_lacks_is_refused_by_name() {
    let e = k8s_render::render(&manifest("", "pcc-orders", true), "devtest", "pcc-orders")
        .unwrap_err()
        .to_string();
    assert!(e.contains("environments.devtest.gke is not set"), "{e}");
    let long = "pcc-portfolio-reporting-api";
    let e = k8s_render::render(&manifest(GKE, long, true), "devtest", long)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("6 to 30") && e.contains("pcc-portfolio-reporting-api-devtest"),
        "{e}"
    );
    let mut m = manifest(GKE, "pcc-orders", true);
    let env = m.environments.values_mut().next().unwrap();
    env.secrets = provision::manifest::SecretsBackend::File("/run/secrets".into());
    let e = k8s_render::render(&m, "devtest", "pcc-orders").unwrap_err().to_string();
    assert!(e.contains("not the gcp backend"), "{e}");
}

#[test]
fn primary_and_replica_verifying_with_different_cas_are_refused() {
    let mut m = manifest(GKE, "pcc-orders", true);
    let env = m.environments.values_mut().next().unwrap();
    if let provision::manifest::Endpoints::Remote { replica, .. } = &mut env.endpoints {
        *replica = Some(
            "Host=10.0.0.2;SSL Mode=VerifyCA;Root Certificate=/etc/other/ca.pem"
                .to_owned()
                .into(),
        );
    }
    let e = k8s_render::render(&m, "devtest", "pcc-orders").unwrap_err().to_string();
    assert!(e.contains("different root certificates"), "{e}");
}
