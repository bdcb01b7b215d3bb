//! The pure heart of `info`, `validate` and `migrate`: history rows + resolved files -> one
//! [`MigrationInfo`] per migration with Flyway's state, in Flyway's order.
//!
//! Follows flyway-core's `MigrationInfoServiceImpl.refresh` and the `getState` methods of
//! `ResolvedMigration`, `BaselineResolvedMigration`, `BaseAppliedMigration` and
//! `BaselineAppliedMigration`: rows and files are matched by (version, type) or by description;
//! `DELETE` rows written by `repair` mark the latest earlier run as Deleted; the latest applied
//! version, the applied/pending baseline and the target decide the state of every file not applied.

use std::collections::{HashMap, HashSet};

use super::{InfoOptions, Limit, MigrationInfo, MigrationInfos, PlanError};
use crate::model::{AppliedMigration, HistoryType, MigrationState, ResolvedMigration};
use crate::name::MigrationKind;
use crate::version::{MigrationVersion, Target};

/// Facts about the whole set that the state of each migration depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InfoContext {
    /// Highest version among history rows (not deleted), in rank order.
    pub last_applied: Option<MigrationVersion>,
    /// Highest version among the files.
    pub last_resolved: Option<MigrationVersion>,
    /// Highest version of a BASELINE or SQL_BASELINE row.
    pub applied_baseline: Option<MigrationVersion>,
    /// Highest version of a baseline migration file not yet applied (within the target).
    pub pending_baseline: Option<MigrationVersion>,
    /// The effective target.
    pub limit: Limit,
    latest_repeatable_runs: HashMap<String, i32>,
}

#[derive(Default, Clone, Copy)]
struct Attrs {
    out_of_order: bool,
    deleted: bool,
}

fn newer(a: Option<&MigrationVersion>, b: &MigrationVersion) -> bool {
    a.is_none_or(|a| b > a)
}

fn mark_deleted(
    rows: &mut [(usize, Attrs)],
    applied: &[AppliedMigration],
    hit: impl Fn(&AppliedMigration) -> bool,
) -> Result<(), PlanError> {
    if let Some((i, attrs)) = rows
        .iter_mut()
        .rev()
        .find(|(i, _)| !applied[*i].kind.is_synthetic() && hit(&applied[*i]))
    {
        if attrs.deleted {
            let a = &applied[*i];
            let what = a
                .version
                .as_ref()
                .map_or_else(|| a.description.clone(), ToString::to_string);
            return Err(PlanError::CorruptHistory(format!("multiple delete entries for {what}")));
        }
        attrs.deleted = true;
    }
    Ok(())
}

