//! Where a subscriber keeps what it has built: its rows and its checkpoint,
//! in one store, changed together by one commit or not at all.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use super::log::{Position, RecordedEvent, StreamId, lock};

// ANCHOR: view_store
/// A read model's storage, standing in for a database: rows keyed by
/// account, plus the checkpoint of the subscription that fills them. Both
/// change only through [`Tx::commit`], under one lock, so no reader and no
/// restart ever sees rows without their checkpoint or a checkpoint without
/// its rows. A handle is cheap to clone; clones share the same store.
#[derive(Debug)]
pub struct ViewStore<R> {
    saved: Arc<Mutex<Saved<R>>>,
}

#[derive(Debug)]
struct Saved<R> {
    /// `None` until the subscription stores where it starts.
    checkpoint: Option<Position>,
    rows: BTreeMap<StreamId, R>,
}

/// An open transaction on a [`ViewStore`]: reads see the store plus the
/// transaction's own writes; the writes reach the store only at
/// [`Tx::commit`], together with the new checkpoint. Dropping a transaction
/// without committing it (a crash, a failed handler) discards its writes.
pub struct Tx<'a, R> {
    saved: MutexGuard<'a, Saved<R>>,
    /// `Some(row)` to write a row, `None` to delete it.
    writes: BTreeMap<StreamId, Option<R>>,
}
// ANCHOR_END: view_store

impl<R> Clone for ViewStore<R> {
    fn clone(&self) -> Self {
        ViewStore {
            saved: Arc::clone(&self.saved),
        }
    }
}

impl<R> Default for ViewStore<R> {
    fn default() -> Self {
        ViewStore {
            saved: Arc::new(Mutex::new(Saved {
                checkpoint: None,
                rows: BTreeMap::new(),
            })),
        }
    }
}

impl<R: Clone> ViewStore<R> {
    /// An empty store with no checkpoint: a subscription that has never run.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stored checkpoint: the position of the last event whose effects
    /// are in the rows, or `None` if nothing was ever committed. Like every
    /// read of the store, it waits while a transaction is open.
    pub fn checkpoint(&self) -> Option<Position> {
        lock(&self.saved).checkpoint
    }

    /// One row, as last committed.
    pub fn get(&self, key: &StreamId) -> Option<R> {
        lock(&self.saved).rows.get(key).cloned()
    }

    /// A copy of every committed row, by key, with the checkpoint they are
    /// as of: one consistent reading.
    pub fn read(&self) -> (Option<Position>, BTreeMap<StreamId, R>) {
        let saved = lock(&self.saved);
        (saved.checkpoint, saved.rows.clone())
    }

    /// How many rows the store holds.
    pub fn len(&self) -> usize {
        lock(&self.saved).rows.len()
    }

    /// Whether the store holds no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Opens a transaction. It holds the store's lock until it is committed
    /// or dropped: a store has one writer, its subscription.
    pub fn begin(&self) -> Tx<'_, R> {
        Tx {
            saved: lock(&self.saved),
            writes: BTreeMap::new(),
        }
    }
}

// ANCHOR: commit
impl<R> Tx<'_, R> {
    /// The checkpoint as stored when the transaction began.
    pub fn checkpoint(&self) -> Option<Position> {
        self.saved.checkpoint
    }

    /// A row as this transaction sees it: its own write if it made one,
    /// else the stored row.
    pub fn get(&self, key: &StreamId) -> Option<&R> {
        match self.writes.get(key) {
            Some(written) => written.as_ref(),
            None => self.saved.rows.get(key),
        }
    }

    /// Writes a row (visible to this transaction now, to others at commit).
    pub fn put(&mut self, key: StreamId, row: R) {
        self.writes.insert(key, Some(row));
    }

    /// Deletes a row.
    pub fn delete(&mut self, key: &StreamId) {
        self.writes.insert(key.clone(), None);
    }

    /// Applies every write and stores `checkpoint`, in one step under the
    /// store's lock: the "applied" and the "checkpointed" of an event are
    /// one update. Consumes the transaction, so a handler, which only ever
    /// holds `&mut Tx`, cannot commit.
    pub fn commit(mut self, checkpoint: Position) {
        for (key, write) in std::mem::take(&mut self.writes) {
            match write {
                Some(row) => self.saved.rows.insert(key, row),
                None => self.saved.rows.remove(&key),
            };
        }
        self.saved.checkpoint = Some(checkpoint);
    }
}
// ANCHOR_END: commit

// ANCHOR: handler
/// What a subscription runs for each event: a projection that writes rows,
/// or a reactor that acts on the world outside the log (and keeps no rows,
/// or only what it needs to act).
///
/// Delivery is at least once: after a crash the events since the last
/// commit are handed over again. A projection's writes from a crashed
/// attempt were never committed, so it cannot count twice. A reactor's
/// effect cannot be rolled back, so it repeats, and must carry a dedupe key
/// that lets the receiving end ignore the repeat.
///
/// A handler runs while its transaction holds the view store's lock. So it
/// must not read its own store through a [`ViewStore`] handle (that second
/// lock, on the same thread, never returns or panics): it reads through
/// `tx`. And it must return: until it does, reads of the view wait, the
/// subscription's status still says running, and stopping or dropping the
/// subscription waits too. Anything it calls outside the process needs a
/// deadline of its own, after which it returns an error.
pub trait Handler: Send + 'static {
    /// The rows this handler keeps; `()` for a reactor that keeps none.
    type Row: Clone + Send + 'static;

    /// Handles one event, writing rows into `tx`.
    ///
    /// # Errors
    ///
    /// A [`HandlerError`] when the event cannot be handled now. The
    /// subscription stops at this event, commits nothing of its page, and
    /// reports the error in its status.
    fn handle(
        &mut self,
        tx: &mut Tx<'_, Self::Row>,
        recorded: &RecordedEvent,
    ) -> Result<(), HandlerError>;
}

/// Why a handler could not handle an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandlerError {
    /// Something outside the log that the handler needs is not answering,
    /// such as a mail server. Restarting later may succeed.
    Unavailable {
        /// What is unavailable.
        service: String,
    },
    /// The receiving end refused the effect for good, such as a mail server
    /// refusing an address. Restarting will fail again until the handler
    /// changes.
    Refused {
        /// What the receiving end said.
        reason: String,
    },
}
// ANCHOR_END: handler

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandlerError::Unavailable { service } => write!(f, "{service} is unavailable"),
            HandlerError::Refused { reason } => write!(f, "refused: {reason}"),
        }
    }
}

impl std::error::Error for HandlerError {}
