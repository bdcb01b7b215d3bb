//! Secrets in files: how Kubernetes mounts them, plus a versioned layout for local rotation.
//!
//! Under the store's root directory, secret `name` is either
//! - a plain file `<root>/<name>`: one value with no history, exactly what a Kubernetes secret
//!   volume (or the Secret Manager CSI driver) mounts. `latest` and every alias read it; writes
//!   are refused, because the cluster, not this process, owns that file; or
//! - a directory `<root>/<name>/` holding `versions/<n>` (the payloads), `versions/<n>.disabled`
//!   and `versions/<n>.destroyed` (markers; a destroyed version's payload file stays, emptied, so
//!   its number is never handed out again) and `aliases/<alias>` (a version number), which `pccdb dev` and the embedded
//!   default use to rotate locally with the same model as Secret Manager.
//!
//! Nothing is cached: every `access` reads the file again, so a value Kubernetes swaps in (it
//! replaces the `..data` symlink atomically) is seen on the next read. Callers that want a
//! cache use [`crate::CachedCredential`], which re-reads on demand. Writes are atomic (a new
//! version appears complete or not at all) and private (directories 0700, files 0600).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use futures_util::future::{BoxFuture, FutureExt as _};
use secrecy::{ExposeSecret as _, SecretString};
use time::OffsetDateTime;

mod writes;

use crate::error::SecretError;
use crate::name::{AliasName, SecretName, VersionId, VersionRef};
use crate::store::{SecretStore, SecretVersion, VersionInfo, VersionState};

const PLAIN_FILE_HINT: &str = "this secret is a plain (mounted) file with one value; rotate it in its source store, or remove the file to let this store keep versions";

/// Secrets stored as files under one directory.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

enum Layout {
    Missing,
    Plain(PathBuf),
    Versioned(PathBuf),
}

impl FileStore {
    /// A store rooted at `root` (created on the first write if it does not exist).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn layout(&self, name: &SecretName) -> Result<Layout, SecretError> {
        let path = self.root.join(name.as_str());
        match fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => Ok(Layout::Versioned(path)),
            Ok(_) => Ok(Layout::Plain(path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Layout::Missing),
            Err(source) => Err(SecretError::Io {
                action: "inspect secret",
                path,
                source,
            }),
        }
    }

    fn not_found(&self, name: &SecretName) -> SecretError {
        SecretError::SecretNotFound {
            store: self.describe(),
            secret: name.to_string(),
        }
    }

    fn version_missing(&self, name: &SecretName, version: &dyn std::fmt::Display) -> SecretError {
        SecretError::VersionNotFound {
            store: self.describe(),
            secret: name.to_string(),
            version: version.to_string(),
        }
    }

    fn read_value(&self, path: &Path) -> Result<SecretString, SecretError> {
        let bytes = fs::read(path).map_err(|source| SecretError::Io {
            action: "read secret file",
            path: path.to_owned(),
            source,
        })?;
        String::from_utf8(bytes)
            .map(SecretString::from)
            .map_err(|_| SecretError::Malformed {
                store: self.describe(),
                what: format!("file {}", path.display()),
                detail: "the content is not valid UTF-8".to_owned(),
            })
    }

    fn versions_in(&self, dir: &Path) -> Result<Vec<VersionInfo>, SecretError> {
        let vdir = dir.join("versions");
        let entries = match fs::read_dir(&vdir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(SecretError::Io {
                    action: "list versions",
                    path: vdir,
                    source,
                });
            }
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| SecretError::Io {
                action: "list versions",
                path: vdir.clone(),
                source,
            })?;
            let file_name = entry.file_name();
            // Only `<n>` names are versions; `.tmp-*` files and `<n>.disabled` / `<n>.destroyed`
            // markers are not.
            let Some(version) = file_name.to_str().and_then(|s| s.parse::<VersionId>().ok()) else {
                continue;
            };
            let destroyed = vdir.join(format!("{version}.destroyed")).exists();
            let disabled = vdir.join(format!("{version}.disabled")).exists();
            let created = entry
                .metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .map(OffsetDateTime::from);
            let state = if destroyed {
                VersionState::Destroyed
            } else if disabled {
                VersionState::Disabled
            } else {
                VersionState::Enabled
            };
            out.push(VersionInfo {
                version,
                state,
                created,
            });
        }
        out.sort_by_key(|v| v.version);
        Ok(out)
    }

    fn aliases_in(&self, dir: &Path) -> Result<BTreeMap<AliasName, VersionId>, SecretError> {
        let adir = dir.join("aliases");
        let entries = match fs::read_dir(&adir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(source) => {
                return Err(SecretError::Io {
                    action: "list aliases",
                    path: adir,
                    source,
                });
            }
        };
        let mut out = BTreeMap::new();
        for entry in entries {
            let entry = entry.map_err(|source| SecretError::Io {
                action: "list aliases",
                path: adir.clone(),
                source,
            })?;
            let Some(alias) = entry.file_name().to_str().and_then(|s| AliasName::parse(s).ok()) else {
                continue;
            };
            let path = entry.path();
            let text = fs::read_to_string(&path).map_err(|source| SecretError::Io {
                action: "read alias",
                path: path.clone(),
                source,
            })?;
            let version = text.trim().parse::<VersionId>().map_err(|e| SecretError::Malformed {
                store: self.describe(),
                what: format!("alias file {}", path.display()),
                detail: e.to_string(),
            })?;
            out.insert(alias, version);
        }
        Ok(out)
    }

    fn access_now(&self, name: &SecretName, version: &VersionRef) -> Result<SecretVersion, SecretError> {
        let dir = match self.layout(name)? {
            Layout::Missing => return Err(self.not_found(name)),
            Layout::Plain(path) => {
                if let VersionRef::Number(n) = version {
                    return Err(self.version_missing(name, n));
                }
                return Ok(SecretVersion {
                    version: None,
                    value: self.read_value(&path)?,
                });
            }
            Layout::Versioned(dir) => dir,
        };
        let versions = self.versions_in(&dir)?;
        let wanted = match version {
            VersionRef::Latest => versions
                .iter()
                .rev()
                .find(|v| v.state == VersionState::Enabled)
                .map(|v| v.version),
            VersionRef::Number(n) => Some(*n),
            VersionRef::Alias(a) => self.aliases_in(&dir)?.get(a).copied(),
        }
        .ok_or_else(|| self.version_missing(name, version))?;
        let info = versions
            .iter()
            .find(|v| v.version == wanted)
            .ok_or_else(|| self.version_missing(name, &wanted))?;
        if info.state != VersionState::Enabled {
            return Err(SecretError::VersionNotEnabled {
                store: self.describe(),
                secret: name.to_string(),
                version: wanted.to_string(),
                state: info.state.to_string(),
            });
        }
        let value = self.read_value(&dir.join("versions").join(wanted.to_string()))?;
        Ok(SecretVersion {
            version: Some(wanted),
            value,
        })
    }
}

