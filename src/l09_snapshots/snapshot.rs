//! Snapshots: the state of a stream at a version, encoded with a schema
//! version, kept in a store of their own, and taken by a policy.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use super::account::{AccountState, Cents};
use super::store::{StreamId, Version};

// ANCHOR: snapshot
/// The schema of the snapshot payloads this code writes and can read. Change
/// it whenever the meaning of the payload changes, even if the text still
/// parses: a snapshot with any other schema is thrown away, never trusted.
pub const SNAPSHOT_SCHEMA: u32 = 1;

/// A cached state: what folding the first `version` events of a stream gave,
/// encoded by the code whose schema is `schema`. The events stay the truth; a
/// snapshot only saves replaying them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The stream version the state is the fold of.
    pub version: Version,
    /// The schema of `payload`.
    pub schema: u32,
    /// The state, encoded as text.
    pub payload: String,
}

/// Why a stored snapshot cannot be used. Never an error to the caller of a
/// load: it only means the state is rebuilt from events instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotRejected {
    /// Written by code with another payload schema.
    SchemaMismatch {
        /// The schema the snapshot was written with.
        found: u32,
        /// The schema this code reads ([`SNAPSHOT_SCHEMA`]).
        expected: u32,
    },
    /// The schema matches but the payload does not decode.
    Undecodable {
        /// The payload as stored.
        payload: String,
    },
}

impl Snapshot {
    /// A snapshot of `state` at `version`, in the current schema.
    pub fn of(state: &AccountState, version: Version) -> Snapshot {
        Snapshot {
            version,
            schema: SNAPSHOT_SCHEMA,
            payload: encode_state(state),
        }
    }

    /// The state this snapshot holds, if this code can trust it.
    ///
    /// # Errors
    ///
    /// [`SnapshotRejected::SchemaMismatch`] when the snapshot was written with
    /// another schema, checked before anything is decoded, and
    /// [`SnapshotRejected::Undecodable`] when its payload does not decode.
    pub fn restore(&self) -> Result<AccountState, SnapshotRejected> {
        if self.schema != SNAPSHOT_SCHEMA {
            return Err(SnapshotRejected::SchemaMismatch {
                found: self.schema,
                expected: SNAPSHOT_SCHEMA,
            });
        }
        decode_state(&self.payload)
    }
}
// ANCHOR_END: snapshot

// ANCHOR: codec
/// Encodes a state in schema 1: `not-opened`, `open:<balance in cents>` or
/// `closed`.
pub fn encode_state(state: &AccountState) -> String {
    match state {
        AccountState::NotOpened => "not-opened".to_string(),
        AccountState::Open { balance } => format!("open:{}", balance.0),
        AccountState::Closed => "closed".to_string(),
    }
}

/// Decodes a schema 1 payload. Strict: anything [`encode_state`] would not
/// write is refused rather than guessed at.
///
/// # Errors
///
/// [`SnapshotRejected::Undecodable`] for any other text, including a balance
/// with signs, spaces or more digits than a `u64` holds.
pub fn decode_state(payload: &str) -> Result<AccountState, SnapshotRejected> {
    let undecodable = || SnapshotRejected::Undecodable {
        payload: payload.to_string(),
    };
    match payload {
        "not-opened" => Ok(AccountState::NotOpened),
        "closed" => Ok(AccountState::Closed),
        _ => {
            let digits = payload.strip_prefix("open:").ok_or_else(undecodable)?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(undecodable());
            }
            let cents = digits.parse().map_err(|_| undecodable())?;
            Ok(AccountState::Open {
                balance: Cents(cents),
            })
        }
    }
}
// ANCHOR_END: codec

// ANCHOR: snapshot_store
/// Snapshots kept apart from the events, per stream, ordered by version.
///
/// Keeping more than the latest lets an as-of query start from the newest
/// snapshot that is not newer than the version it asks for.
#[derive(Debug, Default)]
pub struct SnapshotStore {
    by_stream: HashMap<StreamId, BTreeMap<Version, Snapshot>>,
}

impl SnapshotStore {
    /// An empty snapshot store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Saves `snapshot` for `stream`, replacing any snapshot at the same
    /// version.
    pub fn save(&mut self, stream: &StreamId, snapshot: Snapshot) {
        self.by_stream
            .entry(stream.clone())
            .or_default()
            .insert(snapshot.version, snapshot);
    }

    /// The newest snapshot of `stream`.
    pub fn latest(&self, stream: &StreamId) -> Option<&Snapshot> {
        self.latest_at_or_below(stream, Version(u64::MAX))
    }

    /// The newest snapshot of `stream` whose version is at most `version`:
    /// one step down an ordered map, whatever the number of snapshots.
    pub fn latest_at_or_below(&self, stream: &StreamId, version: Version) -> Option<&Snapshot> {
        let snapshots = self.by_stream.get(stream)?;
        snapshots
            .range(..=version)
            .next_back()
            .map(|(_, snapshot)| snapshot)
    }

    /// Every snapshot of `stream`, oldest first.
    pub fn snapshots_of(&self, stream: &StreamId) -> Vec<&Snapshot> {
        self.by_stream
            .get(stream)
            .map_or_else(Vec::new, |snapshots| snapshots.values().collect())
    }

    /// Removes the snapshot of `stream` at `version` and returns it. Always
    /// safe: a snapshot is a cache, and the events can rebuild it.
    pub fn remove(&mut self, stream: &StreamId, version: Version) -> Option<Snapshot> {
        self.by_stream.get_mut(stream)?.remove(&version)
    }
}
// ANCHOR_END: snapshot_store

// ANCHOR: policy
/// When the repository takes a snapshot after an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotPolicy {
    /// Never; loads always replay the whole stream.
    Never,
    /// Each time the stream reaches or passes a multiple of this many events.
    /// `Every(0)` behaves like `Never`.
    Every(u64),
}

impl SnapshotPolicy {
    /// Whether an append that moved a stream from `before` to `after` is due
    /// a snapshot. It asks "did we cross a multiple of n?", not "is `after` a
    /// multiple of n?": an append of several events can jump over the
    /// multiple, and the second question would then never snapshot.
    pub fn due(self, before: Version, after: Version) -> bool {
        match self {
            SnapshotPolicy::Never | SnapshotPolicy::Every(0) => false,
            SnapshotPolicy::Every(n) => after.0 / n > before.0 / n,
        }
    }
}
// ANCHOR_END: policy

impl fmt::Display for SnapshotRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotRejected::SchemaMismatch { found, expected } => {
                write!(f, "schema {found}, this code reads schema {expected}")
            }
            SnapshotRejected::Undecodable { payload } => {
                write!(f, "payload {payload:?} does not decode")
            }
        }
    }
}

impl std::error::Error for SnapshotRejected {}
