//! The notification log, carried forward from lessons 1 and 5 and condensed:
//! the ids, the bank account events of lesson 6, and one log that a single
//! writer appends to and any number of subscribers read by position, in
//! pages. New here: [`EventLog::read_page`] and [`EventLog::wait_for_page`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// The identity of one stream: the history of one account, such as `account-1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(String);

impl StreamId {
    /// Makes a stream id from any string, such as `"account-1"`.
    pub fn new(id: impl Into<String>) -> Self {
        StreamId(id.into())
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The number of an event within its stream, from 1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64);

/// The place of an event in the whole log, from 1. `Position(0)` means
/// "before the first event".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position(pub u64);

/// When the log recorded an event, in seconds since the Unix epoch, supplied
/// by the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

/// Money in whole cents. Display: `12.34`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cents(pub u64);

/// Something that happened to a bank account (lesson 6's events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountEvent {
    /// The account was opened for its owner.
    AccountOpened {
        /// The owner's name.
        owner: String,
        /// The owner's email address.
        email: String,
    },
    /// Money was paid in.
    MoneyDeposited {
        /// How much.
        amount: Cents,
    },
    /// Money was taken out.
    MoneyWithdrawn {
        /// How much.
        amount: Cents,
    },
    /// The account was closed; it accepts nothing more.
    AccountClosed,
}

/// An event as the log keeps it: the fact plus where and when it was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// The account the event is about.
    pub stream: StreamId,
    /// Its number within that stream, from 1.
    pub version: Version,
    /// Its number across the whole log, from 1.
    pub position: Position,
    /// When it was recorded, as supplied by the caller.
    pub recorded_at: Timestamp,
    /// The fact itself.
    pub event: AccountEvent,
}

// ANCHOR: page
/// One page of the notification log: the events after `after`, oldest
/// first, and where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The position the page was read after.
    pub after: Position,
    /// The events, in position order.
    pub events: Vec<RecordedEvent>,
    /// The checkpoint a reader stores once it has handled every event of
    /// the page: pass it as `after` to read the next page.
    pub next: Position,
}
// ANCHOR_END: page

/// The event log: a handle that is cheap to clone, so the writer and every
/// subscriber thread hold their own.
///
/// It has a single writer in the sense that matters for positions: one lock
/// hands out a position and makes the event readable in the same step, so
/// no reader can ever see `#7` before `#6`.
#[derive(Debug, Clone, Default)]
pub struct EventLog {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    store: Mutex<Store>,
    /// Signalled after every append and by [`EventLog::wake_subscribers`].
    appended: Condvar,
}

#[derive(Debug, Default)]
struct Store {
    events: Vec<RecordedEvent>,
    versions: HashMap<StreamId, Version>,
}

impl EventLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    // ANCHOR: append
    /// Appends `events` to `stream` and returns the position of the last one
    /// (the position a reader must reach to see them all), or the log's
    /// last position if `events` is empty.
    ///
    /// Each event gets the next position and becomes readable under the
    /// same lock, in one step: there is no moment at which a position is
    /// taken but its event not yet visible, and nothing can fail in between,
    /// so this log has no gaps.
    pub fn append(
        &self,
        stream: &StreamId,
        events: Vec<AccountEvent>,
        recorded_at: Timestamp,
    ) -> Position {
        let mut store = lock(&self.inner.store);
        let Store {
            events: log,
            versions,
        } = &mut *store;
        let version = versions.entry(stream.clone()).or_default();
        let appended = !events.is_empty();
        for event in events {
            version.0 += 1;
            let position = Position(log.len() as u64 + 1);
            log.push(RecordedEvent {
                stream: stream.clone(),
                version: *version,
                position,
                recorded_at,
                event,
            });
        }
        let last = Position(log.len() as u64);
        drop(store);
        if appended {
            self.inner.appended.notify_all();
        }
        last
    }
    // ANCHOR_END: append

    // ANCHOR: read_page
    /// Up to `max` events after position `after`, oldest first: one page of
    /// the notification log. Position `p` sits at index `p - 1`, so the read
    /// costs what it returns, however long the log.
    pub fn read_page(&self, after: Position, max: usize) -> Page {
        page_of(&lock(&self.inner.store).events, after, max)
    }
    // ANCHOR_END: read_page

    /// The position of the last event, or `Position(0)` when the log is empty.
    pub fn last_position(&self) -> Position {
        Position(lock(&self.inner.store).events.len() as u64)
    }

    // ANCHOR: wait_for_page
    /// Blocks until the log holds an event after `after` or `stop()` is
    /// true, then returns the next page (empty if it stopped waiting because
    /// of `stop`). `stop` is checked with the log locked, each time the log
    /// grows and each time [`EventLog::wake_subscribers`] is called, so a
    /// subscriber told to stop cannot sleep through it. No fixed sleep.
    pub fn wait_for_page(&self, after: Position, max: usize, stop: impl Fn() -> bool) -> Page {
        let store = lock(&self.inner.store);
        let store = self
            .inner
            .appended
            .wait_while(store, |store| {
                (store.events.len() as u64) <= after.0 && !stop()
            })
            .unwrap_or_else(PoisonError::into_inner);
        if stop() {
            return Page {
                after,
                events: Vec::new(),
                next: after,
            };
        }
        page_of(&store.events, after, max)
    }

    /// Wakes every subscriber blocked in [`EventLog::wait_for_page`] so that
    /// it checks its `stop` again.
    pub fn wake_subscribers(&self) {
        // Taking the lock first means no subscriber is between checking
        // `stop` and starting to wait, so none can miss this wake-up.
        let _store = lock(&self.inner.store);
        self.inner.appended.notify_all();
    }
    // ANCHOR_END: wait_for_page
}

fn page_of(events: &[RecordedEvent], after: Position, max: usize) -> Page {
    let start = usize::try_from(after.0).unwrap_or(usize::MAX);
    let events: Vec<RecordedEvent> = events
        .get(start..)
        .unwrap_or(&[])
        .iter()
        .take(max)
        .cloned()
        .collect();
    let next = events.last().map_or(after, |last| last.position);
    Page {
        after,
        events,
        next,
    }
}

/// Locks `mutex`, recovering the data if another thread panicked while
/// holding it. Every critical section in this lesson either completes its
/// change or makes none (a handler's writes wait in a transaction until
/// commit), so the data behind a poisoned lock is still consistent.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}
