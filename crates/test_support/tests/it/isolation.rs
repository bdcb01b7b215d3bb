//! Two test binaries running at the same time must not collide on ports or directories: this test
//! runs its own binary twice, concurrently, each process starting its own cluster.

use std::process::Command;

use test_support::{cluster, database};

/// Runs as an ordinary test, and is also the workload of the two child processes below; when
/// `PCC_ISOLATION_REPORT` is set it writes where its cluster lives.
#[tokio::test]
async fn a_process_uses_its_own_cluster() {
    let db = database().await;
    let client = db.connect().await;
    client
        .batch_execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
        .await
        .expect("write");
    let launched = cluster().launched().expect("launched");
    if let Ok(report) = std::env::var("PCC_ISOLATION_REPORT") {
        let line = format!(
            "{} {} {}\n",
            launched.primary().port,
            launched.replica().expect("replica").port,
            launched.dir().display()
        );
        std::fs::write(report, line).expect("report");
    }
}

#[test]
fn two_test_binaries_at_once_do_not_collide() {
    if std::env::var_os("PCC_ISOLATION_REPORT").is_some() {
        return; // we are one of the children: do not recurse
    }
    let exe = std::env::current_exe().expect("own path");
    let reports = tempfile::tempdir().expect("tempdir");
    let children: Vec<_> = (0..2)
        .map(|i| {
            Command::new(&exe)
                .args([
                    "isolation::a_process_uses_its_own_cluster",
                    "--exact",
                    "--test-threads=1",
                ])
                .env("PCC_ISOLATION_REPORT", reports.path().join(format!("r{i}")))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn child test binary")
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("child"))
        .collect();
    for output in &outputs {
        assert!(
            output.status.success(),
            "child failed: {}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
    let read = |i: usize| std::fs::read_to_string(reports.path().join(format!("r{i}"))).expect("report");
    let (a, b) = (read(0), read(1));
    let a: Vec<&str> = a.split_whitespace().collect();
    let b: Vec<&str> = b.split_whitespace().collect();
    assert_eq!(a.len(), 3);
    assert_ne!(a[2], b[2], "cluster directories must differ");
    let ports = [a[0], a[1], b[0], b[1]];
    for (i, p) in ports.iter().enumerate() {
        for q in &ports[i + 1..] {
            assert_ne!(p, q, "ports must differ: {ports:?}");
        }
    }
    // And each child cleaned up after itself.
    assert!(
        !std::path::Path::new(a[2]).exists() || wait_gone(a[2]),
        "{} left behind",
        a[2]
    );
    assert!(
        !std::path::Path::new(b[2]).exists() || wait_gone(b[2]),
        "{} left behind",
        b[2]
    );
}

/// The watchdog removes a child's cluster right after the child exits; give it a moment.
fn wait_gone(dir: &str) -> bool {
    for _ in 0..100 {
        if !std::path::Path::new(dir).exists() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}
