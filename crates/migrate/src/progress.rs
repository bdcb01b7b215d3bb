//! Progress of a running command, for callers that show it (a progress bar, logs). The engine
//! never prints; it reports here.

use std::time::Duration;

/// Something that happened while a command ran.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// Another run holds the migration lock; waiting for it.
    WaitingForLock {
        /// Who holds it (may be empty).
        holder: &'a str,
    },
    /// The plan is made: this many migrations will be applied.
    Planned {
        /// Number of migrations.
        total: usize,
    },
    /// A migration starts.
    Started {
        /// 0-based position in the plan.
        index: usize,
        /// `version 2 (V2__x.sql)`.
        label: &'a str,
    },
    /// A migration is applied and recorded.
    Finished {
        /// 0-based position in the plan.
        index: usize,
        /// `version 2 (V2__x.sql)`.
        label: &'a str,
        /// How long it took.
        duration: Duration,
    },
}

/// Receives [`Progress`].
pub trait Observer: Sync {
    /// Called for every progress event.
    fn progress(&self, event: Progress<'_>);
}

/// Ignores progress.
impl Observer for () {
    fn progress(&self, _: Progress<'_>) {}
}
