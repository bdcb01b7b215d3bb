//! deploy/terraform against the manifest, read as HCL (no terraform binary): every secret the manifest names
//! in a cloud environment has a `google_secret_manager_secret`, every service has its module (Google service
//! account, access to its own secret, Workload Identity for the Kubernetes service account `pccdb render
//! k8s` writes), the pipelines' account has what the pipelines do, the services that log in with IAM there
//! get their IAM database user and its roles (and only they), the outputs the manifest reads exist, and
//! the files keep `terraform fmt`'s layout.

use std::collections::{BTreeMap, BTreeSet};

use hcl::{Block, Expression};
use test_support::repo_root;

use super::terraform_hcl::{
    attr, blocks, dir, eval, has_binding, labels, module_dir, platform_secrets, resources, service_modules, tf_files,
    tfvars, tfvars_body,
};

/// `iam_auth_services` of an environment's `.tfvars` (the variable's default, none, when absent).
fn iam_auth_services(env: &str) -> BTreeSet<String> {
    tfvars_body(env)
        .attributes()
        .find(|a| a.key.as_str() == "iam_auth_services")
        .map(|a| match &a.expr {
            Expression::Array(items) => items.iter().map(|i| eval(i, &BTreeMap::new())).collect(),
            other => panic!("{env}: iam_auth_services = {other} is not a list"),
        })
        .unwrap_or_default()
}

/// The cloud environments of the manifest (those Terraform provisions) and their manifest.
fn manifest() -> provision::Manifest {
    super::repo_manifest()
}

fn cloud_envs(m: &provision::Manifest) -> Vec<String> {
    let envs: Vec<String> = m
        .environments
        .values()
        .filter(|e| matches!(e.secrets, provision::manifest::SecretsBackend::Gcp { .. }))
        .map(|e| e.name.to_string())
        .collect();
    assert!(envs.contains(&"devtest".to_owned()), "{envs:?}");
    envs
}

#[test]
fn terraform_creates_every_secret_the_manifest_names_with_the_pipelines_access() {
    let m = manifest();
    let root = blocks(&dir());
    let module = blocks(&module_dir());
    for env in cloud_envs(&m) {
        let vars = tfvars(&env);
        assert_eq!(vars["environment"], env);
        let environment = m.environment(&env).unwrap();
        // Secrets Terraform creates: the root's platform set, and one per service module.
        let mut created: BTreeSet<String> = platform_secrets(&root, &vars).into_iter().collect();
        let modules = service_modules(&root);
        let secret = resources(&module, "google_secret_manager_secret")
            .into_iter()
            .find(|b| labels(b)[1] == "credential")
            .expect("the module's secret");
        for service in modules.keys() {
            let mv = BTreeMap::from([
                ("environment".to_owned(), env.clone()),
                ("service".to_owned(), service.clone()),
            ]);
            created.insert(eval(attr(secret, "secret_id").unwrap(), &mv));
        }
        // Secrets the manifest names in this environment.
        let mut named = BTreeSet::new();
        if let provision::manifest::AdminCredential::Secret(s) = &environment.admin_credential {
            named.insert(s.clone());
        }
        named.insert(provision::naming::role_secret(&m.migrator.role, &environment.name));
        for d in m.deployments(environment) {
            named.insert(d.names.secret.clone());
            for r in d.service.roles.iter().filter(|r| r.login) {
                named.insert(provision::naming::role_secret(&r.name, &environment.name));
            }
        }
        let missing: Vec<&String> = named.difference(&created).collect();
        assert!(
            missing.is_empty(),
            "{env}: no google_secret_manager_secret for {missing:?} (Terraform has {created:?})"
        );

        // The pipelines' account: reads the admin credential; reads, adds to and rotates the migrator's.
        let build = "var.build_service_account";
        let admin = "pcc-admin-${var.environment}-db";
        let flyway = "flyway-user-${var.environment}-db";
        let kind = "google_secret_manager_secret_iam_member";
        assert!(has_binding(
            &root,
            kind,
            "secret_id",
            admin,
            "roles/secretmanager.secretAccessor",
            build
        ));
        for role in [
            "roles/secretmanager.secretAccessor",
            "roles/secretmanager.secretVersionAdder",
            "pcc_secret_rotator",
        ] {
            assert!(
                has_binding(&root, kind, "secret_id", flyway, role, build),
                "{env}: migrator secret, {role}"
            );
            // The module gets the custom role as its `rotator_role` argument.
            let in_module = if role == "pcc_secret_rotator" {
                "var.rotator_role"
            } else {
                role
            };
            assert!(
                has_binding(&module, kind, "secret_id", "credential", in_module, build),
                "{env}: service secrets, {role}"
            );
        }
        assert!(has_binding(
            &root,
            "google_project_iam_member",
            "project",
            "var.project",
            "roles/alloydb.client",
            build
        ));
        let rotator = resources(&root, "google_project_iam_custom_role")[0];
        let permissions = attr(rotator, "permissions").unwrap().to_string();
        assert!(
            permissions.contains("secretmanager.secrets.update"),
            "moving the alias `current`"
        );
    }
}

