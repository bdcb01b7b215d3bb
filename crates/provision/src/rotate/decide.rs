//! The rotation state machine as a pure function: observed state in, next step out.
//!
//! State lives in two places only, both durable and both read fresh before every step: the
//! secret store (versions, the `current` alias) and the catalog (each login's LOGIN flag and
//! a retirement mark in its role comment). Every step is one external effect, so a crash
//! between any two steps leaves an observable state from which `decide` picks the right next
//! step; nothing is remembered between runs. One cycle for the pair (A current, B standby):
//!
//! 1. `AddPending`: a new secret version {B, fresh password} (the password exists in the store
//!    before the database knows it, so a crash loses nothing);
//! 2. `SetPassword`: B gets LOGIN and that password's SCRAM verifier (until a login as B with
//!    the pending version succeeds, this step repeats with the same version);
//! 3. `MarkRetiring`: A's comment records "disable after now + grace";
//! 4. `Promote`: the `current` alias moves to the new version (services re-read it);
//! 5. after the grace period: `DisableLogin` (A: NOLOGIN, password removed), `ClearMark`,
//!    `DisableVersions` (older secret versions).
//!
//! A single login (the migrator, extra login roles) skips 3 and 5's login part: its one role
//! takes the new password at step 2 (a job starting between 2 and 4 reads the old password and
//! must retry; migrations are short jobs, not pools).

use secrets::{DbCredential, VersionId};
use time::OffsetDateTime;

/// What a run may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Finish what is in progress, create the first credential if there is none, never start
    /// a new rotation (what `apply` runs).
    Converge,
    /// Converge, then start a new rotation if the current credential is older than this many days.
    IfOlderThanDays(u32),
    /// Converge, then start a new rotation (unless one was promoted in this run).
    Now,
}

/// One login role as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginState {
    /// The role name.
    pub name: String,
    /// rolcanlogin.
    pub login: bool,
    /// The retirement mark's deadline, if the role comment holds one.
    pub retire_after: Option<OffsetDateTime>,
}

/// A secret version holding a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionCredential {
    /// The version.
    pub version: VersionId,
    /// When it was added.
    pub created: Option<OffsetDateTime>,
    /// Its credential.
    pub credential: DbCredential,
}

/// Everything `decide` looks at.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The version the `current` alias points to.
    pub current: Option<VersionCredential>,
    /// Whether `current` logs in (checked only when asked for).
    pub current_works: Option<bool>,
    /// The newest enabled version newer than `current`, for a login of this target.
    pub pending: Option<VersionCredential>,
    /// Whether `pending` logs in.
    pub pending_works: bool,
    /// Enabled versions that are neither `current` nor `pending`.
    pub stale_versions: Vec<VersionId>,
    /// The target's logins (one, or the pair).
    pub logins: Vec<LoginState>,
    /// Now.
    pub now: OffsetDateTime,
}

/// The next effect to cause.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Add a secret version with a new password for `user`.
    AddPending {
        /// The login that will use it.
        user: String,
    },
    /// Give `user` LOGIN and the password of secret version `version`.
    SetPassword {
        /// The login.
        user: String,
        /// The secret version holding the password.
        version: VersionId,
    },
    /// Record in `user`'s comment that it is disabled after `until`.
    MarkRetiring {
        /// The login being replaced.
        user: String,
        /// The deadline.
        #[serde(with = "time::serde::rfc3339")]
        until: OffsetDateTime,
    },
    /// Point the `current` alias at `version`.
    Promote {
        /// The new version.
        version: VersionId,
    },
    /// NOLOGIN and no password for the retired `user`.
    DisableLogin {
        /// The login.
        user: String,
    },
    /// Remove the retirement mark of `user`.
    ClearMark {
        /// The login.
        user: String,
    },
    /// Disable superseded secret versions.
    DisableVersions {
        /// The versions.
        versions: Vec<VersionId>,
    },
    /// Nothing to do before `until` (the previous login's grace period).
    Wait {
        /// The login still in its grace period.
        user: String,
        /// When it may be disabled.
        #[serde(with = "time::serde::rfc3339")]
        until: OffsetDateTime,
    },
    /// Nothing left to do.
    Done,
}

