//! The read side (the query side): read models that follow the log on their
//! own threads and answer queries from views shaped for one screen each.
//!
//! It uses only the shared part. It never runs a command and never checks a
//! rule: it believes every event in the log, because the log only holds what
//! was already decided.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::shared::{EventLog, MessageEvent, Position, RecordedEvent, StreamId, UserId, lock};

/// How many events a projector copies out of the log at a time.
const BATCH: usize = 64;

// ANCHOR: view
/// A view: a value built by applying events in log order, one at a time.
///
/// `apply` must not fail and must not look at anything but the event: the
/// log only holds facts that were already decided. It is called exactly once
/// per event, in position order.
pub trait View: Default + Send + 'static {
    /// Folds one more event into the view.
    fn apply(&mut self, event: &RecordedEvent);
}
// ANCHOR_END: view

// ANCHOR: inboxes
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

/// Every user's inbox: the messages sent to them that are not deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inboxes {
    /// Per recipient, their messages keyed by the position they were sent at,
    /// so an inbox lists oldest first.
    inboxes: BTreeMap<UserId, BTreeMap<Position, InboxEntry>>,
    /// Where each live message is filed: its recipient and its key.
    filed: BTreeMap<StreamId, (UserId, Position)>,
}

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

impl View for Inboxes {
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
// ANCHOR_END: inboxes

// ANCHOR: feed
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

impl View for Feed {
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
// ANCHOR_END: feed

// ANCHOR: read_model
/// A view kept up to date by its own projector thread, which follows the
/// log from position 0. Start two read models of the same view and you have
/// two replicas.
///
/// Dropping a read model (or calling [`ReadModel::stop`]) stops its thread
/// and waits for it to finish.
pub struct ReadModel<V: View> {
    shared: Arc<Shared<V>>,
    log: EventLog,
    projector: Option<JoinHandle<()>>,
}

/// What the caller's handle and the projector thread share.
#[derive(Default)]
struct Shared<V> {
    state: Mutex<Checkpointed<V>>,
    /// Signalled each time the projector has applied a batch.
    advanced: Condvar,
    paused: AtomicBool,
    stopped: AtomicBool,
}

/// A view and the position of the last event applied to it, kept under one
/// lock so that no query sees one without the other.
#[derive(Default)]
struct Checkpointed<V> {
    position: Position,
    view: V,
}

/// A query's result, with the position of the last event the view had
/// applied when it answered: how fresh the answer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer<R> {
    /// The view had applied every event up to and including this position.
    pub as_of: Position,
    /// The query's result.
    pub value: R,
}
// ANCHOR_END: read_model

/// Why a read could not be served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The view did not reach the position in time.
    Timeout {
        /// The position the caller waited for.
        waited_for: Position,
        /// The position the view had reached when the time was up.
        reached: Position,
    },
}

// ANCHOR: project
/// The projector thread's loop: wait for events after the checkpoint, apply
/// a batch, tell the waiting queries, repeat until told to stop.
fn project<V: View>(log: &EventLog, shared: &Shared<V>) {
    let mut checkpoint = Position(0);
    loop {
        let batch = log.wait_and_read(checkpoint, BATCH, |last| {
            !shared.stopped.load(SeqCst) && (shared.paused.load(SeqCst) || last <= checkpoint)
        });
        if shared.stopped.load(SeqCst) {
            return;
        }
        let mut state = lock(&shared.state);
        for recorded in &batch {
            state.view.apply(recorded);
            state.position = recorded.position;
        }
        checkpoint = state.position;
        drop(state);
        shared.advanced.notify_all();
    }
}
// ANCHOR_END: project

impl<V: View> ReadModel<V> {
    /// Starts a read model with an empty view, and its projector thread,
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
        Ok(ReadModel {
            shared,
            log,
            projector: Some(projector),
        })
    }

    // ANCHOR: query
    /// Runs `query` on the view as it is now, which may be behind the log.
    pub fn query<R>(&self, query: impl FnOnce(&V) -> R) -> Answer<R> {
        let state = lock(&self.shared.state);
        Answer {
            as_of: state.position,
            value: query(&state.view),
        }
    }

    /// Waits until the view has applied every event up to `position`, for at
    /// most `timeout`, and returns the position it reached. Pass the
    /// position a command returned to read your own write.
    ///
    /// # Errors
    ///
    /// [`ReadError::Timeout`] if the view is still behind `position` when the
    /// time is up, with the position it did reach.
    pub fn wait_for(&self, position: Position, timeout: Duration) -> Result<Position, ReadError> {
        let state = lock(&self.shared.state);
        let (state, _) = self
            .shared
            .advanced
            .wait_timeout_while(state, timeout, |state| state.position < position)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.position >= position {
            Ok(state.position)
        } else {
            Err(ReadError::Timeout {
                waited_for: position,
                reached: state.position,
            })
        }
    }
    // ANCHOR_END: query

    /// The position of the last event the view has applied.
    pub fn position(&self) -> Position {
        lock(&self.shared.state).position
    }

    // ANCHOR: control
    /// Holds the projector where it is: once `pause` returns, no event
    /// appended afterwards reaches the view until [`ReadModel::resume`].
    /// It stands in for a slow or busy projector, so that a test or a demo
    /// can make the view lag on purpose instead of by luck.
    pub fn pause(&self) {
        self.shared.paused.store(true, SeqCst);
    }

    /// Lets a paused projector carry on from where it stopped.
    pub fn resume(&self) {
        self.shared.paused.store(false, SeqCst);
        self.log.wake_followers();
    }

    /// Stops the projector thread, waits for it to finish, and returns the
    /// view as it was left.
    pub fn stop(mut self) -> V {
        self.shut_down();
        std::mem::take(&mut lock(&self.shared.state).view)
    }

    fn shut_down(&mut self) {
        self.shared.stopped.store(true, SeqCst);
        self.log.wake_followers();
        if let Some(projector) = self.projector.take() {
            // A view whose `apply` panicked has already reported it and left
            // its last state readable; re-raising the panic here would panic
            // inside `drop`.
            let _ = projector.join();
        }
    }
    // ANCHOR_END: control
}

impl<V: View> Drop for ReadModel<V> {
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
                "timed out waiting for {waited_for}: the view only reached {reached}"
            ),
        }
    }
}

impl std::error::Error for ReadError {}
