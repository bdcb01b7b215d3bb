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
//!    `DisableVersions` (older secret versions);
//! 6. `DestroyVersions`: disabled versions beyond the [`Retention`] (the newest
//!    `keep_disabled` stay, older ones go once superseded `destroy_after` ago), so a secret's
//!    history stays bounded however often it rotates (Secret Manager bills every version that
//!    is not destroyed, disabled ones included).
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

/// How much history a secret keeps. A disabled version is destroyed when it is not among the
/// newest `keep_disabled` disabled versions and was superseded at least `destroy_after` ago.
/// The default (3, 7 days) keeps the last few passwords at hand for an investigation or a
/// restore from a recent backup, and bounds a secret to its current and pending versions plus
/// 3 disabled ones, plus whatever a burst of rotations in the last week left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Disabled versions kept however old they are (the newest ones).
    pub keep_disabled: u32,
    /// Older disabled versions are destroyed once superseded this long ago.
    pub destroy_after: time::Duration,
}

impl Retention {
    /// Keep 3, destroy the rest once superseded 7 days ago.
    pub const DEFAULT: Self = Self {
        keep_disabled: 3,
        destroy_after: time::Duration::days(7),
    };
}

/// What `decide` needs to know about a target besides its observed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// How long the previous login stays valid after the alias moves (zero for single logins).
    pub grace: time::Duration,
    /// How many superseded versions the secret keeps.
    pub retention: Retention,
}

/// A disabled secret version that no alias points to, and when it was superseded (the creation
/// time of the next newer version: the store does not record when a version was disabled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisabledVersion {
    /// The version.
    pub version: VersionId,
    /// When the next version was added; `None` when the store does not say (then only the
    /// count protects it).
    pub superseded: Option<OffsetDateTime>,
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
    /// Disabled versions no alias points to.
    pub disabled_versions: Vec<DisabledVersion>,
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
    /// Destroy disabled versions beyond the retention.
    DestroyVersions {
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

/// The disabled versions `retention` lets go, oldest first.
pub fn destroyable(disabled: &[DisabledVersion], retention: &Retention, now: OffsetDateTime) -> Vec<VersionId> {
    let mut newest_first: Vec<&DisabledVersion> = disabled.iter().collect();
    newest_first.sort_by_key(|d| std::cmp::Reverse(d.version));
    let keep = usize::try_from(retention.keep_disabled).unwrap_or(usize::MAX);
    let mut out: Vec<VersionId> = newest_first
        .into_iter()
        .skip(keep)
        .filter(|d| d.superseded.is_none_or(|t| now - t >= retention.destroy_after))
        .map(|d| d.version)
        .collect();
    out.sort();
    out
}

/// The next step for a target with `policy`.
///
/// `promoted` says whether this run already promoted a version (so `Now` does not rotate twice).
pub fn decide(obs: &Observed, policy: &Policy, mode: Mode, promoted: bool) -> Step {
    let grace = policy.grace;
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
    let doomed = destroyable(&obs.disabled_versions, &policy.retention, obs.now);
    if !doomed.is_empty() {
        return Step::DestroyVersions { versions: doomed };
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
            Self::DestroyVersions { versions } => {
                let list: Vec<String> = versions.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "destroy disabled secret versions {} (beyond the retention)",
                    list.join(", ")
                )
            }
            Self::Wait { user, until } => write!(f, "wait: {user} stays valid until {} (grace period)", rfc3339(until)),
            Self::Done => f.write_str("up to date"),
        }
    }
}