/// Runs blocking file work off the async runtime's worker threads.
fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, SecretError> + Send + 'static,
) -> BoxFuture<'static, Result<T, SecretError>> {
    async move {
        tokio::task::spawn_blocking(work).await.unwrap_or_else(|join| {
            Err(SecretError::Io {
                action: "run file operation",
                path: PathBuf::new(),
                source: std::io::Error::other(join.to_string()),
            })
        })
    }
    .boxed()
}

impl SecretStore for FileStore {
    fn describe(&self) -> String {
        format!("file:{}", self.root.display())
    }

    fn access<'a>(
        &'a self,
        name: &'a SecretName,
        version: &'a VersionRef,
    ) -> BoxFuture<'a, Result<SecretVersion, SecretError>> {
        let (store, name, version) = (self.clone(), name.clone(), version.clone());
        blocking(move || store.access_now(&name, &version))
    }

    fn add_version<'a>(
        &'a self,
        name: &'a SecretName,
        value: &'a SecretString,
    ) -> BoxFuture<'a, Result<VersionId, SecretError>> {
        let (store, name) = (self.clone(), name.clone());
        let value = SecretString::from(value.expose_secret().to_owned());
        blocking(move || store.add_now(&name, &value))
    }

    fn list_versions<'a>(&'a self, name: &'a SecretName) -> BoxFuture<'a, Result<Vec<VersionInfo>, SecretError>> {
        let (store, name) = (self.clone(), name.clone());
        blocking(move || store.list_now(&name))
    }

    fn disable_version<'a>(
        &'a self,
        name: &'a SecretName,
        version: VersionId,
    ) -> BoxFuture<'a, Result<(), SecretError>> {
        let (store, name) = (self.clone(), name.clone());
        blocking(move || store.disable_now(&name, version))
    }

    fn destroy_version<'a>(
        &'a self,
        name: &'a SecretName,
        version: VersionId,
    ) -> BoxFuture<'a, Result<(), SecretError>> {
        let (store, name) = (self.clone(), name.clone());
        blocking(move || store.destroy_now(&name, version))
    }

    fn aliases<'a>(
        &'a self,
        name: &'a SecretName,
    ) -> BoxFuture<'a, Result<BTreeMap<AliasName, VersionId>, SecretError>> {
        let (store, name) = (self.clone(), name.clone());
        blocking(move || store.aliases_now(&name))
    }

    fn set_alias<'a>(
        &'a self,
        name: &'a SecretName,
        alias: &'a AliasName,
        version: VersionId,
    ) -> BoxFuture<'a, Result<(), SecretError>> {
        let (store, name, alias) = (self.clone(), name.clone(), alias.clone());
        blocking(move || store.set_alias_now(&name, &alias, version))
    }
}
