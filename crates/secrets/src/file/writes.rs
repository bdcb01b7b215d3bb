//! The writing half of the file store: creating the versioned layout, adding versions
//! atomically (a hard link publishes a complete file under a number nobody else took),
//! disabling and destroying versions, moving aliases, and listing.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret as _, SecretString};

use super::{FileStore, Layout, PLAIN_FILE_HINT};
use crate::error::SecretError;
use crate::name::{AliasName, SecretName, VersionId};
use crate::store::{SecretStore as _, VersionInfo};

impl FileStore {
    /// The versioned directory of `name`, created when missing; a plain file is refused.
    pub(super) fn versioned_dir(
        &self,
        name: &SecretName,
        operation: &'static str,
        create: bool,
    ) -> Result<PathBuf, SecretError> {
        match self.layout(name)? {
            Layout::Versioned(dir) => Ok(dir),
            Layout::Plain(_) => Err(SecretError::Unsupported {
                store: self.describe(),
                operation,
                hint: PLAIN_FILE_HINT,
            }),
            Layout::Missing if create => {
                let dir = self.root.join(name.as_str());
                for sub in ["versions", "aliases"] {
                    let path = dir.join(sub);
                    fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o700)
                        .create(&path)
                        .map_err(|source| SecretError::Io {
                            action: "create secret directory",
                            path,
                            source,
                        })?;
                }
                Ok(dir)
            }
            Layout::Missing => Err(self.not_found(name)),
        }
    }

    pub(super) fn add_now(&self, name: &SecretName, value: &SecretString) -> Result<VersionId, SecretError> {
        let dir = self.versioned_dir(name, "adding a version", true)?;
        let vdir = dir.join("versions");
        let tmp = write_private_temp(&vdir, value.expose_secret().as_bytes())?;
        // A hard link creates the final name only if it does not exist, and with the complete
        // content: two concurrent writers never share a number and a reader never sees half a file.
        let mut next = self.versions_in(&dir)?.last().map_or(1, |v| v.version.get() + 1);
        let result = loop {
            let target = vdir.join(next.to_string());
            match fs::hard_link(&tmp, &target) {
                Ok(()) => break VersionId::new(next).map_err(SecretError::from),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => next += 1,
                Err(source) => {
                    break Err(SecretError::Io {
                        action: "write secret version",
                        path: target,
                        source,
                    });
                }
            }
        };
        let _ = fs::remove_file(&tmp);
        result
    }

    pub(super) fn disable_now(&self, name: &SecretName, version: VersionId) -> Result<(), SecretError> {
        let dir = self.versioned_dir(name, "disabling a version", false)?;
        let vdir = dir.join("versions");
        if !vdir.join(version.to_string()).exists() {
            return Err(self.version_missing(name, &version));
        }
        let marker = vdir.join(format!("{version}.disabled"));
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&marker)
            .map(drop)
            .map_err(|source| SecretError::Io {
                action: "disable version",
                path: marker,
                source,
            })
    }

    /// Marks the version destroyed, then empties its payload file (renaming an empty file over
    /// it). The marker comes first: a crash between the two leaves a version that reads as
    /// destroyed, and the next destroy empties it. The file itself stays, so `add_now`'s hard
    /// link can never hand its number out again.
    pub(super) fn destroy_now(&self, name: &SecretName, version: VersionId) -> Result<(), SecretError> {
        let dir = self.versioned_dir(name, "destroying a version", false)?;
        let vdir = dir.join("versions");
        let payload = vdir.join(version.to_string());
        if !payload.exists() {
            return Err(self.version_missing(name, &version));
        }
        let marker = vdir.join(format!("{version}.destroyed"));
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&marker)
            .map_err(|source| SecretError::Io {
                action: "destroy version",
                path: marker.clone(),
                source,
            })?
            .sync_all()
            .map_err(|source| SecretError::Io {
                action: "destroy version",
                path: marker,
                source,
            })?;
        let empty = write_private_temp(&vdir, b"")?;
        fs::rename(&empty, &payload).map_err(|source| {
            let _ = fs::remove_file(&empty);
            SecretError::Io {
                action: "wipe destroyed version",
                path: payload,
                source,
            }
        })
    }

    pub(super) fn set_alias_now(
        &self,
        name: &SecretName,
        alias: &AliasName,
        version: VersionId,
    ) -> Result<(), SecretError> {
        let dir = self.versioned_dir(name, "moving an alias", false)?;
        if !dir.join("versions").join(version.to_string()).exists() {
            return Err(self.version_missing(name, &version));
        }
        let adir = dir.join("aliases");
        let tmp = write_private_temp(&adir, version.to_string().as_bytes())?;
        let target = adir.join(alias.as_str());
        fs::rename(&tmp, &target).map_err(|source| {
            let _ = fs::remove_file(&tmp);
            SecretError::Io {
                action: "move alias",
                path: target,
                source,
            }
        })
    }

    pub(super) fn aliases_now(&self, name: &SecretName) -> Result<BTreeMap<AliasName, VersionId>, SecretError> {
        match self.layout(name)? {
            Layout::Missing => Err(self.not_found(name)),
            Layout::Plain(_) => Ok(BTreeMap::new()),
            Layout::Versioned(dir) => self.aliases_in(&dir),
        }
    }

    pub(super) fn list_now(&self, name: &SecretName) -> Result<Vec<VersionInfo>, SecretError> {
        match self.layout(name)? {
            Layout::Missing => Err(self.not_found(name)),
            Layout::Plain(_) => Err(SecretError::Unsupported {
                store: self.describe(),
                operation: "listing versions",
                hint: PLAIN_FILE_HINT,
            }),
            Layout::Versioned(dir) => self.versions_in(&dir),
        }
    }
}

/// Writes `bytes` to a new 0600 temporary file in `dir`, synced, and returns its path.
fn write_private_temp(dir: &Path, bytes: &[u8]) -> Result<PathBuf, SecretError> {
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| SecretError::Io {
        action: "draw a temporary file name",
        path: dir.to_owned(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let path = dir.join(format!(".tmp-{}", u64::from_le_bytes(nonce)));
    let write = || -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        file.write_all(bytes)?;
        file.sync_all()
    };
    write().map_err(|source| {
        let _ = fs::remove_file(&path);
        SecretError::Io {
            action: "write secret file",
            path: path.clone(),
            source,
        }
    })?;
    Ok(path)
}