#[test]
fn terraform_gives_every_service_its_account_its_secret_alone_and_workload_identity() {
    let m = manifest();
    let root = blocks(&dir());
    let module = blocks(&module_dir());
    let modules = service_modules(&root);
    for env in cloud_envs(&m) {
        let vars = tfvars(&env);
        let environment = m.environment(&env).unwrap();
        for d in m.deployments(environment) {
            let service = d.service.name.to_string();
            assert!(
                modules.contains_key(&service),
                "{env}: no module for {service} in deploy/terraform/services.tf"
            );
            let mv: BTreeMap<String, String> = [
                ("service", service.clone()),
                ("environment", env.clone()),
                ("project", vars["project"].clone()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            // The Google service account is the one the rendered ServiceAccount names (when rendered).
            let account = resources(&module, "google_service_account")[0];
            let local_name = format!("{service}-{env}");
            let account_id = attr(account, "account_id").unwrap().to_string();
            assert_eq!(account_id, "local.name", "{account_id}");
            let locals = module.iter().find(|b| b.identifier.as_str() == "locals").unwrap();
            assert_eq!(eval(attr(locals, "name").unwrap(), &mv), local_name);
            if let Some(gke) = &environment.gke {
                assert_eq!(
                    gke.project, vars["project"],
                    "{env}: the manifest's gke.project is Terraform's project"
                );
                let rendered = repo_root()
                    .join("deploy/k8s")
                    .join(&local_name)
                    .join("serviceaccount.yaml");
                let ksa: serde_yaml_ng::Value =
                    serde_yaml_ng::from_str(&std::fs::read_to_string(&rendered).unwrap()).unwrap();
                assert_eq!(
                    ksa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
                        .as_str()
                        .unwrap(),
                    format!("{local_name}@{}.iam.gserviceaccount.com", vars["project"])
                );
                // Workload Identity names that Kubernetes service account in that namespace.
                let wi = resources(&module, "google_service_account_iam_member")
                    .into_iter()
                    .find(|b| {
                        attr(b, "role")
                            .unwrap()
                            .to_string()
                            .contains("roles/iam.workloadIdentityUser")
                    })
                    .expect("a Workload Identity binding");
                let member = attr(wi, "member")
                    .unwrap()
                    .to_string()
                    .replace("local.name", "var.name");
                let mut with_name = mv.clone();
                with_name.insert("name".to_owned(), local_name.clone());
                let member: Expression = hcl::parse(&format!("m = {member}"))
                    .unwrap()
                    .into_attributes()
                    .next()
                    .unwrap()
                    .expr;
                assert_eq!(
                    eval(&member, &with_name),
                    format!(
                        "serviceAccount:{}.svc.id.goog[{}/{}]",
                        vars["project"],
                        ksa["metadata"]["namespace"].as_str().unwrap(),
                        ksa["metadata"]["name"].as_str().unwrap()
                    )
                );
            }
            // The service account reads its own secret, and no other binding names it.
            assert!(has_binding(
                &module,
                "google_secret_manager_secret_iam_member",
                "secret_id",
                "google_secret_manager_secret.credential",
                "roles/secretmanager.secretAccessor",
                "google_service_account.service.email"
            ));
            let elsewhere = root.iter().filter(|b| b.identifier.as_str() == "resource").any(|b| {
                b.body
                    .attributes()
                    .any(|a| a.expr.to_string().contains("google_service_account.service"))
            });
            assert!(!elsewhere, "the service account is granted nothing outside its module");
        }
    }
}

#[test]
fn terraform_gives_services_that_log_in_with_iam_their_database_user_and_roles() {
    let m = manifest();
    let root = blocks(&dir());
    let module = blocks(&module_dir());
    // The module: the IAM user of the service account (AlloyDB's name for it), and the two roles a token
    // login needs, all only where the environment's manifest says so.
    let user = resources(&module, "google_alloydb_user")
        .into_iter()
        .find(|b| labels(b)[1] == "iam")
        .expect("the module's google_alloydb_user \"iam\"");
    let text = |b: &Block, k: &str| attr(b, k).map(ToString::to_string).unwrap_or_default();
    assert_eq!(text(user, "user_type"), "\"ALLOYDB_IAM_USER\"");
    assert_eq!(text(user, "count"), "var.iam_auth ? 1 : 0");
    assert_eq!(
        text(user, "user_id"),
        "trimsuffix(google_service_account.service.email, \".gserviceaccount.com\")"
    );
    for role in ["roles/alloydb.databaseUser", "roles/serviceusage.serviceUsageConsumer"] {
        let binding = resources(&module, "google_project_iam_member")
            .into_iter()
            .find(|b| text(b, "role").contains(role))
            .unwrap_or_else(|| panic!("the module grants {role}"));
        assert_eq!(text(binding, "count"), "var.iam_auth ? 1 : 0", "{role}");
        assert!(
            text(binding, "member").contains("google_service_account.service.email"),
            "{role}"
        );
    }
    // Each module call passes whether its service logs in with IAM, from the environment's variable.
    for b in root.iter().filter(|b| b.identifier.as_str() == "module") {
        let service = eval(attr(b, "service").unwrap(), &BTreeMap::new());
        assert_eq!(
            text(b, "iam_auth"),
            format!("contains(var.iam_auth_services, \"{service}\")"),
            "{service}"
        );
    }
    for env in cloud_envs(&m) {
        let vars = tfvars(&env);
        let environment = m.environment(&env).unwrap();
        let mut iam = BTreeSet::new();
        for d in m.deployments(environment) {
            let Some(user) = d.iam_user() else { continue };
            iam.insert(d.service.name.to_string());
            // The manifest's IAM user is the one Terraform creates for the module's service account.
            let email = format!("{}-{env}@{}.iam.gserviceaccount.com", d.service.name, vars["project"]);
            assert_eq!(user, email.trim_end_matches(".gserviceaccount.com"), "{env}");
        }
        assert_eq!(
            iam_auth_services(&env),
            iam,
            "{env}: iam_auth_services in environments/{env}.tfvars must list the services the manifest logs in with IAM"
        );
    }
}

#[test]
fn terraform_outputs_the_manifest_reads_exist_and_the_outputs_file_has_them() {
    let m = manifest();
    let root = blocks(&dir());
    let outputs: BTreeSet<&str> = root
        .iter()
        .filter(|b| b.identifier.as_str() == "output")
        .map(|b| labels(b)[0])
        .collect();
    for env in cloud_envs(&m) {
        let e = m.environment(&env).unwrap();
        let provision::manifest::Endpoints::Remote { primary, replica } = &e.endpoints else {
            continue;
        };
        for endpoint in std::iter::once(primary).chain(replica.as_ref()) {
            let provision::manifest::Endpoint::Terraform { output, .. } = endpoint else {
                panic!("{env}: an endpoint copied by hand; take it from a Terraform output")
            };
            assert!(
                outputs.contains(output.as_str()),
                "{env}: outputs.tf has no output {output}"
            );
        }
        // The outputs file resolves, and primary and replica are different servers.
        let ends = provision::target::endpoints(e).unwrap_or_else(|err| panic!("{env}: {err}"));
        assert_ne!(ends.primary.hosts, ends.replica.unwrap().hosts, "{env}");
    }
}

/// `terraform fmt`'s layout: two-space indentation, no tabs or trailing blanks, one blank line at most, a
/// final newline, and the `=` of consecutive one-line arguments at one indentation aligned.
fn fmt_problems(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    if !text.ends_with('\n') || text.ends_with("\n\n") {
        out.push("the file ends with exactly one newline".to_owned());
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut group: Vec<(usize, usize)> = Vec::new(); // (line, column of '=')
    let mut group_indent = usize::MAX;
    let flush = |group: &mut Vec<(usize, usize)>, out: &mut Vec<String>| {
        if let Some(&(_, first)) = group.first()
            && let Some(&(line, _)) = group.iter().find(|(_, col)| *col != first)
        {
            out.push(format!("line {}: `=` not aligned with the lines around it", line + 1));
        }
        group.clear();
    };
    for (i, line) in lines.iter().enumerate() {
        if line.contains('\t') {
            out.push(format!("line {}: a tab", i + 1));
        }
        if line.ends_with(' ') {
            out.push(format!("line {}: trailing blank", i + 1));
        }
        if i > 0 && line.is_empty() && lines[i - 1].is_empty() {
            out.push(format!("line {}: two blank lines", i + 1));
        }
        let indent = line.len() - line.trim_start().len();
        if indent % 2 != 0 {
            out.push(format!("line {}: indentation is not a multiple of two", i + 1));
        }
        let trimmed = line.trim_start();
        let is_argument = !trimmed.starts_with('#')
            && trimmed.split_once(" =").is_some_and(|(key, _)| {
                !key.is_empty()
                    && key
                        .trim_end()
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-().\"".contains(c))
            });
        let column = line.find(" =").map(|p| p + 1);
        match column {
            Some(column) if is_argument && indent == group_indent => group.push((i, column)),
            _ => {
                flush(&mut group, &mut out);
                group_indent = usize::MAX;
                if let (Some(column), true) = (column, is_argument) {
                    group_indent = indent;
                    group.push((i, column));
                }
            }
        }
    }
    flush(&mut group, &mut out);
    out
}

#[test]
fn terraform_files_keep_terraform_fmt_layout() {
    let mut files = tf_files(&dir());
    files.extend(tf_files(&module_dir()));
    for env in ["devtest", "prod"] {
        files.push(dir().join("environments").join(format!("{env}.tfvars")));
    }
    for path in files {
        let problems = fmt_problems(&std::fs::read_to_string(&path).unwrap());
        assert!(problems.is_empty(), "{}: {problems:?}", path.display());
    }
    assert_eq!(
        fmt_problems("a = 1\nbcd = 2\n"),
        vec!["line 2: `=` not aligned with the lines around it".to_owned()]
    );
    assert!(fmt_problems("a   = 1\nbcd = 2\n\nx = {\n  y = 1\n}\n").is_empty());
}
