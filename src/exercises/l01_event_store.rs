//! Exercises for lesson 1 — the event store.
//!
//! Each function below is a stub. Replace the `todo!()` at each `// TODO:` and
//! check your work with `cargo test --test l01_event_store -- --ignored`.

use std::collections::BTreeSet;

use crate::l01_event_store::{EventStore, Position, RecordedEvent, StreamId, Version};

/// Exercise 1.1: the events of `stream` from version `from` on (inclusive),
/// oldest first. `from = Version(1)` (or `Version(0)`) reads the whole stream;
/// a version past the end reads as empty.
pub fn read_stream_from<'a>(
    store: &'a EventStore,
    stream: &StreamId,
    from: Version,
) -> Vec<&'a RecordedEvent> {
    // TODO: read the stream and keep the events whose version is at least `from`.
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
    // TODO: filter `read_all(after)` by the stream id's category.
    let _ = (store, category, after);
    todo!("exercise 1.2: read one category of streams in global order")
}

/// Exercise 1.3: the streams that changed after position `after`, each named
/// once. A cache that remembers the last position it saw can use this to know
/// which entries to throw away.
pub fn streams_changed_after(store: &EventStore, after: Position) -> BTreeSet<StreamId> {
    // TODO: collect the stream id of every event after `after`.
    let _ = (store, after);
    todo!("exercise 1.3: which streams changed since a position")
}