/// Computes the info of every migration.
///
/// # Errors
/// [`PlanError::CorruptHistory`] for two DELETE rows for one run; [`PlanError::TargetNotFound`]
/// when the target version exists neither in the history nor on disk (unless it ends with `?`).
pub fn compute(
    applied: &[AppliedMigration],
    resolved: &[ResolvedMigration],
    options: &InfoOptions,
) -> Result<MigrationInfos, PlanError> {
    let mut by_version: HashMap<(MigrationVersion, HistoryType), usize> = HashMap::new();
    let mut by_description: HashMap<&str, usize> = HashMap::new();
    let mut undo_versions: HashSet<&MigrationVersion> = HashSet::new();
    let mut ctx = InfoContext::default();
    for (i, r) in resolved.iter().enumerate() {
        match (&r.version, r.kind) {
            (Some(v), MigrationKind::Undo) => {
                undo_versions.insert(v);
            }
            (Some(v), _) => {
                if newer(ctx.last_resolved.as_ref(), v) {
                    ctx.last_resolved = Some(v.clone());
                }
                by_version.insert((v.clone(), r.history_type()), i);
            }
            (None, _) => {
                by_description.insert(&r.description, i);
            }
        }
    }

    let mut order: Vec<usize> = (0..applied.len()).collect();
    order.sort_by_key(|i| applied[*i].installed_rank);
    let (mut versioned, mut repeatable) = (Vec::new(), Vec::new());
    for i in order {
        let a = &applied[i];
        let delete = a.kind == HistoryType::Delete && a.success;
        match &a.version {
            Some(v) => {
                if a.kind.is_baseline() && newer(ctx.applied_baseline.as_ref(), v) {
                    ctx.applied_baseline = Some(v.clone());
                }
                if delete {
                    mark_deleted(&mut versioned, applied, |x| x.version.as_ref() == Some(v))?;
                } else if a.kind != HistoryType::Delete {
                    versioned.push((i, Attrs::default()));
                }
            }
            None if delete => mark_deleted(&mut repeatable, applied, |x| {
                x.version.is_none() && x.description == a.description
            })?,
            None if a.kind == HistoryType::Delete => {}
            None => repeatable.push((i, Attrs::default())),
        }
    }
    for (i, attrs) in &mut versioned {
        let v = applied[*i].version.as_ref().expect("versioned rows have a version");
        if newer(ctx.last_applied.as_ref(), v) {
            if !attrs.deleted {
                ctx.last_applied = Some(v.clone());
            }
        } else {
            attrs.out_of_order = true;
        }
    }
    ctx.limit = match &options.target {
        Target::Latest | Target::Next => Limit::Latest,
        Target::Current => Limit::UpTo(ctx.last_applied.clone()),
        Target::Version { version, .. } => Limit::UpTo(Some(version.clone())),
    };
    for (i, a) in repeatable.iter().map(|(i, _)| (*i, &applied[*i])) {
        let latest = ctx
            .latest_repeatable_runs
            .entry(a.description.clone())
            .or_insert(a.installed_rank);
        *latest = (*latest).max(applied[i].installed_rank);
    }

    let lookup = |a: &AppliedMigration| match &a.version {
        Some(v) => by_version.get(&(v.clone(), a.kind.clone())).copied(),
        None => by_description.get(a.description.as_str()).copied(),
    };
    let mut applied_infos: Vec<(usize, Attrs, Option<usize>)> = versioned
        .iter()
        .chain(&repeatable)
        .map(|(i, attrs)| (*i, *attrs, lookup(&applied[*i])))
        .collect();
    applied_infos.sort_by_key(|(i, _, _)| applied[*i].installed_rank);

    let taken: HashSet<usize> = applied_infos
        .iter()
        .filter(|(i, attrs, r)| {
            let a = &applied[*i];
            !attrs.deleted
                && match (r, &a.version) {
                    (Some(_), Some(_)) => true,
                    (Some(r), None) => {
                        ctx.latest_repeatable_runs.get(&a.description) == Some(&a.installed_rank)
                            && resolved[*r].checksum_matches(a.checksum)
                    }
                    (None, _) => false,
                }
        })
        .filter_map(|(_, _, r)| *r)
        .collect();
    // Files without a row of their own; undo files are listed too (Available), never applied.
    let mut pending: Vec<usize> = (0..resolved.len()).filter(|i| !taken.contains(i)).collect();
    pending.sort_by(|a, b| resolved_order(&resolved[*a], &resolved[*b]));
    ctx.pending_baseline = pending
        .iter()
        .map(|i| &resolved[*i])
        .filter(|r| r.kind == MigrationKind::Baseline && r.version.as_ref().is_some_and(|v| ctx.limit.allows(v)))
        .filter_map(|r| r.version.clone())
        .max();

    if let Target::Version {
        version,
        fail_on_missing: true,
    } = &options.target
    {
        let known = applied
            .iter()
            .filter_map(|a| a.version.as_ref())
            .chain(resolved.iter().filter_map(|r| r.version.as_ref()));
        if !known.into_iter().any(|v| v == version) {
            return Err(PlanError::TargetNotFound(version.clone()));
        }
    }

    let states = |ctx: &InfoContext| -> Vec<MigrationInfo> {
        let mut out: Vec<MigrationInfo> = applied_infos
            .iter()
            .map(|(i, attrs, r)| {
                let state = applied_state(&applied[*i], *attrs, r.map(|r| &resolved[r]), ctx);
                MigrationInfo::from_applied(&applied[*i], *r, *i, state, &undo_versions)
            })
            .collect();
        out.extend(pending.iter().map(|r| {
            MigrationInfo::from_resolved(
                &resolved[*r],
                *r,
                resolved_state(&resolved[*r], ctx, options.out_of_order),
                &undo_versions,
            )
        }));
        out
    };
    let mut infos = states(&ctx);
    if options.target == Target::Next {
        let next = infos
            .iter()
            .filter(|m| m.state == MigrationState::Pending)
            .find_map(|m| m.version.clone());
        if next.is_some() {
            ctx.limit = Limit::UpTo(next);
            infos = states(&ctx);
        }
    }
    Ok(MigrationInfos {
        infos: flyway_order(infos),
        context: ctx,
    })
}

