//! Lesson 1 — the event store.
//!
//! Events are immutable, past-tense facts. This lesson keeps them in memory:
//! every event gets a place in its stream (its [`Version`]) and a place in the
//! whole store (its global [`Position`]), and can be read back by stream or in
//! global order.
//!
//! Chapter: `book/src/l01_event_store.md`.
//! Run it: `cargo run --example l01_event_store`.

use std::collections::HashMap;
use std::fmt;

// ANCHOR: ids
/// The identity of one stream: the history of one thing, such as one blog post.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(String);

impl StreamId {
    /// Makes a stream id from any string, such as `"post-1"`.
    pub fn new(id: impl Into<String>) -> Self {
        StreamId(id.into())
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The number of an event within its stream. The first event of a stream is
/// version 1, so `Version(0)` is the version of a stream that has no events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64);

/// The place of an event in the whole store, across all streams. The first
/// event ever appended is at position 1, so `Position(0)` means "before the
/// first event".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position(pub u64);

/// When the store recorded an event, in whole seconds since the Unix epoch
/// (UTC). The caller supplies it: the store has no clock of its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);
// ANCHOR_END: ids

// ANCHOR: events
/// Something that happened to a blog post. Each variant is a fact in the past
/// tense; none of them is ever changed once recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostEvent {
    /// An author started a new post, which begins as a draft.
    PostCreated {
        /// Who wrote the post.
        author: String,
        /// The post's first title.
        title: String,
    },
    /// The post was given a new title.
    PostRetitled {
        /// The new title.
        title: String,
    },
    /// The post was made visible to readers.
    PostPublished,
}

impl PostEvent {
    /// The event's type name, as it is recorded next to the event.
    pub fn event_type(&self) -> &'static str {
        match self {
            PostEvent::PostCreated { .. } => "PostCreated",
            PostEvent::PostRetitled { .. } => "PostRetitled",
            PostEvent::PostPublished => "PostPublished",
        }
    }
}
// ANCHOR_END: events

// ANCHOR: recorded
/// An event as the store keeps it: the fact itself plus the metadata the
/// store assigned when it recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// The stream the event belongs to.
    pub stream: StreamId,
    /// Its number within that stream, starting at 1.
    pub version: Version,
    /// Its number across the whole store, starting at 1.
    pub position: Position,
    /// The event's type name, such as `"PostCreated"`.
    pub event_type: &'static str,
    /// When it was recorded, as supplied by the caller of `append`.
    pub recorded_at: Timestamp,
    /// The fact itself.
    pub event: PostEvent,
}
// ANCHOR_END: recorded

// ANCHOR: store
/// An in-memory, append-only event store.
///
/// Every event lives once, in `log`, in the order it was appended; its index
/// in `log` is its position minus one. `streams` maps each stream to the
/// indexes of its own events, so reading one stream never looks at another
/// stream's events.
#[derive(Debug, Default)]
pub struct EventStore {
    log: Vec<RecordedEvent>,
    streams: HashMap<StreamId, Vec<usize>>,
}
// ANCHOR_END: store

impl EventStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    // ANCHOR: append
    /// Appends `events` to the end of `stream`, all recorded at `recorded_at`,
    /// and returns the stream's new version.
    ///
    /// Each event gets the next version of its stream and the next global
    /// position. Appending no events changes nothing and returns the stream's
    /// current version.
    pub fn append(
        &mut self,
        stream: &StreamId,
        events: Vec<PostEvent>,
        recorded_at: Timestamp,
    ) -> Version {
        if events.is_empty() {
            return self.stream_version(stream);
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
        Version(indexes.len() as u64)
    }
    // ANCHOR_END: append

    // ANCHOR: read
    /// The events of one stream, oldest first. An unknown stream reads as
    /// empty: a stream exists once its first event is appended.
    pub fn read_stream(&self, stream: &StreamId) -> Vec<&RecordedEvent> {
        match self.streams.get(stream) {
            Some(indexes) => indexes.iter().map(|&index| &self.log[index]).collect(),
            None => Vec::new(),
        }
    }

    /// Every event after position `after`, across all streams, in the order
    /// they were appended. `read_all(Position(0))` reads the whole store.
    pub fn read_all(&self, after: Position) -> &[RecordedEvent] {
        // Position p sits at index p - 1, so the events after `after` start
        // at index `after`. A position past the end reads as empty.
        let start = usize::try_from(after.0).unwrap_or(usize::MAX);
        self.log.get(start..).unwrap_or(&[])
    }
    // ANCHOR_END: read

    /// The version of `stream`: the number of events in it.
    pub fn stream_version(&self, stream: &StreamId) -> Version {
        Version(
            self.streams
                .get(stream)
                .map_or(0, |indexes| indexes.len() as u64),
        )
    }

    /// The position of the last event appended, or `Position(0)` when the
    /// store is empty.
    pub fn last_position(&self) -> Position {
        Position(self.log.len() as u64)
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

impl fmt::Display for Timestamp {
    /// Formats as an ISO 8601 UTC time, such as `2026-03-01T09:30:00Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0 / 86_400;
        let seconds = self.0 % 86_400;
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        )
    }
}

/// Turns a count of days since 1970-01-01 into a (year, month, day) date in
/// the proleptic Gregorian calendar, using the well-known "days from civil"
/// arithmetic on 400-year eras.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}