/// `t` rounded up to a whole second (marks are stored with second precision).
fn ceil_second(t: OffsetDateTime) -> OffsetDateTime {
    if t.nanosecond() == 0 {
        t
    } else {
        t.replace_nanosecond(0).unwrap_or(t) + time::Duration::SECOND
    }
}

/// Rewrite a retirement mark when it would expire more than this much earlier than now + grace.
const MARK_SLACK: time::Duration = time::Duration::minutes(1);

/// The next step for a target with `grace` (zero for single logins).
///
/// `promoted` says whether this run already promoted a version (so `Now` does not rotate twice).
pub fn decide(obs: &Observed, grace: time::Duration, mode: Mode, promoted: bool) -> Step {
    let pair = obs.logins.len() > 1;
    if let Some(p) = &obs.pending {
        if !obs.pending_works {
            return Step::SetPassword {
                user: p.credential.username.clone(),
                version: p.version,
            };
        }
        if let Some(c) = obs
            .current
            .as_ref()
            .filter(|c| pair && c.credential.username != p.credential.username)
        {
            let old = obs.logins.iter().find(|l| l.name == c.credential.username);
            let needs_mark = old.is_some_and(|l| l.retire_after.is_none_or(|t| t < obs.now + grace - MARK_SLACK));
            if needs_mark {
                return Step::MarkRetiring {
                    user: c.credential.username.clone(),
                    until: ceil_second(obs.now + grace),
                };
            }
        }
        return Step::Promote { version: p.version };
    }
    let Some(current) = &obs.current else {
        let first = obs.logins.first().map_or_else(String::new, |l| l.name.clone());
        return Step::AddPending { user: first };
    };
    // Retire the logins that are not current, once their grace period is over.
    for l in obs.logins.iter().filter(|l| l.name != current.credential.username) {
        match (l.login, l.retire_after) {
            (true, Some(until)) if obs.now < until => {
                return Step::Wait {
                    user: l.name.clone(),
                    until,
                };
            }
            (true, _) => return Step::DisableLogin { user: l.name.clone() },
            (false, Some(_)) => return Step::ClearMark { user: l.name.clone() },
            (false, None) => {}
        }
    }
    if !obs.stale_versions.is_empty() {
        return Step::DisableVersions {
            versions: obs.stale_versions.clone(),
        };
    }
    let standby = || {
        let other = obs.logins.iter().find(|l| l.name != current.credential.username);
        match (pair, other) {
            (true, Some(o)) => o.name.clone(),
            _ => current.credential.username.clone(),
        }
    };
    // A current credential that no longer logs in (a restored database, a manual ALTER ROLE)
    // is healed by a new rotation, whatever the mode.
    if obs.current_works == Some(false) {
        return Step::AddPending { user: standby() };
    }
    let due = match mode {
        Mode::Converge => false,
        Mode::Now => !promoted,
        Mode::IfOlderThanDays(days) => {
            !promoted
                && current
                    .created
                    .is_none_or(|c| obs.now - c >= time::Duration::days(i64::from(days)))
        }
    };
    if due {
        Step::AddPending { user: standby() }
    } else {
        Step::Done
    }
}

/// A time as RFC 3339 in whole seconds (`2026-05-01T10:45:00Z`).
pub fn rfc3339(t: &OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(*t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AddPending { user } => write!(f, "add a secret version with a new password for {user}"),
            Self::SetPassword { user, version } => write!(f, "give {user} LOGIN and the password of version {version}"),
            Self::MarkRetiring { user, until } => write!(f, "mark {user} to be disabled after {}", rfc3339(until)),
            Self::Promote { version } => write!(f, "move alias current to version {version}"),
            Self::DisableLogin { user } => write!(f, "disable login {user} (NOLOGIN, password removed)"),
            Self::ClearMark { user } => write!(f, "clear the retirement mark of {user}"),
            Self::DisableVersions { versions } => {
                let list: Vec<String> = versions.iter().map(ToString::to_string).collect();
                write!(f, "disable superseded secret versions {}", list.join(", "))
            }
            Self::Wait { user, until } => write!(f, "wait: {user} stays valid until {} (grace period)", rfc3339(until)),
            Self::Done => f.write_str("up to date"),
        }
    }
}
