//! Builds the service's own migrations (migrations/client_api) into the binary when the `embedded` feature is
//! on, so the embedded default runs from any directory: `$OUT_DIR/embedded_migrations.rs` lists every file of
//! the directory (scripts and their `.conf` files, recursively) with `include_bytes!`, under its path
//! relative to the directory, which is what the history table records.

use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files(&path, out);
        } else if path.is_file() {
            out.push(path);
        }
    }
}

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let target = out.join("embedded_migrations.rs");
    if std::env::var_os("CARGO_FEATURE_EMBEDDED").is_none() {
        return;
    }
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let dir = manifest_dir.join("../../migrations/client_api");
    let dir = dir.canonicalize().unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut found = Vec::new();
    files(&dir, &mut found);
    let mut code = String::from(
        "/// migrations/client_api, as built into this binary.\npub static CLIENT_API: &[migrate::config::EmbeddedFile] = &[\n",
    );
    for path in found {
        let relative = path
            .strip_prefix(&dir)
            .expect("under the directory")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        code.push_str(&format!(
            "    migrate::config::EmbeddedFile {{ path: {relative:?}, contents: include_bytes!({:?}) }},\n",
            path.display().to_string()
        ));
    }
    code.push_str("];\n");
    std::fs::write(&target, code).unwrap_or_else(|e| panic!("writing {}: {e}", target.display()));
}
