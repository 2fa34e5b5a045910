//! The event store, carried forward from lessons 1, 8 and 9, condensed. What
//! changed: it keeps [`EventRecord`]s, the bytes the mapper wrote, instead of
//! Rust values, so it no longer knows any event type; and with no read across
//! streams in this lesson, it keeps each stream's records in a `Vec` of its
//! own, without a global position. Records are only ever appended: nothing
//! here can change one after it is stored.

use std::collections::HashMap;
use std::fmt;

/// The identity of one stream: the history of one thing, such as one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(String);

impl StreamId {
    /// Makes a stream id from any string, such as `"account-1"`.
    pub fn new(id: impl Into<String>) -> Self {
        StreamId(id.into())
    }
}

/// The number of a record within its stream, from 1. `Version(0)` is the
/// version of a stream that has no records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64);

/// When the store recorded an event, in seconds since the Unix epoch (UTC),
/// supplied by the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

// ANCHOR: record
/// One event as it is stored: its type name, the version of that type's
/// schema it was written in, and the payload bytes. The store never looks
/// inside; only the mapper reads and writes these.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventRecord {
    /// The event type name, such as `AccountOpened`.
    pub event_type: String,
    /// Which shape of that event type the payload has, from 1.
    pub schema_version: u32,
    /// The fields, encoded as `key=value` lines.
    pub payload: Vec<u8>,
}
// ANCHOR_END: record

/// A record with the metadata the store assigned when it was appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Its number within its stream, from 1.
    pub version: Version,
    /// When it was recorded, as supplied by the caller of `append`.
    pub recorded_at: Timestamp,
    /// The bytes, exactly as appended.
    pub record: EventRecord,
}

/// Why the store refused an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendError {
    /// The stream moved on since the caller loaded it.
    VersionConflict {
        /// The version the caller loaded.
        expected: Version,
        /// The version the stream is really at.
        actual: Version,
    },
}

/// An in-memory, append-only store of records, stream by stream.
#[derive(Debug, Default)]
pub struct EventStore {
    streams: HashMap<StreamId, Vec<RecordedEvent>>,
}

impl EventStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `records` to `stream` if the stream is still at `expected`, and
    /// returns its new version. Appending no records changes nothing.
    ///
    /// # Errors
    ///
    /// [`AppendError::VersionConflict`] when the stream is not at `expected`.
    pub fn append(
        &mut self,
        stream: &StreamId,
        expected: Version,
        records: Vec<EventRecord>,
        recorded_at: Timestamp,
    ) -> Result<Version, AppendError> {
        let actual = self.stream_version(stream);
        if actual != expected {
            return Err(AppendError::VersionConflict { expected, actual });
        }
        if records.is_empty() {
            return Ok(actual);
        }
        let recorded = self.streams.entry(stream.clone()).or_default();
        for record in records {
            recorded.push(RecordedEvent {
                version: Version(recorded.len() as u64 + 1),
                recorded_at,
                record,
            });
        }
        Ok(Version(recorded.len() as u64))
    }

    /// The records of `stream` with a version greater than `after`, oldest
    /// first: a slice of the stream, so it costs what it returns.
    pub fn read_stream_after(&self, stream: &StreamId, after: Version) -> Vec<&RecordedEvent> {
        let Some(recorded) = self.streams.get(stream) else {
            return Vec::new();
        };
        let start = usize::try_from(after.0).map_or(recorded.len(), |a| a.min(recorded.len()));
        recorded[start..].iter().collect()
    }

    /// The whole of one stream, oldest first. An unknown stream reads as empty.
    pub fn read_stream(&self, stream: &StreamId) -> Vec<&RecordedEvent> {
        self.read_stream_after(stream, Version(0))
    }

    /// The version of `stream`: the number of records in it.
    pub fn stream_version(&self, stream: &StreamId) -> Version {
        Version(self.streams.get(stream).map_or(0, |r| r.len() as u64))
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppendError::VersionConflict { expected, actual } => write!(
                f,
                "version conflict: expected the stream at {expected}, it is at {actual}"
            ),
        }
    }
}

impl std::error::Error for AppendError {}
