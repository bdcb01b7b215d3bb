//! The rotation state machine: every state a crash can leave behind leads to the right step.

use secrecy::SecretString;
use secrets::{DbCredential, VersionId};
use time::{Duration, OffsetDateTime};

use super::decide::{DisabledVersion, LoginState, Mode, Observed, Policy, Retention, Step, VersionCredential, decide};

const A: &str = "client_api_user";
const B: &str = "client_api_user_b";
const GRACE: Duration = Duration::minutes(65);
/// The service's policy: 65 minutes of grace, the default retention.
const POLICY: Policy = Policy {
    grace: GRACE,
    retention: Retention::DEFAULT,
};
/// A single login's policy: no grace.
const SINGLE: Policy = Policy {
    grace: Duration::ZERO,
    retention: Retention::DEFAULT,
};

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn v(n: u64, user: &str) -> VersionCredential {
    VersionCredential {
        version: VersionId::new(n).unwrap(),
        created: Some(now() - Duration::days(1)),
        credential: DbCredential::new(user, SecretString::from(format!("pw{n}"))),
    }
}

fn login(name: &str, login: bool, retire_after: Option<OffsetDateTime>) -> LoginState {
    LoginState {
        name: name.to_owned(),
        login,
        retire_after,
    }
}

/// Steady state: A current and logging in, B disabled, nothing pending.
fn steady() -> Observed {
    Observed {
        current: Some(v(1, A)),
        current_works: Some(true),
        pending: None,
        pending_works: false,
        stale_versions: Vec::new(),
        disabled_versions: Vec::new(),
        logins: vec![login(A, true, None), login(B, false, None)],
        now: now(),
    }
}

fn id(n: u64) -> VersionId {
    VersionId::new(n).unwrap()
}

#[test]
fn a_first_run_creates_a_credential_for_the_first_login() {
    let mut o = steady();
    o.current = None;
    o.current_works = None;
    o.logins = vec![login(A, false, None), login(B, false, None)];
    assert_eq!(
        decide(&o, &POLICY, Mode::Converge, false),
        Step::AddPending { user: A.into() }
    );
    o.pending = Some(v(1, A));
    assert_eq!(
        decide(&o, &POLICY, Mode::Converge, false),
        Step::SetPassword {
            user: A.into(),
            version: id(1)
        }
    );
    o.pending_works = true;
    assert_eq!(
        decide(&o, &POLICY, Mode::Converge, false),
        Step::Promote { version: id(1) }
    );
}

#[test]
fn steady_state_is_done_unless_a_rotation_is_asked_for_or_due() {
    let o = steady();
    assert_eq!(decide(&o, &POLICY, Mode::Converge, false), Step::Done);
    assert_eq!(
        decide(&o, &POLICY, Mode::Now, false),
        Step::AddPending { user: B.into() }
    );
    assert_eq!(decide(&o, &POLICY, Mode::Now, true), Step::Done);
    assert_eq!(decide(&o, &POLICY, Mode::IfOlderThanDays(30), false), Step::Done);
    let mut old = steady();
    old.current.as_mut().unwrap().created = Some(now() - Duration::days(31));
    assert_eq!(
        decide(&old, &POLICY, Mode::IfOlderThanDays(30), false),
        Step::AddPending { user: B.into() }
    );
}

#[test]
fn a_crash_after_adding_the_version_resumes_with_the_same_password() {
    let mut o = steady();
    o.pending = Some(v(2, B));
    assert_eq!(
        decide(&o, &POLICY, Mode::Converge, false),
        Step::SetPassword {
            user: B.into(),
            version: id(2)
        }
    );
}

#[test]
fn the_retiring_login_is_marked_before_the_alias_moves() {
    let mut o = steady();
    o.pending = Some(v(2, B));
    o.pending_works = true;
    assert_eq!(
        decide(&o, &POLICY, Mode::Converge, false),
        Step::MarkRetiring {
            user: A.into(),
            until: now() + GRACE,
        }
    );
    o.logins[0].retire_after = Some(now() + GRACE);
    assert_eq!(
        decide(&o, &POLICY, Mode::Converge, false),
        Step::Promote { version: id(2) }
    );
}

