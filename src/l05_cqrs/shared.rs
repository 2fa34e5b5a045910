//! The part both sides share: identities, positions, the events, and the log.
//!
//! The write side appends to the [`EventLog`]; the read side follows it by
//! position. Neither side knows the other exists: this module is all they
//! have in common.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// The identity of one stream. In this lesson a stream is the history of one
/// message, such as `message-1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(String);

impl StreamId {
    /// Makes a stream id from any string, such as `"message-1"`.
    pub fn new(id: impl Into<String>) -> Self {
        StreamId(id.into())
    }
}

/// The identity of a person who sends and receives messages, such as `ada`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(String);

impl UserId {
    /// Makes a user id from any string, such as `"ada"`.
    pub fn new(id: impl Into<String>) -> Self {
        UserId(id.into())
    }
}

/// The place of an event in the whole log, starting at 1; `Position(0)` means
/// "before the first event". The write side hands positions out, and the read
/// side counts how far it has got in them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position(pub u64);

// ANCHOR: events
/// Something that happened to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageEvent {
    /// `from` sent `to` a message.
    MessageSent {
        /// Who sent it.
        from: UserId,
        /// Who it is for.
        to: UserId,
        /// What it says, trimmed.
        text: String,
    },
    /// The recipient opened the message.
    MessageRead {
        /// Who read it (always the recipient).
        by: UserId,
    },
    /// The sender or the recipient deleted the message, for both of them.
    MessageDeleted {
        /// Who deleted it.
        by: UserId,
    },
}

/// An event as the log keeps it: the fact plus where it was stored. (This
/// lesson reads no versions or times, so the log keeps none.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// The message the event is about.
    pub stream: StreamId,
    /// Its number across the whole log, starting at 1.
    pub position: Position,
    /// The fact itself.
    pub event: MessageEvent,
}
// ANCHOR_END: events

// ANCHOR: log
/// The event log both sides share: a handle that is cheap to clone, so each
/// side (and each read-model thread) holds its own.
///
/// The events sit behind a `Mutex`; the `Condvar` wakes followers when
/// events are appended. A wake-up carries no data: a follower always reads
/// the log itself from the last position it applied, so a missed or merged
/// wake-up can delay it but never make it skip or repeat an event.
#[derive(Debug, Clone, Default)]
pub struct EventLog {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    store: Mutex<Store>,
    appended: Condvar,
}

/// Lesson 1's store, condensed: one log in append order, plus the indexes of
/// each stream's events.
#[derive(Debug, Default)]
struct Store {
    events: Vec<RecordedEvent>,
    streams: HashMap<StreamId, Vec<usize>>,
}
// ANCHOR_END: log

impl EventLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    // ANCHOR: append_with
    /// Shows `decide` the history of `stream` and appends the events it
    /// returns, as one step: no other append can come between the read and
    /// the write. Wakes every follower if anything was appended.
    ///
    /// Returns the position a reader must reach to see `stream` as it now
    /// stands: the last event appended, or, when `decide` returned no events,
    /// the stream's last event (`Position(0)` for a stream with none).
    ///
    /// # Errors
    ///
    /// Whatever `decide` returns; nothing is appended then.
    pub fn append_with<E>(
        &self,
        stream: &StreamId,
        decide: impl FnOnce(&[&RecordedEvent]) -> Result<Vec<MessageEvent>, E>,
    ) -> Result<Position, E> {
        let mut store = lock(&self.inner.store);
        let events = decide(&store.read_stream(stream))?;
        let appended = !events.is_empty();
        let position = store.append(stream, events);
        drop(store);
        if appended {
            self.inner.appended.notify_all();
        }
        Ok(position)
    }
    // ANCHOR_END: append_with

    /// Copies of up to `max` events after position `after`, oldest first.
    /// Reading in bounded batches keeps the lock short and never copies the
    /// whole log at once.
    pub fn read_after(&self, after: Position, max: usize) -> Vec<RecordedEvent> {
        lock(&self.inner.store).after(after, max)
    }

    /// The position of the last event, or `Position(0)` when the log is empty.
    pub fn last_position(&self) -> Position {
        lock(&self.inner.store).last_position()
    }

    // ANCHOR: wait_and_read
    /// Blocks while `keep_waiting(last_position)` is true, then returns up
    /// to `max` events after `after` (possibly none, if the follower stopped
    /// waiting for another reason, such as being told to stop).
    ///
    /// `keep_waiting` is checked with the log locked, each time the log
    /// changes and each time [`EventLog::wake_followers`] is called, so a
    /// follower that changes its own flags and then wakes the log cannot
    /// miss the change.
    pub fn wait_and_read(
        &self,
        after: Position,
        max: usize,
        mut keep_waiting: impl FnMut(Position) -> bool,
    ) -> Vec<RecordedEvent> {
        let store = lock(&self.inner.store);
        let store = self
            .inner
            .appended
            .wait_while(store, |store| keep_waiting(store.last_position()))
            .unwrap_or_else(PoisonError::into_inner);
        store.after(after, max)
    }

    /// Wakes every follower blocked in [`EventLog::wait_and_read`] so that it
    /// checks its `keep_waiting` again.
    pub fn wake_followers(&self) {
        // Taking the lock first means no follower is between checking its
        // flags and starting to wait, so none can miss this wake-up.
        let _store = lock(&self.inner.store);
        self.inner.appended.notify_all();
    }
    // ANCHOR_END: wait_and_read
}

impl Store {
    fn read_stream(&self, stream: &StreamId) -> Vec<&RecordedEvent> {
        self.streams.get(stream).map_or_else(Vec::new, |indexes| {
            indexes.iter().map(|&index| &self.events[index]).collect()
        })
    }

    fn append(&mut self, stream: &StreamId, events: Vec<MessageEvent>) -> Position {
        let indexes = self.streams.entry(stream.clone()).or_default();
        for event in events {
            let index = self.events.len();
            indexes.push(index);
            self.events.push(RecordedEvent {
                stream: stream.clone(),
                position: Position(index as u64 + 1),
                event,
            });
        }
        Position(indexes.last().map_or(0, |&index| index as u64 + 1))
    }

    fn after(&self, after: Position, max: usize) -> Vec<RecordedEvent> {
        // Position p sits at index p - 1, so the events after `after` start at
        // index `after`.
        let start = usize::try_from(after.0).unwrap_or(usize::MAX);
        let tail = self.events.get(start..).unwrap_or(&[]);
        tail.iter().take(max).cloned().collect()
    }

    fn last_position(&self) -> Position {
        Position(self.events.len() as u64)
    }
}

/// Locks `mutex`, recovering the data if another thread panicked while holding
/// it. No critical section in this lesson can panic halfway through a change,
/// so the data behind a poisoned lock is still consistent.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}
