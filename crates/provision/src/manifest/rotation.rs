//! How long a rotated-out login must stay valid: the rotation grace against everything that can still hold
//! or open a connection with it after the alias `current` moves.
//!
//! After `pccdb rotate` moves the alias, a pod keeps using the previous login until three things have
//! happened in turn: GKE's Secret Manager add-on re-syncs the mounted file (at most its rotation interval,
//! `gke.secret_sync_interval`), the service re-reads that file (at most `PCC_DB_CREDENTIALS_REFRESH_MS`),
//! and the pool replaces the connections it opened before (at most the pool's `max_lifetime`). The previous
//! login is disabled when the grace ends, so the grace must be longer than the sum, or a pod loses
//! connections (or cannot open new ones) in the middle of a rotation.

use crate::units::Millis;

/// `rotation.credentials_refresh` when unset: how often the service re-reads its credential, also the
/// service's own default for `PCC_DB_CREDENTIALS_REFRESH_MS` (the renderer sets the variable from the
/// manifest, so the pods run with the figure this rule checked).
pub const CREDENTIALS_REFRESH: Millis = Millis(30_000);

/// The add-on's rotation interval when `gke.secret_sync_interval` is not set.
pub const SECRET_SYNC_INTERVAL: Millis = Millis(120_000);

/// The figures a rotation grace must exceed, in one deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The longest `max_lifetime` of the service's pools there.
    pub max_lifetime: Millis,
    /// How long the mounted secret may lag the alias (0 where no add-on mounts it).
    pub secret_sync: Millis,
    /// How long the service may take to re-read the mounted secret.
    pub credential_refresh: Millis,
}

impl Window {
    /// The longest a pod can go on using the previous login after the alias moves.
    pub fn total(&self) -> Millis {
        Millis(self.max_lifetime.0 + self.secret_sync.0 + self.credential_refresh.0)
    }

    /// `Ok` when `grace` is longer than [`Window::total`]; otherwise the message naming the three figures.
    ///
    /// # Errors
    /// The reason, for the manifest's problem list.
    pub fn check(&self, grace: Millis) -> Result<(), String> {
        if grace > self.total() {
            return Ok(());
        }
        Err(format!(
            "rotation grace {grace} must be longer than pool max_lifetime {} + secret sync interval {} + credential refresh {} = {}: until then a pod may still use the login being disabled",
            self.max_lifetime,
            self.secret_sync,
            self.credential_refresh,
            self.total()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Window = Window {
        max_lifetime: Millis(1_800_000),
        secret_sync: Millis(120_000),
        credential_refresh: Millis(30_000),
    };

    #[test]
    fn the_grace_must_exceed_lifetime_sync_and_refresh_together() {
        assert_eq!(W.total(), Millis(1_950_000));
        assert!(W.check(Millis(1_950_001)).is_ok());
        assert!(W.check(Millis(65 * 60_000)).is_ok());
        // Equal is not enough: the last connection may be opened at the very end of the window.
        assert!(W.check(Millis(1_950_000)).is_err());
        // Longer than the lifetime alone (the former rule) but not than the sum.
        assert!(W.check(Millis(1_900_000)).is_err());
    }

    #[test]
    fn the_refusal_names_the_three_figures_and_their_sum() {
        let e = W.check(Millis(31 * 60_000)).unwrap_err();
        assert_eq!(
            e,
            "rotation grace 31min must be longer than pool max_lifetime 30min + secret sync interval 2min + credential refresh 30s = 1950s: until then a pod may still use the login being disabled"
        );
    }

    #[test]
    fn without_an_add_on_the_sync_interval_counts_nothing() {
        let local = Window {
            secret_sync: Millis(0),
            ..W
        };
        assert!(local.check(Millis(1_830_001)).is_ok());
        assert!(local.check(Millis(1_830_000)).is_err());
    }
}
