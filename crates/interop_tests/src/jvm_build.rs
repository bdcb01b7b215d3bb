//! Building the JVM harness (`interop/jvm`, Maven, pinned versions) into `<target>/interop/jvm`.
//!
//! Once per test process, under a file lock shared by every process on the machine: the build is
//! skipped when a stamp (a hash of the pom and every source file) matches, so only the first run
//! after a change pays for Maven; the first run on a machine also fetches the artifacts from Maven
//! Central into `~/.m2`. Nothing but `java` and `mvn` on the PATH is needed
//! (`scripts/lib/ensure-deps.sh --interop` installs them).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::lock::FileLock;

/// The Java classpath of the harness: its classes, then every dependency jar.
#[derive(Debug, Clone)]
pub struct Classpath(pub String);

/// The harness sources in the repository.
pub fn source_dir() -> PathBuf {
    test_support::repo_root().join("interop").join("jvm")
}

/// The harness, built (or found up to date) on first call.
///
/// # Panics
/// When Java or Maven is missing, or the build fails: with the tool's output and what to do.
pub fn classpath() -> &'static Classpath {
    static CLASSPATH: OnceLock<Classpath> = OnceLock::new();
    CLASSPATH.get_or_init(build)
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// A hash of the pom and every source file (names and contents).
fn source_hash(root: &Path) -> String {
    let mut files = vec![root.join("pom.xml")];
    files_under(&root.join("src"), &mut files);
    let mut hasher = Sha256::new();
    for file in files {
        let relative = file.strip_prefix(root).unwrap_or(&file);
        hasher.update(relative.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(std::fs::read(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display())));
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

fn require(program: &str, arg: &str) {
    let found = Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{program}` is not on the PATH: the interoperability tests need a JDK 17 and Maven \
         (scripts/lib/ensure-deps.sh --interop installs them; scripts/test and .ci/run call it)"
    );
}

fn build() -> Classpath {
    let sources = source_dir();
    let out = crate::work_dir().join("jvm");
    let _lock = FileLock::acquire(&out.join("build.lock"));
    let stamp_file = out.join("stamp");
    let classpath_file = out.join("classpath.txt");
    let classes = out.join("classes");
    let hash = source_hash(&sources);
    let up_to_date = std::fs::read_to_string(&stamp_file).is_ok_and(|s| s.trim() == hash)
        && classpath_file.is_file()
        && classes.is_dir();
    if !up_to_date {
        require("java", "-version");
        require("mvn", "-v");
        // Stale classes of deleted sources must not linger.
        let _ = std::fs::remove_dir_all(&classes);
        let _ = std::fs::remove_file(&stamp_file);
        let mut mvn = Command::new("mvn");
        mvn.arg("-B")
            .arg("-q")
            .arg("-f")
            .arg(sources.join("pom.xml"))
            .arg(format!("-Dinterop.out={}", out.display()))
            .args(["compile", "dependency:build-classpath"]);
        let output = mvn.output().unwrap_or_else(|e| panic!("running {mvn:?}: {e}"));
        assert!(
            output.status.success(),
            "building the JVM harness failed ({mvn:?}):\n{}{}\n(the first run fetches Flyway, pgjdbc and \
             Maven's plugins from Maven Central into ~/.m2: is it reachable?)",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::write(&stamp_file, &hash).unwrap_or_else(|e| panic!("writing {}: {e}", stamp_file.display()));
    }
    let deps = std::fs::read_to_string(&classpath_file)
        .unwrap_or_else(|e| panic!("reading {}: {e}", classpath_file.display()));
    Classpath(format!("{}:{}", classes.display(), deps.trim()))
}
