//! The file backend on a real directory: Kubernetes-style plain files (re-read after an atomic
//! symlink swap), the versioned layout (numbers, aliases, disable), private permissions, and
//! concurrent writers that never share a version number.

use std::os::unix::fs::PermissionsExt as _;
use std::sync::Arc;

use secrecy::{ExposeSecret as _, SecretString};
use secrets::{AliasName, FileStore, SecretError, SecretName, SecretStore, VersionRef, VersionState};

fn name(s: &str) -> SecretName {
    SecretName::parse(s).unwrap()
}

#[tokio::test]
async fn a_kubernetes_mount_is_re_read_after_the_data_symlink_moves() {
    // Kubernetes projects `<key> -> ..data/<key>` and swaps `..data` atomically on update.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("..2026_01")).unwrap();
    std::fs::write(root.join("..2026_01/db"), "old").unwrap();
    std::os::unix::fs::symlink("..2026_01", root.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/db", root.join("db")).unwrap();
    let store = FileStore::new(root);
    let got = store.access(&name("db"), &VersionRef::current()).await.unwrap();
    assert_eq!((got.version, got.value.expose_secret()), (None, "old"));

    std::fs::create_dir(root.join("..2026_02")).unwrap();
    std::fs::write(root.join("..2026_02/db"), "new").unwrap();
    std::os::unix::fs::symlink("..2026_02", root.join("..data_tmp")).unwrap();
    std::fs::rename(root.join("..data_tmp"), root.join("..data")).unwrap();
    let got = store.access(&name("db"), &VersionRef::Latest).await.unwrap();
    assert_eq!(got.value.expose_secret(), "new");

    let err = store
        .add_version(&name("db"), &SecretString::from("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, SecretError::Unsupported { .. }), "{err}");
}

#[tokio::test]
async fn the_versioned_layout_keeps_versions_aliases_and_states() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("secrets"));
    let n = name("client-api-dev-db");
    let v1 = store.add_version(&n, &SecretString::from("one")).await.unwrap();
    let v2 = store.add_version(&n, &SecretString::from("two")).await.unwrap();
    let current = AliasName::parse("current").unwrap();
    store.set_alias(&n, &current, v1).await.unwrap();
    assert_eq!(
        store
            .access(&n, &VersionRef::current())
            .await
            .unwrap()
            .value
            .expose_secret(),
        "one"
    );
    assert_eq!(store.access(&n, &VersionRef::Latest).await.unwrap().version, Some(v2));
    store.set_alias(&n, &current, v2).await.unwrap();
    store.disable_version(&n, v1).await.unwrap();
    store.disable_version(&n, v1).await.unwrap();
    let states: Vec<_> = store.list_versions(&n).await.unwrap().iter().map(|v| v.state).collect();
    assert_eq!(states, [VersionState::Disabled, VersionState::Enabled]);
    assert!(matches!(
        store.access(&n, &VersionRef::Number(v1)).await.unwrap_err(),
        SecretError::VersionNotEnabled { .. }
    ));
    assert_eq!(store.aliases(&n).await.unwrap().get(&current), Some(&v2));

    // Private on disk.
    let vfile = dir.path().join("secrets/client-api-dev-db/versions/2");
    assert_eq!(std::fs::metadata(&vfile).unwrap().permissions().mode() & 0o777, 0o600);
    let vdir = dir.path().join("secrets/client-api-dev-db");
    assert_eq!(std::fs::metadata(&vdir).unwrap().permissions().mode() & 0o777, 0o700);
    // No temporary files left behind.
    let leftovers: Vec<_> = std::fs::read_dir(vdir.join("versions"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[tokio::test]
async fn concurrent_writers_get_distinct_versions() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::new(dir.path()));
    let n = name("race");
    store.add_version(&n, &SecretString::from("seed")).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (store, n) = (store.clone(), n.clone());
        tasks.push(tokio::spawn(async move {
            store.add_version(&n, &SecretString::from(format!("v{i}"))).await
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap().unwrap().get());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (2..=17).collect::<Vec<_>>());
    for v in store.list_versions(&n).await.unwrap() {
        let value = store.access(&n, &VersionRef::Number(v.version)).await.unwrap();
        assert!(value.value.expose_secret().starts_with('v') || value.value.expose_secret() == "seed");
    }
}

#[tokio::test]
async fn missing_things_are_not_found_and_alias_to_a_missing_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path());
    let n = name("x");
    assert!(store.access(&n, &VersionRef::Latest).await.unwrap_err().is_not_found());
    assert!(store.aliases(&n).await.unwrap_err().is_not_found());
    let v = store.add_version(&n, &SecretString::from("v")).await.unwrap();
    let alias = AliasName::parse("current").unwrap();
    assert!(
        store
            .access(&n, &VersionRef::current())
            .await
            .unwrap_err()
            .is_not_found()
    );
    let err = store.set_alias(&n, &alias, v.next()).await.unwrap_err();
    assert!(err.is_not_found() && err.to_string().contains("version 2"), "{err}");
}

#[tokio::test]
async fn a_destroyed_version_is_wiped_on_disk_and_its_number_never_returns() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path());
    let n = name("d");
    let v1 = store
        .add_version(&n, &SecretString::from("old-password"))
        .await
        .unwrap();
    let v2 = store.add_version(&n, &SecretString::from("newest")).await.unwrap();
    // Destroying the newest version must not free its number for the next add.
    store.destroy_version(&n, v2).await.unwrap();
    store.destroy_version(&n, v2).await.unwrap();
    store.disable_version(&n, v1).await.unwrap();
    store.destroy_version(&n, v1).await.unwrap();
    let payload = std::fs::read(dir.path().join("d/versions/1")).unwrap();
    assert!(payload.is_empty(), "the payload is gone from disk");
    let err = store.access(&n, &VersionRef::Number(v1)).await.unwrap_err();
    assert!(
        matches!(err, SecretError::VersionNotEnabled { ref state, .. } if state == "destroyed"),
        "{err}"
    );
    let v3 = store.add_version(&n, &SecretString::from("third")).await.unwrap();
    assert_eq!(v3.get(), 3);
    let states: Vec<_> = store.list_versions(&n).await.unwrap().iter().map(|v| v.state).collect();
    assert_eq!(
        states,
        [VersionState::Destroyed, VersionState::Destroyed, VersionState::Enabled]
    );
    assert!(store.destroy_version(&n, v3.next()).await.unwrap_err().is_not_found());
    // A plain (mounted) file has no versions to destroy.
    std::fs::write(dir.path().join("mounted"), "x").unwrap();
    let err = store.destroy_version(&name("mounted"), v1).await.unwrap_err();
    assert!(matches!(err, SecretError::Unsupported { .. }), "{err}");
}
