//! Which OS user runs the servers. initdb and postgres refuse to run as root, so when the effective
//! user is root they run as `postgres` (or `$PCC_PG_OS_USER`), which is then given the data
//! directories. Otherwise they run as the invoking user and nothing changes hands.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use nix::unistd::{Gid, Uid, User};

use crate::error::{LauncherError, Result, io_err};

/// The identity the PostgreSQL programs run under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUser {
    name: String,
    uid: Uid,
    gid: Gid,
    /// True when we are root and switch to `name` for every server program.
    switch: bool,
}

impl ServerUser {
    /// Decides from the effective user and `$PCC_PG_OS_USER`.
    ///
    /// # Errors
    /// [`LauncherError::NoOsUser`] when we are root and the chosen user does not exist.
    pub fn detect() -> Result<Self> {
        let wanted = std::env::var("PCC_PG_OS_USER").unwrap_or_else(|_| "postgres".to_owned());
        Self::detect_with(Uid::effective(), &wanted)
    }

    /// Decides for a given effective uid and wanted user name.
    ///
    /// # Errors
    /// As [`ServerUser::detect`].
    pub fn detect_with(effective: Uid, wanted: &str) -> Result<Self> {
        if !effective.is_root() {
            let name = User::from_uid(effective)
                .ok()
                .flatten()
                .map_or_else(|| effective.to_string(), |u| u.name);
            return Ok(Self {
                name,
                uid: effective,
                gid: Gid::effective(),
                switch: false,
            });
        }
        match User::from_name(wanted) {
            Ok(Some(user)) if !user.uid.is_root() => Ok(Self {
                name: user.name,
                uid: user.uid,
                gid: user.gid,
                switch: true,
            }),
            _ => Err(LauncherError::NoOsUser {
                user: wanted.to_owned(),
            }),
        }
    }

    /// The user name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether programs are started under another identity (we are root).
    pub fn switches(&self) -> bool {
        self.switch
    }

    /// A command for a server program, running as this user.
    pub fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(program);
        if self.switch {
            // std drops supplementary groups when uid is set as root; HOME would still point at
            // root's home, where the server user may not write.
            command
                .uid(self.uid.as_raw())
                .gid(self.gid.as_raw())
                .env("HOME", "/tmp");
        }
        command
    }

    /// Gives `path` (and, when `recursive`, everything below it) to this user, when we switch.
    ///
    /// # Errors
    /// [`LauncherError::Io`] naming the path.
    pub fn own(&self, path: &Path, recursive: bool) -> Result<()> {
        if !self.switch {
            return Ok(());
        }
        nix::unistd::chown(path, Some(self.uid), Some(self.gid))
            .map_err(|e| io_err("changing owner of", path)(std::io::Error::from(e)))?;
        if recursive && path.is_dir() {
            for entry in std::fs::read_dir(path).map_err(io_err("listing", path))? {
                let entry = entry.map_err(io_err("listing", path))?;
                self.own(&entry.path(), true)?;
            }
        }
        Ok(())
    }

    /// Checks that this user can traverse every ancestor of `dir`, so a server can reach its data.
    ///
    /// # Errors
    /// [`LauncherError::Unreachable`] naming the first blocking directory.
    pub fn check_reachable(&self, dir: &Path) -> Result<()> {
        if !self.switch {
            return Ok(());
        }
        use std::os::unix::fs::MetadataExt;
        let mut blocked = None;
        for ancestor in dir.ancestors().skip(1) {
            let Ok(meta) = std::fs::metadata(ancestor) else {
                continue;
            };
            let mode = meta.mode();
            let searchable = if meta.uid() == self.uid.as_raw() {
                mode & 0o100 != 0
            } else if meta.gid() == self.gid.as_raw() {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            };
            if !searchable {
                blocked = Some(ancestor.to_owned());
            }
        }
        match blocked {
            Some(path) => Err(LauncherError::Unreachable {
                user: self.name.clone(),
                path,
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_without_the_user_gets_a_clear_error() {
        let err = ServerUser::detect_with(Uid::from_raw(0), "no-such-user-pcc").expect_err("no user");
        let text = err.to_string();
        assert!(text.contains("no-such-user-pcc"), "{text}");
        assert!(text.contains("PCC_PG_OS_USER"), "{text}");
    }

    #[test]
    fn ordinary_user_runs_servers_itself() {
        let user = ServerUser::detect_with(Uid::from_raw(4242), "postgres").expect("non-root");
        assert!(!user.switches());
    }
}
