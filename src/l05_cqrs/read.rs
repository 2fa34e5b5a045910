//! The read side (the query side): read models, each shaped for one screen,
//! kept up to date by projections that follow the log on their own threads.
//!
//! It uses only the shared part. It never runs a command and never checks a
//! rule: it believes every event in the log, because the log only holds what
//! was already decided.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::shared::{EventLog, MessageEvent, Position, RecordedEvent, StreamId, UserId, lock};

/// How many events a projector copies out of the log at a time.
const BATCH: usize = 64;

// ANCHOR: read_model
/// A read model: a value built by applying events in log order, one at a
/// time. Lesson 3's trait, now `Send + 'static` so that it can live on its
/// projection's thread.
///
/// `apply` must not fail and must not look at anything but the event: the
/// log only holds facts that were already decided. It is called exactly once
/// per event, in position order.
pub trait ReadModel: Default + Send + 'static {
    /// Folds one more event into the read model.
    fn apply(&mut self, recorded: &RecordedEvent);
}
// ANCHOR_END: read_model

/// One message in someone's inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEntry {
    /// The message's id.
    pub message: StreamId,
    /// Who sent it.
    pub from: UserId,
    /// What it says.
    pub text: String,
    /// Whether the recipient has read it.
    pub read: bool,
}

// ANCHOR: inboxes
/// Every user's inbox: the messages sent to them that are not deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inboxes {
    /// Per recipient, their messages keyed by the position they were sent at,
    /// so an inbox lists oldest first.
    inboxes: BTreeMap<UserId, BTreeMap<Position, InboxEntry>>,
    /// Where each live message is filed: its recipient and its key.
    filed: BTreeMap<StreamId, (UserId, Position)>,
}
// ANCHOR_END: inboxes

impl Inboxes {
    /// The messages in `user`'s inbox, oldest first.
    pub fn inbox(&self, user: &UserId) -> Vec<InboxEntry> {
        self.inboxes
            .get(user)
            .map_or_else(Vec::new, |inbox| inbox.values().cloned().collect())
    }

    /// How many messages in `user`'s inbox are unread.
    pub fn unread(&self, user: &UserId) -> usize {
        self.inboxes.get(user).map_or(0, |inbox| {
            inbox.values().filter(|entry| !entry.read).count()
        })
    }
}

impl ReadModel for Inboxes {
    fn apply(&mut self, recorded: &RecordedEvent) {
        let message = &recorded.stream;
        match &recorded.event {
            MessageEvent::MessageSent { from, to, text } => {
                let entry = InboxEntry {
                    message: message.clone(),
                    from: from.clone(),
                    text: text.clone(),
                    read: false,
                };
                let inbox = self.inboxes.entry(to.clone()).or_default();
                inbox.insert(recorded.position, entry);
                self.filed
                    .insert(message.clone(), (to.clone(), recorded.position));
            }
            MessageEvent::MessageRead { .. } => {
                let Some((to, key)) = self.filed.get(message) else {
                    return;
                };
                if let Some(entry) = self.inboxes.get_mut(to).and_then(|i| i.get_mut(key)) {
                    entry.read = true;
                }
            }
            MessageEvent::MessageDeleted { .. } => {
                let Some((to, key)) = self.filed.remove(message) else {
                    return;
                };
                if let Some(inbox) = self.inboxes.get_mut(&to) {
                    inbox.remove(&key);
                }
            }
        }
    }
}

/// One message in the global feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    /// The position the message was sent at.
    pub sent_at: Position,
    /// The message's id.
    pub message: StreamId,
    /// Who sent it.
    pub from: UserId,
    /// Who it is for.
    pub to: UserId,
    /// What it says.
    pub text: String,
}

/// Every live message from everyone, in the order sent: a moderator's screen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Feed {
    entries: BTreeMap<Position, FeedEntry>,
    sent_at: BTreeMap<StreamId, Position>,
}

impl Feed {
    /// The `count` most recently sent live messages, newest first.
    pub fn latest(&self, count: usize) -> Vec<FeedEntry> {
        self.entries.values().rev().take(count).cloned().collect()
    }
}

