//! Reference solutions for the lesson 1 exercises.

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::l01_event_store::{EventStore, Position, RecordedEvent, StreamId, Version};

/// Exercise 1.1: the events of `stream` from version `from` on (inclusive).
pub fn read_stream_from<'a>(
    store: &'a EventStore,
    stream: &StreamId,
    from: Version,
) -> Vec<&'a RecordedEvent> {
    // Versions are dense and start at 1, so the event with version v sits at
    // index v - 1 of the stream: skipping is enough, no comparison needed.
    // Filtering on `event.version >= from` would be just as correct, and is
    // the safer choice once a store can drop old events (lesson 16).
    let skip = usize::try_from(from.0.saturating_sub(1)).unwrap_or(usize::MAX);
    store.read_stream(stream).into_iter().skip(skip).collect()
}

/// Exercise 1.2: every event after `after` whose stream is in `category`.
pub fn read_category<'a>(
    store: &'a EventStore,
    category: &str,
    after: Position,
) -> Vec<&'a RecordedEvent> {
    // Stripping the category and then the dash checks both, so "postcard-1"
    // is not taken for category "post"; and something must follow the dash,
    // so "post-" is not either. A store with many categories would
    // keep an index per category instead of filtering the whole log
    // (KurrentDB's `$by_category` system projection does that, linking each
    // event into a `$ce-<category>` stream).
    store
        .read_all(after)
        .iter()
        .filter(|recorded| {
            recorded
                .stream
                .as_str()
                .strip_prefix(category)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|name| !name.is_empty())
        })
        .collect()
}

/// Exercise 1.3: the streams that changed after position `after`, for a
/// "recently updated" list: each stream once, ordered by its latest change,
/// the most recently changed first.
pub fn streams_changed_after(store: &EventStore, after: Position) -> Vec<StreamId> {
    // Walking the log backwards meets each stream's latest change first, so
    // keeping a stream only the first time it is seen gives both the order
    // and the dedupe. Walking forwards works too, but a stream then has to
    // be moved when it changes again (or sorted by its last position at the
    // end). A cache would take this list only down to the entries it holds.
    let mut seen = HashSet::new();
    store
        .read_all(after)
        .iter()
        .rev()
        .filter(|recorded| seen.insert(&recorded.stream))
        .map(|recorded| recorded.stream.clone())
        .collect()
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
    // One pass, two expectations: the next global position, and the last
    // version seen per stream. Checking "positions increase" instead of
    // "positions go up by one" would let a hole through; keeping one version
    // counter for the whole log instead of one per stream would refuse every
    // interleaved log. The map holds one entry per stream, not per event, so
    // checking a log costs one lookup per event.
    let mut versions: HashMap<&StreamId, Version> = HashMap::new();
    for (index, recorded) in log.iter().enumerate() {
        let expected = Position(index as u64 + 1);
        if recorded.position != expected {
            return Err(LogError::PositionOutOfOrder {
                expected,
                found: recorded.position,
            });
        }
        let last = versions.entry(&recorded.stream).or_default();
        let expected = Version(last.0 + 1);
        if recorded.version != expected {
            return Err(LogError::VersionOutOfOrder {
                stream: recorded.stream.clone(),
                expected,
                found: recorded.version,
            });
        }
        *last = expected;
    }
    Ok(())
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
