//! The repository: appends events through the mapper and loads an account
//! from its snapshot and the records after it, read through the upcasters.

use std::collections::HashMap;
use std::fmt;

use super::account::{AccountEvent, AccountState, evolve, initial_state};
use super::codec::DecodeError;
use super::mapper::{decode, encode};
use super::snapshot::{Snapshot, SnapshotRejected};
use super::store::{AppendError, EventStore, StreamId, Timestamp, Version};

/// What a load did with the stream's snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotUse {
    /// There was none.
    NoSnapshot,
    /// The load started from the snapshot at `version`, written in `schema`
    /// (upcast first if that is not the current schema).
    Used {
        /// The stream version of the snapshot.
        version: Version,
        /// The schema it was stored in.
        schema: u32,
    },
    /// The snapshot could not be used, so the whole stream was replayed.
    Discarded {
        /// The stream version of the snapshot.
        version: Version,
        /// Why.
        reason: SnapshotRejected,
    },
}

/// An account as loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The state at `version`.
    pub state: AccountState,
    /// The stream version: the number of stored records, which is what an
    /// append's expected version is checked against. An upcast that turns one
    /// record into two events does not change it.
    pub version: Version,
    /// Whether a snapshot was used.
    pub snapshot: SnapshotUse,
}

/// Why an account could not be loaded: one of its records does not decode.
/// A record that cannot be read is never skipped, since the state without it
/// would be wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// The record at `version` of `stream` does not decode.
    Undecodable {
        /// The stream.
        stream: StreamId,
        /// The record's version in it.
        version: Version,
        /// What is wrong with it.
        error: DecodeError,
    },
}

/// Account events stored as records, and their snapshots.
#[derive(Debug, Default)]
pub struct AccountRepository {
    /// The records: the only source of truth, append-only.
    pub store: EventStore,
    /// The latest snapshot of each stream: a cache.
    pub snapshots: HashMap<StreamId, Snapshot>,
}

impl AccountRepository {
    /// An empty repository.
    pub fn new() -> Self {
        Self::default()
    }

    /// Encodes `events` in the current schema and appends them to `stream`
    /// if it is still at `expected`; returns the new version.
    ///
    /// # Errors
    ///
    /// [`AppendError::VersionConflict`] when the stream moved on.
    pub fn append(
        &mut self,
        stream: &StreamId,
        expected: Version,
        events: &[AccountEvent],
        recorded_at: Timestamp,
    ) -> Result<Version, AppendError> {
        let records = events.iter().map(encode).collect();
        self.store.append(stream, expected, records, recorded_at)
    }

    // ANCHOR: load
    /// Every event of `stream` after version `after`, as the current code
    /// understands them: each record decoded and upcast, in order.
    ///
    /// # Errors
    ///
    /// [`LoadError::Undecodable`] naming the first record that does not decode.
    pub fn events_after(
        &self,
        stream: &StreamId,
        after: Version,
    ) -> Result<Vec<AccountEvent>, LoadError> {
        let mut events = Vec::new();
        for recorded in self.store.read_stream_after(stream, after) {
            let decoded = decode(&recorded.record).map_err(|error| LoadError::Undecodable {
                stream: stream.clone(),
                version: recorded.version,
                error,
            })?;
            events.extend(decoded);
        }
        Ok(events)
    }

    /// The current state of `stream`, folded from every record, ignoring the
    /// snapshot: the reference a snapshot load must agree with.
    ///
    /// # Errors
    ///
    /// [`LoadError::Undecodable`] as for [`AccountRepository::events_after`].
    pub fn replay(&self, stream: &StreamId) -> Result<Loaded, LoadError> {
        self.fold_from(stream, initial_state(), Version(0), SnapshotUse::NoSnapshot)
    }

    /// The current state of `stream`: its snapshot, restored (and upcast if
    /// it is in the previous schema), plus the records after it; or all the
    /// records when the snapshot is missing or cannot be used.
    ///
    /// # Errors
    ///
    /// [`LoadError::Undecodable`] as for [`AccountRepository::events_after`].
    pub fn load(&self, stream: &StreamId) -> Result<Loaded, LoadError> {
        let Some(snapshot) = self.snapshots.get(stream) else {
            return self.replay(stream);
        };
        let version = snapshot.version;
        let stream_version = self.store.stream_version(stream);
        let restored = if version > stream_version {
            Err(SnapshotRejected::AheadOfStream { stream_version })
        } else {
            snapshot.restore()
        };
        match restored {
            Ok(state) => {
                let schema = snapshot.schema;
                self.fold_from(
                    stream,
                    state,
                    version,
                    SnapshotUse::Used { version, schema },
                )
            }
            Err(reason) => {
                let used = SnapshotUse::Discarded { version, reason };
                self.fold_from(stream, initial_state(), Version(0), used)
            }
        }
    }

    fn fold_from(
        &self,
        stream: &StreamId,
        state: AccountState,
        after: Version,
        snapshot: SnapshotUse,
    ) -> Result<Loaded, LoadError> {
        let events = self.events_after(stream, after)?;
        Ok(Loaded {
            state: events.iter().fold(state, evolve),
            version: self.store.stream_version(stream),
            snapshot,
        })
    }
    // ANCHOR_END: load

    /// Replaces the snapshot of `stream` with one of its current state, in
    /// the current schema, and returns its version. An empty stream gets none.
    ///
    /// # Errors
    ///
    /// [`LoadError::Undecodable`] as for [`AccountRepository::events_after`].
    pub fn snapshot_now(&mut self, stream: &StreamId) -> Result<Version, LoadError> {
        let loaded = self.load(stream)?;
        if loaded.version > Version(0) {
            let snapshot = Snapshot::of(&loaded.state, loaded.version);
            self.snapshots.insert(stream.clone(), snapshot);
        }
        Ok(loaded.version)
    }
}

impl fmt::Display for SnapshotUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotUse::NoSnapshot => f.write_str("no snapshot"),
            SnapshotUse::Used { version, schema } => {
                write!(f, "from the schema {schema} snapshot at {version}")
            }
            SnapshotUse::Discarded { version, reason } => {
                write!(f, "snapshot at {version} discarded: {reason}")
            }
        }
    }
}

impl fmt::Display for Loaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {} ({})", self.state, self.version, self.snapshot)
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Undecodable {
                stream,
                version,
                error,
            } => write!(f, "record {version} of {stream} does not decode: {error}"),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Undecodable { error, .. } => Some(error),
        }
    }
}