#[test]
fn a_stale_mark_from_a_crash_long_ago_is_rewritten_before_promoting() {
    let mut o = steady();
    o.pending = Some(v(2, B));
    o.pending_works = true;
    o.logins[0].retire_after = Some(now() - Duration::days(3));
    assert_eq!(
        decide(&o, &POLICY, Mode::Converge, false),
        Step::MarkRetiring {
            user: A.into(),
            until: now() + GRACE,
        }
    );
}

#[test]
fn after_promotion_the_old_login_waits_for_its_grace_period_then_is_disabled() {
    let mut o = steady();
    o.current = Some(v(2, B));
    o.stale_versions = vec![id(1)];
    o.logins = vec![
        login(A, true, Some(now() + Duration::minutes(10))),
        login(B, true, None),
    ];
    assert_eq!(
        decide(&o, &POLICY, Mode::Now, true),
        Step::Wait {
            user: A.into(),
            until: now() + Duration::minutes(10)
        }
    );
    // A later run in Now mode must not start another rotation while the grace period runs.
    assert_eq!(
        decide(&o, &POLICY, Mode::Now, false),
        Step::Wait {
            user: A.into(),
            until: now() + Duration::minutes(10)
        }
    );
    o.now = now() + Duration::minutes(11);
    assert_eq!(
        decide(&o, &POLICY, Mode::Converge, false),
        Step::DisableLogin { user: A.into() }
    );
    o.logins[0].login = false;
    assert_eq!(
        decide(&o, &POLICY, Mode::Converge, false),
        Step::ClearMark { user: A.into() }
    );
    o.logins[0].retire_after = None;
    assert_eq!(
        decide(&o, &POLICY, Mode::Converge, false),
        Step::DisableVersions { versions: vec![id(1)] }
    );
    o.stale_versions.clear();
    assert_eq!(decide(&o, &POLICY, Mode::Converge, false), Step::Done);
}

#[test]
fn an_unmarked_login_that_is_not_current_is_disabled_at_once() {
    let mut o = steady();
    o.logins[1].login = true;
    assert_eq!(
        decide(&o, &POLICY, Mode::Converge, false),
        Step::DisableLogin { user: B.into() }
    );
}

#[test]
fn a_current_credential_that_stopped_working_is_healed_by_a_rotation() {
    let mut o = steady();
    o.current_works = Some(false);
    assert_eq!(
        decide(&o, &POLICY, Mode::Converge, false),
        Step::AddPending { user: B.into() }
    );
}

#[test]
fn a_single_login_rotates_in_place_without_a_grace_period() {
    let mut o = steady();
    o.logins = vec![login("flyway_user", true, None)];
    o.current = Some(v(1, "flyway_user"));
    assert_eq!(
        decide(&o, &SINGLE, Mode::Now, false),
        Step::AddPending {
            user: "flyway_user".into()
        }
    );
    o.pending = Some(v(2, "flyway_user"));
    assert_eq!(
        decide(&o, &SINGLE, Mode::Now, false),
        Step::SetPassword {
            user: "flyway_user".into(),
            version: id(2)
        }
    );
    o.pending_works = true;
    assert_eq!(decide(&o, &SINGLE, Mode::Now, false), Step::Promote { version: id(2) });
}

#[test]
fn marks_are_whole_seconds_never_earlier_than_the_grace_period() {
    let mut o = steady();
    o.now = now() + Duration::milliseconds(1500);
    o.pending = Some(v(2, B));
    o.pending_works = true;
    let Step::MarkRetiring { until, .. } = decide(&o, &POLICY, Mode::Converge, false) else {
        panic!("expected a mark")
    };
    assert_eq!(until.nanosecond(), 0);
    assert!(until >= o.now + GRACE && until < o.now + GRACE + Duration::SECOND);
}

