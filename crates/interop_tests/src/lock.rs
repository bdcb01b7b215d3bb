//! An exclusive lock on a file, so two test processes never build the same harness at once (the
//! second waits, then finds the first one's build up to date).

use std::fs::{File, OpenOptions};
use std::path::Path;

/// Holds the lock until dropped (closing the file releases it, even if the process dies).
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Waits for and takes an exclusive lock on `path` (created if missing).
    ///
    /// # Panics
    /// When the file cannot be created or locked.
    pub fn acquire(path: &Path) -> Self {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| panic!("opening lock file {}: {e}", path.display()));
        file.lock()
            .unwrap_or_else(|e| panic!("locking {}: {e}", path.display()));
        Self { _file: file }
    }
}
