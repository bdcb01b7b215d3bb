//! The production build (`--no-default-features`, as the image builds it) links none of the local-cluster,
//! provisioning or migration code: the embedded default is a development convenience, not part of the
//! service that runs on GKE.

#[test]
fn the_production_build_has_no_launcher_provisioning_or_migration_crate() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-p",
            "client_api",
            "--no-default-features",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(
        crates.contains(&"db_router"),
        "the tree lists the service's own crates: {crates:?}"
    );
    for forbidden in ["pg_launcher", "provision", "migrate", "platform"] {
        assert!(
            !crates.contains(&forbidden),
            "{forbidden} is linked into the production build"
        );
    }
}
