//! `pccdb render k8s` for a service that logs in with IAM (`auth = "iam"`): the pods get `PCC_DB_AUTH=iam`
//! and the IAM user of their Google service account, no credential file, no SecretProviderClass and no
//! secret mount; the objects still pass Kubernetes' schemas and the service's configuration parser accepts
//! the variables as an IAM login.

use std::collections::HashMap;

use test_support::repo_root;

use super::pod::objects_in;
use super::render::schema_errors;
use crate::common;

#[test]
fn render_an_iam_login_gets_its_user_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let root = repo_root();
    let text = std::fs::read_to_string(root.join("deploy/pcc.toml")).unwrap();
    let changed = text.replace("[environments.prod]\n", "[environments.prod]\nauth = \"iam\"\n");
    assert_ne!(text, changed, "the test switches prod to IAM");
    let manifest = dir.path().join("pcc.toml");
    std::fs::write(&manifest, changed).unwrap();
    let out = dir.path().join("out");
    let (code, text) = common::pccdb(
        &[
            "render",
            "k8s",
            "--manifest",
            manifest.to_str().unwrap(),
            "--env",
            "prod",
            "--service",
            "pcc-client-api",
            "--out",
            out.to_str().unwrap(),
        ],
        Some(&root),
        &[],
        None,
    );
    assert_eq!(code, 0, "{text}");
    let objects = objects_in(&out);
    let kinds: Vec<&str> = objects.iter().map(|(_, o)| o["kind"].as_str().unwrap()).collect();
    assert!(!kinds.contains(&"SecretProviderClass"), "{kinds:?}");
    assert!(!out.join("secretproviderclass.yaml").exists());
    let kustomization = std::fs::read_to_string(out.join("kustomization.yaml")).unwrap();
    assert!(!kustomization.contains("secretproviderclass"), "{kustomization}");
    for (path, object) in &objects {
        let errors = schema_errors(object);
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
    let deployment = &objects.iter().find(|(_, o)| o["kind"] == "Deployment").unwrap().1;
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
    assert_eq!(vars["PCC_DB_AUTH"], "iam");
    assert_eq!(vars["PCC_DB_IAM_USER"], "pcc-client-api-prod@pcc-prod.iam");
    assert!(!vars.contains_key("PCC_DB_CREDENTIALS_FILE"), "{vars:?}");
    assert!(!vars.contains_key("PCC_DB_CREDENTIALS_REFRESH_MS"), "{vars:?}");
    let volumes: Vec<&str> = pod["volumes"]
        .as_sequence()
        .map(|v| v.iter().map(|v| v["name"].as_str().unwrap()).collect())
        .unwrap_or_default();
    assert!(!volumes.contains(&"db-credential"), "{volumes:?}");
    assert!(volumes.contains(&"db-ca"), "the CA is still mounted: {volumes:?}");
    // The service account the pods run as is the one whose IAM user they log in as.
    let ksa = &objects.iter().find(|(_, o)| o["kind"] == "ServiceAccount").unwrap().1;
    assert_eq!(
        ksa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
            .as_str()
            .unwrap(),
        format!("{}.gserviceaccount.com", vars["PCC_DB_IAM_USER"])
    );

    // The service's own parser is the referee of the variables.
    let config = client_api::config::Config::from_env(&vars).unwrap_or_else(|e| panic!("{e}"));
    let db = config.db.expect("a configured database");
    let client_api::config::CredentialSource::Iam { user, tokens } = &db.credentials else {
        panic!("an IAM login: {:?}", db.credentials)
    };
    assert_eq!(user.as_deref(), Some("pcc-client-api-prod@pcc-prod.iam"));
    assert!(
        tokens.is_none(),
        "tokens from Application Default Credentials (the metadata server)"
    );
}