fn resolved_order(a: &ResolvedMigration, b: &ResolvedMigration) -> std::cmp::Ordering {
    match (&a.version, &b.version) {
        (Some(x), Some(y)) => x.cmp(y).then(a.kind.cmp(&b.kind)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.description.cmp(&b.description),
    }
}

fn resolved_state(r: &ResolvedMigration, ctx: &InfoContext, out_of_order: bool) -> MigrationState {
    let Some(v) = &r.version else {
        return MigrationState::Pending;
    };
    if r.kind == MigrationKind::Undo {
        // Flyway Teams would run it on `undo`; here it only tells that an undo exists.
        return if ctx.limit.allows(v) {
            MigrationState::Available
        } else {
            MigrationState::AboveTarget
        };
    }
    let baseline = if ctx.last_applied.is_none() {
        &ctx.pending_baseline
    } else {
        &ctx.applied_baseline
    };
    let mut state = match baseline {
        Some(b) if v < b => MigrationState::BelowBaseline,
        Some(b) if v == b => MigrationState::BaselineIgnored,
        _ if !ctx.limit.allows(v) => MigrationState::AboveTarget,
        _ if ctx.last_applied.as_ref().is_some_and(|l| v < l) && !out_of_order => MigrationState::Ignored,
        _ => MigrationState::Pending,
    };
    if r.kind == MigrationKind::Baseline {
        // A baseline migration only ever runs first, on a history with nothing applied.
        let started = ctx.applied_baseline.is_some() || ctx.last_applied.is_some();
        if state == MigrationState::Pending && started {
            state = MigrationState::Ignored;
        } else if state == MigrationState::BaselineIgnored && ctx.pending_baseline.as_ref() == Some(v) && !started {
            state = MigrationState::Pending;
        }
    }
    state
}

fn applied_state(
    a: &AppliedMigration,
    attrs: Attrs,
    r: Option<&ResolvedMigration>,
    ctx: &InfoContext,
) -> MigrationState {
    use MigrationState as S;
    if attrs.deleted {
        return S::Deleted;
    }
    let missing = |success: bool| match &a.version {
        Some(v) if ctx.last_resolved.as_ref().is_some_and(|l| v < l) => {
            if success {
                S::MissingSuccess
            } else {
                S::MissingFailed
            }
        }
        Some(_) => {
            if success {
                S::FutureSuccess
            } else {
                S::FutureFailed
            }
        }
        None => {
            if success {
                S::MissingSuccess
            } else {
                S::MissingFailed
            }
        }
    };
    let latest = ctx.latest_repeatable_runs.get(&a.description) == Some(&a.installed_rank);
    match a.kind {
        HistoryType::Schema => return S::Success,
        HistoryType::Baseline => return S::Baseline,
        HistoryType::SqlBaseline if !a.success => return S::Failed,
        HistoryType::SqlBaseline if r.is_none() => return missing(true),
        HistoryType::SqlBaseline => return S::Baseline,
        _ => {}
    }
    if r.is_none() && (a.version.is_some() || latest) {
        return missing(a.success);
    }
    if !a.success {
        return S::Failed;
    }
    if a.version.is_none() {
        return match r {
            Some(r) if latest && r.checksum_matches(a.checksum) => S::Success,
            _ if latest => S::Outdated,
            _ => S::Superseded,
        };
    }
    if attrs.out_of_order { S::OutOfOrder } else { S::Success }
}

/// Flyway's `MigrationInfoImpl.compareTo`, made total: files the baseline covers first (by
/// version), then history rows by rank, then every other file by version (an Ignored file too:
/// Flyway sorts "installed before pending"), repeatables last.
fn flyway_order(infos: Vec<MigrationInfo>) -> Vec<MigrationInfo> {
    let (mut applied, rest): (Vec<_>, Vec<_>) = infos.into_iter().partition(|m| m.installed_rank.is_some());
    applied.sort_by_key(|m| m.installed_rank);
    let (below, rest): (Vec<_>, Vec<_>) = rest
        .into_iter()
        .partition(|m| matches!(m.state, MigrationState::BelowBaseline | MigrationState::BaselineIgnored));
    below.into_iter().chain(applied).chain(rest).collect()
}
