//! Exercises for lesson 9 — snapshots.
//!
//! Each function below is a stub. Replace the `todo!()` at each `// TODO:` and
//! check your work with `cargo test --test l09_snapshots -- --ignored`.

use std::collections::BTreeMap;

use crate::l09_snapshots::{
    AccountRepository, AccountState, Loaded, SnapshotRejected, StreamId, Timestamp, Version,
};

// Used by the solutions, not yet by the stubs.
#[allow(unused_imports)]
use crate::l09_snapshots::{Snapshot, SnapshotUse, evolve, initial_state};

/// Exercise 9.1: loads `stream` like [`AccountRepository::load`], and if the
/// load had to replay more than `max_tail` events (a tail of exactly
/// `max_tail` is fine), saves a snapshot of the loaded state at the loaded
/// version, so the next load is short. Returns what the load found (before
/// the new snapshot).
pub fn load_and_snapshot_long_tails(
    repo: &mut AccountRepository,
    stream: &StreamId,
    max_tail: u64,
) -> Loaded {
    // TODO: load, and snapshot when the load was too long.
    let _ = (repo, stream, max_tail);
    todo!("exercise 9.1: snapshot on load when the tail is long")
}

/// Exercise 9.2: the state of `stream` as it was recorded at time `at`: the
/// fold of its events recorded at or before `at`, loaded through
/// [`AccountRepository::load_as_of`] so that it may start from a snapshot.
/// Every event recorded at `at` itself counts, however many share that time.
/// The store refuses a recorded time earlier than the stream's last
/// ([`AppendError::ClockWentBackwards`](crate::l09_snapshots::AppendError::ClockWentBackwards)),
/// so a stream's recorded times never go backwards.
pub fn load_as_of_time(repo: &AccountRepository, stream: &StreamId, at: Timestamp) -> Loaded {
    // TODO: load the account as it was recorded at `at`.
    let _ = (repo, stream, at);
    todo!("exercise 9.2: an as-of query by recorded time")
}

/// Exercise 9.3: loads `stream` from the newest snapshot that can be
/// restored, trying older ones when newer ones are rejected, and replays the
/// whole stream only when none is usable. When snapshots existed but none
/// could be used, report the newest of them as [`SnapshotUse::Discarded`].
/// Snapshots ahead of the stream are skipped.
pub fn load_with_fallback(repo: &AccountRepository, stream: &StreamId) -> Loaded {
    // TODO: find the newest snapshot that restores.
    let _ = (repo, stream);
    todo!("exercise 9.3: fall back to an older usable snapshot")
}

/// What the audit of exercise 9.4 found about one stored snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotCheck {
    /// The snapshot holds exactly the fold of the events up to its version.
    Matches,
    /// The snapshot restores, but to another state than the events give.
    Differs {
        /// What the snapshot says.
        snapshot: AccountState,
        /// What folding the events says.
        replayed: AccountState,
    },
    /// The snapshot cannot be restored by this code.
    Unusable(SnapshotRejected),
    /// The snapshot claims a version the stream has not reached.
    AheadOfStream,
}

/// Exercise 9.4: checks every stored snapshot of `stream` against the events.
/// The reference solution folds the stream once, not once per snapshot.
pub fn audit_snapshots(
    repo: &AccountRepository,
    stream: &StreamId,
) -> BTreeMap<Version, SnapshotCheck> {
    // TODO: compare each snapshot with the fold of the events up to its version.
    let _ = (repo, stream);
    todo!("exercise 9.4: audit every snapshot against the events")
}
