//! Reference solutions for the lesson 1 exercises.

use std::collections::BTreeSet;

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
    // `strip_prefix` then `starts_with('-')` checks the dash too, so "postcard-1"
    // is not taken for category "post". A store with many categories would
    // keep an index per category instead of filtering the whole log (that is
    // what KurrentDB's `$ce-` system projection does).
    store
        .read_all(after)
        .iter()
        .filter(|recorded| {
            recorded
                .stream
                .as_str()
                .strip_prefix(category)
                .is_some_and(|rest| rest.starts_with('-'))
        })
        .collect()
}

/// Exercise 1.3: the streams that changed after position `after`.
pub fn streams_changed_after(store: &EventStore, after: Position) -> BTreeSet<StreamId> {
    // A set removes repeats; `BTreeSet` also gives a stable order for printing.
    store
        .read_all(after)
        .iter()
        .map(|recorded| recorded.stream.clone())
        .collect()
}