fn disabled(n: u64, superseded_days_ago: i64) -> DisabledVersion {
    DisabledVersion {
        version: id(n),
        superseded: Some(now() - Duration::days(superseded_days_ago)),
    }
}

#[test]
fn disabled_versions_beyond_the_newest_three_and_older_than_a_week_are_destroyed() {
    let mut o = steady();
    o.current = Some(v(9, A));
    // Eight disabled versions: 1-4 superseded long ago, 5-8 within the week.
    o.disabled_versions = (1..=8).map(|n| disabled(n, if n <= 4 { 60 } else { 6 })).collect();
    // 6, 7, 8 are the newest three; 5 is recent; 1-4 are old and beyond the count.
    assert_eq!(
        decide(&o, &POLICY, Mode::Converge, false),
        Step::DestroyVersions {
            versions: vec![id(1), id(2), id(3), id(4)]
        }
    );
    // Once they are gone, nothing else is due (5 waits for its week, 6-8 are kept).
    o.disabled_versions.drain(..4);
    assert_eq!(decide(&o, &POLICY, Mode::Converge, false), Step::Done);
    // A week later 5 goes too; the newest three stay however old they get.
    o.now = now() + Duration::days(2);
    assert_eq!(
        decide(&o, &POLICY, Mode::Converge, false),
        Step::DestroyVersions { versions: vec![id(5)] }
    );
    o.disabled_versions.remove(0);
    o.now = now() + Duration::days(400);
    assert_eq!(decide(&o, &POLICY, Mode::Converge, false), Step::Done);
}

#[test]
fn a_version_of_unknown_age_is_protected_only_by_the_count() {
    let mut o = steady();
    o.disabled_versions = vec![
        DisabledVersion {
            version: id(1),
            superseded: None,
        },
        disabled(2, 0),
    ];
    let keep_one = Policy {
        retention: Retention {
            keep_disabled: 1,
            destroy_after: Duration::days(7),
        },
        ..POLICY
    };
    assert_eq!(
        decide(&o, &keep_one, Mode::Converge, false),
        Step::DestroyVersions { versions: vec![id(1)] }
    );
    // Zero and zero destroy every disabled version at once.
    let none = Policy {
        retention: Retention {
            keep_disabled: 0,
            destroy_after: Duration::ZERO,
        },
        ..POLICY
    };
    assert_eq!(
        decide(&o, &none, Mode::Converge, false),
        Step::DestroyVersions {
            versions: vec![id(1), id(2)]
        }
    );
}

#[test]
fn destruction_waits_until_the_rotation_is_settled() {
    // During the grace period the old login still works and its version is enabled anyway;
    // history is pruned only after the old login is retired and stale versions are disabled.
    let none = Policy {
        retention: Retention {
            keep_disabled: 0,
            destroy_after: Duration::ZERO,
        },
        ..POLICY
    };
    let mut o = steady();
    o.current = Some(v(3, B));
    o.stale_versions = vec![id(2)];
    o.disabled_versions = vec![disabled(1, 30)];
    o.logins = vec![
        login(A, true, Some(now() + Duration::minutes(10))),
        login(B, true, None),
    ];
    assert!(matches!(decide(&o, &none, Mode::Converge, false), Step::Wait { .. }));
    o.logins = vec![login(A, false, None), login(B, true, None)];
    assert_eq!(
        decide(&o, &none, Mode::Converge, false),
        Step::DisableVersions { versions: vec![id(2)] }
    );
    o.stale_versions.clear();
    assert_eq!(
        decide(&o, &none, Mode::Converge, false),
        Step::DestroyVersions { versions: vec![id(1)] }
    );
    // A pending rotation comes first too.
    o.pending = Some(v(4, A));
    assert!(matches!(
        decide(&o, &none, Mode::Converge, false),
        Step::SetPassword { .. }
    ));
}
