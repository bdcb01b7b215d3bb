//! Finding the PostgreSQL server binaries: `$PCC_PG_BIN`, then `pg_config --bindir`, then the newest
//! `/usr/lib/postgresql/*/bin`, then `PATH`. The first directory that holds `initdb`, `pg_ctl` and
//! `postgres` wins.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{LauncherError, Result};

/// The programs a directory must hold to be usable.
const REQUIRED: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// A directory of PostgreSQL server programs and the server's major version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    dir: PathBuf,
    version: String,
}

impl PgBinaries {
    /// Locates the binaries using the process environment.
    ///
    /// # Errors
    /// [`LauncherError::BinariesNotFound`] naming every place searched, the package to install and
    /// the variable to set.
    pub fn locate() -> Result<Self> {
        Self::locate_with(
            std::env::var_os("PCC_PG_BIN").map(PathBuf::from),
            Path::new("/usr/lib/postgresql"),
            std::env::var_os("PATH"),
        )
    }

    /// Locates the binaries from explicit inputs (tests use this to simulate a bare machine).
    ///
    /// # Errors
    /// As [`PgBinaries::locate`].
    pub fn locate_with(
        explicit: Option<PathBuf>,
        versioned_root: &Path,
        path_var: Option<std::ffi::OsString>,
    ) -> Result<Self> {
        let mut searched = Vec::new();
        if let Some(dir) = explicit {
            // An explicit choice that does not work is an error, not a reason to look elsewhere.
            if holds_server(&dir) {
                return Self::from_dir(dir);
            }
            return Err(LauncherError::BinariesNotFound {
                searched: format!("PCC_PG_BIN={} (missing initdb, pg_ctl or postgres)", dir.display()),
            });
        }
        searched.push("PCC_PG_BIN (unset)".to_owned());

        if let Some(dir) = pg_config_bindir(path_var.as_deref()) {
            if holds_server(&dir) {
                return Self::from_dir(dir);
            }
            searched.push(format!("pg_config --bindir ({})", dir.display()));
        } else {
            searched.push("pg_config --bindir (no pg_config)".to_owned());
        }

        if let Some(dir) = newest_versioned(versioned_root) {
            return Self::from_dir(dir);
        }
        searched.push(format!("{}/*/bin", versioned_root.display()));

        if let Some(path_var) = path_var {
            for dir in std::env::split_paths(&path_var) {
                if holds_server(&dir) {
                    return Self::from_dir(dir);
                }
            }
        }
        searched.push("PATH".to_owned());
        Err(LauncherError::BinariesNotFound {
            searched: searched.join(", "),
        })
    }

    /// Uses `dir` as is, reading the server version from `postgres --version`.
    ///
    /// # Errors
    /// [`LauncherError::CommandFailed`] when `postgres --version` cannot run.
    pub fn from_dir(dir: PathBuf) -> Result<Self> {
        let program = dir.join("postgres");
        let output = Command::new(&program)
            .arg("--version")
            .output()
            .map_err(|e| LauncherError::CommandFailed {
                program: program.display().to_string(),
                action: "reporting its version".into(),
                status: "not started".into(),
                output: e.to_string(),
            })?;
        // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> "15.18"
        let text = String::from_utf8_lossy(&output.stdout);
        let version = text.split_whitespace().nth(2).unwrap_or("unknown").to_owned();
        Ok(Self { dir, version })
    }

    /// The directory holding the programs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server version, e.g. `15.18`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The full path of one program of this installation (`psql`, `pg_basebackup`, ...).
    pub fn program(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn holds_server(dir: &Path) -> bool {
    REQUIRED.iter().all(|p| dir.join(p).is_file())
}

fn pg_config_bindir(path_var: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let mut command = Command::new("pg_config");
    command.arg("--bindir");
    if let Some(path_var) = path_var {
        command.env("PATH", path_var);
    }
    let output = command.output().ok()?;
    if !output.status.success() {
        return None;
    }
    let dir = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// The `bin` directory of the highest major version under `root` (`/usr/lib/postgresql/15/bin`).
fn newest_versioned(root: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(root).ok()?;
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let major: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            holds_server(&bin).then_some((major, bin))
        })
        .max_by_key(|(major, _)| *major)
        .map(|(_, bin)| bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_everywhere_names_package_and_variable() {
        let empty = tempfile::tempdir().expect("tempdir");
        let err = PgBinaries::locate_with(None, empty.path(), Some(empty.path().as_os_str().to_owned()))
            .expect_err("nothing to find");
        let text = err.to_string();
        assert!(text.contains("apt-get install postgresql"), "{text}");
        assert!(text.contains("PCC_PG_BIN"), "{text}");
    }

    #[test]
    fn explicit_directory_without_server_is_rejected_not_skipped() {
        let empty = tempfile::tempdir().expect("tempdir");
        let err = PgBinaries::locate_with(Some(empty.path().to_owned()), Path::new("/nonexistent"), None)
            .expect_err("explicit dir is empty");
        assert!(err.to_string().contains("PCC_PG_BIN="), "{err}");
    }
}
