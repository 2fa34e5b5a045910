//! The event store of lesson 1, made generic over its event type and given
//! the one check an aggregate needs: append only if the stream is still at
//! the version the caller loaded.

use std::collections::HashMap;
use std::fmt;

/// The identity of one stream, such as `account-1` or `email-ada@example.com`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(String);

impl StreamId {
    /// Makes a stream id from any string, such as `"account-1"`.
    pub fn new(id: impl Into<String>) -> Self {
        StreamId(id.into())
    }
}

/// The number of an event within its stream, from 1; `Version(0)` is the
/// version of a stream that has no events yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64);

/// The place of an event in the whole store, from 1; `Position(0)` means
/// "before the first event".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position(pub u64);

/// When the store recorded an event, in seconds since the Unix epoch (UTC),
/// supplied by the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

/// What the store needs to know about any event it keeps: its type name.
pub trait Event {
    /// The event's type name, such as `"MoneyDeposited"`.
    fn event_type(&self) -> &'static str;
}

/// An event as the store keeps it, with the metadata the store assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent<E> {
    /// The stream the event belongs to.
    pub stream: StreamId,
    /// Its number within that stream, starting at 1.
    pub version: Version,
    /// Its number across the whole store, starting at 1.
    pub position: Position,
    /// The event's type name.
    pub event_type: &'static str,
    /// When it was recorded, as supplied by the caller of `append`.
    pub recorded_at: Timestamp,
    /// The fact itself.
    pub event: E,
}

/// Why the store refused an append. An infrastructure failure, kept apart
/// from the domain's own rejections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendError {
    /// The stream moved on since the caller loaded it: someone else appended
    /// first, and the caller's decision may no longer hold.
    VersionConflict {
        /// The version the caller loaded and decided on.
        expected: Version,
        /// The version the stream is actually at.
        actual: Version,
    },
}

/// An in-memory, append-only event store for events of type `E`: one global
/// log, and per stream the indexes of its events in that log.
#[derive(Debug)]
pub struct EventStore<E> {
    log: Vec<RecordedEvent<E>>,
    streams: HashMap<StreamId, Vec<usize>>,
}

impl<E> Default for EventStore<E> {
    fn default() -> Self {
        EventStore {
            log: Vec::new(),
            streams: HashMap::new(),
        }
    }
}

impl<E: Event> EventStore<E> {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    // ANCHOR: append
    /// Appends `events` to `stream` only if the stream is still at `expected`
    /// (`Version(0)`: it does not exist yet); returns the new version.
    ///
    /// # Errors
    ///
    /// [`AppendError::VersionConflict`], and nothing is appended.
    pub fn append(
        &mut self,
        stream: &StreamId,
        expected: Version,
        events: Vec<E>,
        recorded_at: Timestamp,
    ) -> Result<Version, AppendError> {
        let actual = Version(
            self.streams
                .get(stream)
                .map_or(0, |indexes| indexes.len() as u64),
        );
        if actual != expected {
            return Err(AppendError::VersionConflict { expected, actual });
        }
        if events.is_empty() {
            return Ok(actual);
        }
        let indexes = self.streams.entry(stream.clone()).or_default();
        for event in events {
            let index = self.log.len();
            indexes.push(index);
            self.log.push(RecordedEvent {
                stream: stream.clone(),
                version: Version(indexes.len() as u64),
                position: Position(index as u64 + 1),
                event_type: event.event_type(),
                recorded_at,
                event,
            });
        }
        Ok(Version(indexes.len() as u64))
    }
    // ANCHOR_END: append

    /// The events of one stream, oldest first; an unknown stream reads as empty.
    pub fn read_stream(&self, stream: &StreamId) -> Vec<&RecordedEvent<E>> {
        match self.streams.get(stream) {
            Some(indexes) => indexes.iter().map(|&index| &self.log[index]).collect(),
            None => Vec::new(),
        }
    }

    /// Every event after position `after`, across all streams, in order.
    pub fn read_all(&self, after: Position) -> &[RecordedEvent<E>] {
        let start = usize::try_from(after.0).unwrap_or(usize::MAX);
        self.log.get(start..).unwrap_or(&[])
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

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppendError::VersionConflict { expected, actual } => write!(
                f,
                "version conflict: expected the stream at {expected}, found it at {actual}"
            ),
        }
    }
}

impl std::error::Error for AppendError {}