impl ReadModel for Feed {
    fn apply(&mut self, recorded: &RecordedEvent) {
        match &recorded.event {
            MessageEvent::MessageSent { from, to, text } => {
                let entry = FeedEntry {
                    sent_at: recorded.position,
                    message: recorded.stream.clone(),
                    from: from.clone(),
                    to: to.clone(),
                    text: text.clone(),
                };
                self.entries.insert(recorded.position, entry);
                self.sent_at
                    .insert(recorded.stream.clone(), recorded.position);
            }
            // The feed does not show who has read what.
            MessageEvent::MessageRead { .. } => {}
            MessageEvent::MessageDeleted { .. } => {
                if let Some(key) = self.sent_at.remove(&recorded.stream) {
                    self.entries.remove(&key);
                }
            }
        }
    }
}

// ANCHOR: projection
/// A read model kept up to date by its own projector thread, which follows
/// the log from position 0 and remembers its checkpoint. Start two
/// projections of the same read model and you have two replicas.
///
/// Dropping a projection (or calling [`Projection::stop`]) stops its thread
/// and waits for it to finish.
pub struct Projection<M: ReadModel> {
    shared: Arc<Shared<M>>,
    log: EventLog,
    projector: Option<JoinHandle<()>>,
}

/// What the caller's handle and the projector thread share.
#[derive(Default)]
struct Shared<M> {
    state: Mutex<Checkpointed<M>>,
    /// Signalled each time the projector has applied an event.
    advanced: Condvar,
    paused: AtomicBool,
    stopped: AtomicBool,
}

/// A read model and its checkpoint, the position of the last event applied
/// to it, kept under one lock so that no query sees one without the other.
#[derive(Default)]
struct Checkpointed<M> {
    position: Position,
    model: M,
    /// Set, always to [`ReadError::ProjectorFailed`], if `apply` panicked: the
    /// model may be half-updated, so from then on it answers nothing.
    failed: Option<ReadError>,
}

/// A query's result, with the position of the last event the read model had
/// applied when it answered: how fresh the answer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<R> {
    /// The read model had applied every event up to and including this position.
    pub as_of: Position,
    /// The query's result.
    pub value: R,
}
// ANCHOR_END: projection

// ANCHOR: read_error
/// Why a read could not be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The read model did not reach the position in time.
    Timeout {
        /// The position the caller waited for.
        waited_for: Position,
        /// The position the read model had reached when the time was up.
        reached: Position,
    },
    /// The read model's `apply` panicked: the projector thread has ended
    /// and the read model answers no more queries.
    ProjectorFailed {
        /// The position of the last event it applied in full.
        reached: Position,
        /// What the panic said.
        panic: String,
    },
}
// ANCHOR_END: read_error

// ANCHOR: project
/// The projector thread's loop: wait for events after the checkpoint, apply
/// them one at a time, telling the waiting queries after each, repeat until
/// told to stop or until `apply` panics.
fn project<M: ReadModel>(log: &EventLog, shared: &Shared<M>) {
    let mut checkpoint = Position(0);
    loop {
        let batch = log.wait_and_read(checkpoint, BATCH, |last| {
            !shared.stopped.load(SeqCst) && (shared.paused.load(SeqCst) || last <= checkpoint)
        });
        if shared.stopped.load(SeqCst) {
            return;
        }
        for recorded in &batch {
            // One event per lock, so a query waits for one `apply` at most.
            let mut state = lock(&shared.state);
            // Checked under the read model's lock before every event, so a
            // batch already copied out of the log stops here too.
            if shared.paused.load(SeqCst) {
                break;
            }
            let applied = panic::catch_unwind(AssertUnwindSafe(|| state.model.apply(recorded)));
            if let Err(panic) = applied {
                // Marked before the lock is released: no query ever sees
                // the half-applied event.
                fail(&mut state, panic.as_ref());
                drop(state);
                shared.advanced.notify_all();
                return;
            }
            state.position = recorded.position;
            checkpoint = recorded.position;
            drop(state);
            shared.advanced.notify_all();
        }
    }
}
// ANCHOR_END: project

/// Records that `apply` panicked after the checkpoint.
fn fail<M>(state: &mut Checkpointed<M>, panic: &(dyn Any + Send)) {
    let message = panic
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string());
    let reached = state.position;
    state.failed.get_or_insert(ReadError::ProjectorFailed {
        reached,
        panic: message,
    });
}

