//! Exercises for lesson 1 — the event store.
//!
//! Each function below is a stub. Replace each `todo!()` and check your work
//! with `cargo test --test l01_event_store -- --ignored`.

use std::fmt;

// What the exercises may need; the stubs do not use it yet.
#[allow(unused_imports)]
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::l01_event_store::{EventStore, Position, RecordedEvent, StreamId, Version};

/// Exercise 1.1: the events of `stream` from version `from` on (inclusive),
/// oldest first. `from = Version(1)` (or `Version(0)`) reads the whole stream;
/// a version past the end reads as empty.
pub fn read_stream_from<'a>(
    store: &'a EventStore,
    stream: &StreamId,
    from: Version,
) -> Vec<&'a RecordedEvent> {
    let _ = (store, stream, from);
    todo!("exercise 1.1: read a stream from a version")
}

/// Exercise 1.2: every event after `after`, in global order, whose stream
/// belongs to `category`. A stream belongs to a category when its id is the
/// category, a dash, and anything else: `"post-7"` is in category `"post"`,
/// `"postcard-1"` and `"post"` are not.
pub fn read_category<'a>(
    store: &'a EventStore,
    category: &str,
    after: Position,
) -> Vec<&'a RecordedEvent> {
    let _ = (store, category, after);
    todo!("exercise 1.2: read one category of streams in global order")
}

/// Exercise 1.3: the streams that changed after position `after`, for a
/// "recently updated" list: each stream once, ordered by its latest change,
/// the most recently changed first.
pub fn streams_changed_after(store: &EventStore, after: Position) -> Vec<StreamId> {
    let _ = (store, after);
    todo!("exercise 1.3: which streams changed since a position")
}

/// The first place where a log breaks the store's promises, found by
/// [`check_log`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogError {
    /// An event's position is not the one after the event before it (the
    /// first event must be at position 1).
    PositionOutOfOrder {
        /// The position the event should have had.
        expected: Position,
        /// The position it has.
        found: Position,
    },
    /// An event's version is not the one after the previous event of its
    /// own stream (a stream's first event must be version 1).
    VersionOutOfOrder {
        /// The stream whose versions break.
        stream: StreamId,
        /// The version the event should have had.
        expected: Version,
        /// The version it has.
        found: Version,
    },
}

/// Exercise 1.4: checks a copy of a log like this store's (a backup, say, or
/// a file an older program wrote) against the promises of lesson 1:
/// positions start at 1 and go up by exactly one from event to event, and
/// within each stream, versions start at 1 and go up by exactly one. It reports the first event,
/// in log order, that breaks a promise; when one event breaks both, the
/// position is reported. An empty log is fine.
///
/// # Errors
///
/// The first [`LogError`] found.
pub fn check_log(log: &[RecordedEvent]) -> Result<(), LogError> {
    let _ = log;
    todo!("exercise 1.4: check that a log keeps the store's promises")
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::PositionOutOfOrder { expected, found } => {
                write!(f, "expected position {expected}, found {found}")
            }
            LogError::VersionOutOfOrder {
                stream,
                expected,
                found,
            } => write!(f, "expected {stream} at {expected}, found {found}"),
        }
    }
}

impl std::error::Error for LogError {}
