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
        /// What is wrong with it.
        error: DecodeError,
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
        decode_state(&self.payload).map_err(|error| SnapshotRejected::Undecodable {
            payload: self.payload.clone(),
            error,
        })
    }
}
// ANCHOR_END: snapshot

// ANCHOR: codec
/// Encodes a state in schema 1: `not-opened`, `closed`, or `open:` followed
/// by the balance in cents as [`u64`] `Display` writes it.
pub fn encode_state(state: &AccountState) -> String {
    match state {
        AccountState::NotOpened => NOT_OPENED.to_string(),
        AccountState::Open { balance } => format!("{OPEN}{}", balance.0),
        AccountState::Closed => CLOSED.to_string(),
    }
}

const NOT_OPENED: &str = "not-opened";
const CLOSED: &str = "closed";
const OPEN: &str = "open:";

/// Decodes a schema 1 payload, accepting exactly what [`encode_state`]
/// writes: `not-opened`, `closed`, or `open:` followed by the balance in
/// canonical decimal, that is one or more ASCII digits, without a leading
/// zero unless the balance is `0`, and at most `18446744073709551615`. No
/// sign, no space, nothing before or after. So `decode_state(p)` is
/// `Ok(state)` exactly when `encode_state(&state) == p`.
///
/// # Errors
///
/// A [`DecodeError`] naming the first thing wrong with `payload`.
pub fn decode_state(payload: &str) -> Result<AccountState, DecodeError> {
    match payload {
        "" => Err(DecodeError::Empty),
        NOT_OPENED => Ok(AccountState::NotOpened),
        CLOSED => Ok(AccountState::Closed),
        _ => {
            let digits = payload
                .strip_prefix(OPEN)
                .ok_or(DecodeError::UnknownState)?;
            let cents = decode_balance(digits)?;
            Ok(AccountState::Open {
                balance: Cents(cents),
            })
        }
    }
}

fn decode_balance(digits: &str) -> Result<u64, DecodeError> {
    if let Some(at) = digits.bytes().position(|b| !b.is_ascii_digit()) {
        return Err(DecodeError::NotADigit {
            offset: OPEN.len() + at,
        });
    }
    if digits.is_empty() {
        return Err(DecodeError::MissingBalance);
    }
    // `u64::from_str` would take `007` and `+7`, which encode never writes.
    if digits.len() > 1 && digits.starts_with('0') {
        return Err(DecodeError::LeadingZero);
    }
    digits
        .bytes()
        .try_fold(0u64, |n, b| {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        })
        .ok_or(DecodeError::Overflow)
}

/// What is wrong with a payload that is not one [`encode_state`] writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The payload is empty.
    Empty,
    /// The payload is neither `not-opened` nor `closed`, and does not start
    /// with `open:`.
    UnknownState,
    /// `open:` with no balance after it.
    MissingBalance,
    /// The byte at `offset` in the payload is not a decimal digit: a sign, a
    /// space, a point, a letter, or anything after the balance.
    NotADigit {
        /// Where the byte is, counted in bytes from the start of the payload.
        offset: usize,
    },
    /// The balance starts with a `0` but is not `0` itself, as in `open:007`.
    LeadingZero,
    /// The balance is larger than a `u64` holds.
    Overflow,
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
            SnapshotRejected::Undecodable { payload, error } => {
                write!(f, "payload {payload:?} does not decode: {error}")
            }
        }
    }
}

impl std::error::Error for SnapshotRejected {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SnapshotRejected::SchemaMismatch { .. } => None,
            SnapshotRejected::Undecodable { error, .. } => Some(error),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Empty => f.write_str("the payload is empty"),
            DecodeError::UnknownState => f.write_str("the payload names no known state"),
            DecodeError::MissingBalance => f.write_str("the balance is missing"),
            DecodeError::NotADigit { offset } => {
                write!(f, "byte {offset} is not a decimal digit")
            }
            DecodeError::LeadingZero => f.write_str("the balance has a leading zero"),
            DecodeError::Overflow => f.write_str("the balance does not fit in 64 bits"),
        }
    }
}

impl std::error::Error for DecodeError {}