impl<M: ReadModel> Projection<M> {
    /// Starts a projection of an empty read model, with its projector thread,
    /// which catches up with `log` and then follows it.
    ///
    /// # Errors
    ///
    /// The operating system's error if it cannot start a thread.
    pub fn start(log: EventLog) -> io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let projector = {
            let (log, shared) = (log.clone(), Arc::clone(&shared));
            thread::Builder::new()
                .name("projector".to_string())
                .spawn(move || project(&log, &shared))?
        };
        Ok(Projection {
            shared,
            log,
            projector: Some(projector),
        })
    }

    // ANCHOR: query
    /// Runs `query` on the read model as it is now, which may be behind the
    /// log.
    ///
    /// # Errors
    ///
    /// [`ReadError::ProjectorFailed`] if the read model's `apply` panicked.
    pub fn query<R>(&self, query: impl FnOnce(&M) -> R) -> Result<Answer<R>, ReadError> {
        let state = lock(&self.shared.state);
        if let Some(failed) = &state.failed {
            return Err(failed.clone());
        }
        // The caller's code runs under the lock. If it panics, the panic is
        // caught so that it cannot poison the lock, and raised again once
        // the lock is released: the caller still sees it.
        let value = panic::catch_unwind(AssertUnwindSafe(|| query(&state.model)));
        let as_of = state.position;
        drop(state);
        match value {
            Ok(value) => Ok(Answer { as_of, value }),
            Err(panic) => panic::resume_unwind(panic),
        }
    }

    /// Waits at most `timeout` until the read model has applied every event
    /// up to `position` (the one a command returned, to read your own write),
    /// and returns the position it reached.
    ///
    /// # Errors
    ///
    /// [`ReadError::Timeout`] if it is still behind when the time is up;
    /// [`ReadError::ProjectorFailed`] at once if `apply` panicked.
    pub fn wait_for(&self, position: Position, timeout: Duration) -> Result<Position, ReadError> {
        let state = lock(&self.shared.state);
        let (state, _) = self
            .shared
            .advanced
            .wait_timeout_while(state, timeout, |state| {
                state.position < position && state.failed.is_none()
            })
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(failed) = &state.failed {
            Err(failed.clone())
        } else if state.position >= position {
            Ok(state.position)
        } else {
            Err(ReadError::Timeout {
                waited_for: position,
                reached: state.position,
            })
        }
    }
    // ANCHOR_END: query

    /// The checkpoint: the position of the last event the read model has
    /// applied in full.
    pub fn position(&self) -> Position {
        lock(&self.shared.state).position
    }

    // ANCHOR: control
    /// Holds the read model where it is: the projector finishes the event it
    /// is applying, if any, and applies no other until [`Projection::resume`],
    /// not even one it has already read from the log. So from the first query
    /// after `pause` returns, every query sees the same read model at the same
    /// position. It stands in for a slow or busy projector, so that a test or
    /// a demo can make the read model lag on purpose instead of by luck.
    pub fn pause(&self) {
        self.shared.paused.store(true, SeqCst);
    }

    /// Lets a paused projector carry on from where it stopped.
    pub fn resume(&self) {
        self.shared.paused.store(false, SeqCst);
        self.log.wake_followers();
    }
    // ANCHOR_END: control

    /// Stops the projector thread, waits for it to finish, and returns the
    /// read model as it was left.
    ///
    /// # Errors
    ///
    /// [`ReadError::ProjectorFailed`] if the read model's `apply` panicked;
    /// the half-updated read model is dropped.
    pub fn stop(mut self) -> Result<M, ReadError> {
        self.shut_down();
        let mut state = lock(&self.shared.state);
        match &state.failed {
            Some(failed) => Err(failed.clone()),
            None => Ok(std::mem::take(&mut state.model)),
        }
    }

    /// Dropping a projection calls this too, so a failure is not raised
    /// there (a panic inside `drop` could abort the process); `stop` reports it.
    fn shut_down(&mut self) {
        self.shared.stopped.store(true, SeqCst);
        self.log.wake_followers();
        if let Some(projector) = self.projector.take() {
            // `project` catches the panics of `apply`, the only code in it
            // that can panic; anything else is recorded, not discarded.
            if let Err(panic) = projector.join() {
                fail(&mut lock(&self.shared.state), panic.as_ref());
            }
        }
    }
}

impl<M: ReadModel> Drop for Projection<M> {
    fn drop(&mut self) {
        self.shut_down();
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Timeout {
                waited_for,
                reached,
            } => write!(
                f,
                "timed out waiting for {waited_for}: the read model only reached {reached}"
            ),
            ReadError::ProjectorFailed { reached, panic } => {
                write!(f, "the projector failed after {reached}: {panic}")
            }
        }
    }
}

impl std::error::Error for ReadError {}
