//! Reference solutions for the lesson 9 exercises.

use std::collections::BTreeMap;

use crate::l09_snapshots::{
    AccountRepository, AccountState, Loaded, Snapshot, SnapshotRejected, SnapshotUse, StreamId,
    Timestamp, Version, evolve, initial_state,
};

/// Exercise 9.1: load, and snapshot when the tail was long.
pub fn load_and_snapshot_long_tails(
    repo: &mut AccountRepository,
    stream: &StreamId,
    max_tail: u64,
) -> Loaded {
    // Snapshotting on read is what Axon's event-count trigger and Protean's
    // threshold do: the cost that matters is the tail a load really replays,
    // and the loader is the one that sees it. The alternative in this lesson,
    // snapshotting on write (`SnapshotPolicy`), also snapshots streams that
    // are never read again. Either way the snapshot is of a state that was
    // just folded from the store, labelled with the version it is the fold
    // of, so it cannot be stale.
    let loaded = repo.load(stream);
    if loaded.events_replayed > max_tail {
        repo.snapshots
            .save(stream, Snapshot::of(&loaded.state, loaded.version));
    }
    loaded
}

/// Exercise 9.2: an as-of query by recorded time.
pub fn load_as_of_time(repo: &AccountRepository, stream: &StreamId, at: Timestamp) -> Loaded {
    // The store refuses a time earlier than the stream's last, so times never
    // go backwards within a stream, "recorded at or before `at`" is a prefix,
    // and a binary search finds its end. `partition_point` finds the end of
    // the prefix even when several events share the time `at`; a
    // `binary_search` for `at` may land on any one of them. Here the stream is a
    // slice in memory; a database would keep an index on (stream,
    // recorded_at) and find the version in O(log n) the same way. Turning the
    // time into a version first is what keeps the snapshot rule in one place:
    // `load_as_of` never starts from a snapshot past that version.
    let events = repo.store.read_stream(stream);
    let count = events.partition_point(|recorded| recorded.recorded_at <= at);
    repo.load_as_of(stream, Version(count as u64))
}

/// Exercise 9.3: fall back to an older usable snapshot.
pub fn load_with_fallback(repo: &AccountRepository, stream: &StreamId) -> Loaded {
    // After a schema change every old snapshot is rejected, so walking them
    // all only wastes decodes; that is why the lesson's loader gives up after
    // the newest one. Falling back pays off when snapshots fail one at a time
    // (a damaged payload). Either way the answer is the same state: law 6.
    let current = repo.store.stream_version(stream);
    let mut first_rejection = None;
    for snapshot in repo.snapshots.snapshots_of(stream).into_iter().rev() {
        if snapshot.version > current {
            continue;
        }
        match snapshot.restore() {
            Ok(state) => {
                let tail = repo
                    .store
                    .read_stream_range(stream, snapshot.version, current);
                return Loaded {
                    state: tail.iter().fold(state, |s, r| evolve(s, &r.event)),
                    version: current,
                    snapshot: SnapshotUse::Used(snapshot.version),
                    events_replayed: tail.len() as u64,
                };
            }
            Err(reason) => {
                first_rejection.get_or_insert((snapshot.version, reason));
            }
        }
    }
    let replayed = repo.replay(stream);
    match first_rejection {
        Some((version, reason)) => Loaded {
            snapshot: SnapshotUse::Discarded { version, reason },
            ..replayed
        },
        None => replayed,
    }
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

/// Exercise 9.4: audit every snapshot against the events in one pass.
pub fn audit_snapshots(
    repo: &AccountRepository,
    stream: &StreamId,
) -> BTreeMap<Version, SnapshotCheck> {
    // Snapshots come oldest first and the stream is folded once, so the cost
    // is O(events + snapshots). Calling `load_as_of` per snapshot with the
    // snapshots ignored would be O(events × snapshots). Production systems run
    // such a check in the background after a deploy, or compare a sample of
    // snapshot loads with full replays.
    let snapshots = repo.snapshots.snapshots_of(stream);
    let events = repo.store.read_stream(stream);
    let mut state = initial_state();
    let mut folded = 0usize;
    let mut report = BTreeMap::new();
    for snapshot in snapshots {
        let target = usize::try_from(snapshot.version.0).unwrap_or(usize::MAX);
        if target > events.len() {
            report.insert(snapshot.version, SnapshotCheck::AheadOfStream);
            continue;
        }
        for recorded in &events[folded..target] {
            state = evolve(state, &recorded.event);
        }
        folded = target;
        let check = match snapshot.restore() {
            Ok(restored) if restored == state => SnapshotCheck::Matches,
            Ok(restored) => SnapshotCheck::Differs {
                snapshot: restored,
                replayed: state,
            },
            Err(reason) => SnapshotCheck::Unusable(reason),
        };
        report.insert(snapshot.version, check);
    }
    report
}
