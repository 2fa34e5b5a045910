//! Subscriptions: a handler, the view it writes, and a checkpoint, driven
//! step by step ([`Subscriber`]) or by a thread that catches up and then
//! follows the log ([`Subscription`]).

use std::any::Any;
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::log::{EventLog, Page, Position, lock};
use super::view::{Handler, HandlerError, Tx, ViewStore};

/// How many events a subscriber reads from the log at a time.
pub const PAGE_SIZE: usize = 64;

// ANCHOR: start_from
/// Where a subscription with no stored checkpoint starts. Once it has one,
/// it always resumes from it, whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFrom {
    /// From the first event: a projection, which must fold the whole past.
    Beginning,
    /// After the last event now in the log: a reactor, which must not act
    /// on the past (announce last year's accounts, charge old orders).
    End,
}
// ANCHOR_END: start_from

// ANCHOR: failure
/// Why a subscription stopped at an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The position of the event it could not handle.
    pub at: Position,
    /// Its checkpoint, unchanged by the failed page: where a restart resumes.
    pub checkpoint: Position,
    /// What went wrong.
    pub reason: FailureReason,
}

/// What went wrong at the failing event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureReason {
    /// The handler returned an error.
    Handler(HandlerError),
    /// The handler panicked; the text is the panic's message.
    Panicked(String),
    /// The page leaves out a position after the checkpoint, so handling it
    /// would skip that event. Nothing was handled.
    Gap {
        /// The first position the page would skip.
        missing: Position,
    },
}
// ANCHOR_END: failure

/// A handler, its view store and its checkpoint, driven one page at a time
/// by the caller. [`Subscription`] drives one on a thread of its own; tests
/// and drills drive it directly, to stop it exactly where they want.
pub struct Subscriber<H: Handler> {
    view: ViewStore<H::Row>,
    handler: H,
}

// ANCHOR: new_subscriber
impl<H: Handler> Subscriber<H> {
    /// A subscriber that resumes from the checkpoint stored in `view`, or,
    /// if `view` has none, starts where `start` says. A new start is
    /// committed at once: were it only kept in memory, a reactor restarted
    /// before its first event would start again from the *new* end of the
    /// log and silently skip what was appended in between.
    pub fn new(log: &EventLog, view: ViewStore<H::Row>, handler: H, start: StartFrom) -> Self {
        let tx = view.begin();
        if tx.checkpoint().is_none() {
            let first = match start {
                StartFrom::Beginning => Position(0),
                StartFrom::End => log.last_position(),
            };
            tx.commit(first);
        } else {
            drop(tx);
        }
        Subscriber { view, handler }
    }
    // ANCHOR_END: new_subscriber

    /// The stored checkpoint: every event up to it has been handled and
    /// committed.
    pub fn checkpoint(&self) -> Position {
        self.view.checkpoint().unwrap_or_default()
    }

    /// The store this subscriber writes.
    pub fn view(&self) -> &ViewStore<H::Row> {
        &self.view
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    // ANCHOR: apply
    /// Handles every event of `page` after the checkpoint, inside one
    /// transaction, and returns it uncommitted: call [`Applied::commit`] to
    /// store the rows and the new checkpoint together. Events at or below
    /// the checkpoint are duplicates and are skipped, so handing over the
    /// same page twice changes nothing.
    ///
    /// # Errors
    ///
    /// A [`Failure`] at the first event the handler returns an error for or
    /// panics on. Before any handler runs, a [`FailureReason::Gap`] if the
    /// page leaves out a position after the checkpoint: its new events must
    /// be exactly the next positions, one by one, and its `next` the last
    /// of them, as every page of the [`EventLog`] is. The transaction is
    /// dropped: nothing of the page is stored.
    pub fn apply(&mut self, page: &Page) -> Result<Applied<'_, H::Row>, Failure> {
        self.apply_watched(page, |_| {})
    }

    /// [`Subscriber::apply`], telling `watch` the position of each event
    /// before its handler runs, and `None` once the page is handled.
    fn apply_watched(
        &mut self,
        page: &Page,
        mut watch: impl FnMut(Option<Position>),
    ) -> Result<Applied<'_, H::Row>, Failure> {
        let Subscriber { view, handler } = self;
        let mut tx = view.begin();
        let checkpoint = tx.checkpoint().unwrap_or_default();
        let fail = |at, reason| Failure {
            at,
            checkpoint,
            reason,
        };
        let new = || page.events.iter().filter(|e| e.position > checkpoint);
        let mut expected = Position(checkpoint.0 + 1);
        for recorded in new() {
            if recorded.position != expected {
                let reason = FailureReason::Gap { missing: expected };
                return Err(fail(recorded.position, reason));
            }
            expected = Position(expected.0 + 1);
        }
        if page.next >= expected {
            let reason = FailureReason::Gap { missing: expected };
            return Err(fail(page.next, reason));
        }
        let mut handled = 0;
        for recorded in new() {
            watch(Some(recorded.position));
            let result =
                panic::catch_unwind(AssertUnwindSafe(|| handler.handle(&mut tx, recorded)));
            watch(None);
            match result {
                Ok(Ok(())) => handled += 1,
                Ok(Err(error)) => {
                    return Err(fail(recorded.position, FailureReason::Handler(error)));
                }
                Err(panic) => return Err(fail(recorded.position, panicked(panic.as_ref()))),
            }
        }
        Ok(Applied {
            tx,
            // The last new event, or the checkpoint if there was none.
            next: Position(expected.0 - 1),
            handled,
        })
    }
    // ANCHOR_END: apply

    /// Reads and commits page after page until the log has nothing after
    /// the checkpoint, and returns the checkpoint reached.
    ///
    /// # Errors
    ///
    /// The first [`Failure`]; every page before it stays committed.
    pub fn catch_up(&mut self, log: &EventLog) -> Result<Position, Failure> {
        loop {
            let page = log.read_page(self.checkpoint(), PAGE_SIZE);
            if page.events.is_empty() {
                return Ok(self.checkpoint());
            }
            self.apply(&page)?.commit();
        }
    }
}

/// A page handled but not yet committed. Dropping it is a crash between
/// "applied" and "checkpointed": none of its writes is stored. It holds the
/// view store's lock until then, so commit or drop it before reading the
/// view on the same thread.
pub struct Applied<'a, R> {
    tx: Tx<'a, R>,
    next: Position,
    handled: usize,
}

impl<R> Applied<'_, R> {
    /// How many events of the page were new.
    pub fn handled(&self) -> usize {
        self.handled
    }

    /// Stores the page's rows and its checkpoint in one update, and returns
    /// the new checkpoint.
    pub fn commit(self) -> Position {
        self.tx.commit(self.next);
        self.next
    }
}

fn panicked(panic: &(dyn Any + Send)) -> FailureReason {
    let message = panic
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string());
    FailureReason::Panicked(message)
}

// ANCHOR: status
/// What a subscription is doing, as its handle sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Following the log; everything up to `checkpoint` is committed. A
    /// slow subscription is running with an old checkpoint.
    Running {
        /// The last committed checkpoint.
        checkpoint: Position,
    },
    /// Stopped by a failure. Its view is intact as of `failure.checkpoint`,
    /// and a restart resumes there.
    Failed(Failure),
    /// Stopped on request.
    Stopped {
        /// The last committed checkpoint.
        checkpoint: Position,
    },
}

/// Why [`Subscription::wait_for`] returned without reaching the position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitError {
    /// Still running, but not there yet when the time was up.
    Timeout {
        /// The position waited for.
        waited_for: Position,
        /// The checkpoint reached.
        reached: Position,
    },
    /// The subscription failed before reaching the position; waiting longer
    /// would not help. Returned as soon as it fails.
    Failed(Failure),
    /// The subscription was stopped before reaching the position.
    Stopped {
        /// The checkpoint it stopped at.
        reached: Position,
    },
}
// ANCHOR_END: status

/// Why [`Subscription::start`] did not start a subscription.
#[derive(Debug)]
pub enum StartError {
    /// The stored checkpoint is past the last event of the log: the view
    /// was built from another log, or the log lost events. Following this
    /// log from there would skip everything up to the checkpoint, silently.
    PastTheEnd {
        /// The stored checkpoint.
        checkpoint: Position,
        /// The log's last position.
        last: Position,
    },
    /// The operating system could not start a thread.
    Thread(io::Error),
}

/// A [`Subscriber`] on a thread of its own, which catches up from the
/// checkpoint and then follows the log, woken by the log's condition
/// variable, until it is stopped or its handler fails.
pub struct Subscription<H: Handler> {
    shared: Arc<Shared>,
    log: EventLog,
    thread: Option<JoinHandle<Subscriber<H>>>,
}

struct Shared {
    status: Mutex<Status>,
    /// Signalled after every change of `status`.
    changed: Condvar,
    stop: AtomicBool,
    /// The position whose handler is running, or 0 between events. Kept
    /// apart from `status` and from the view, so that reading it never
    /// waits for a handler.
    handling: AtomicU64,
}

// ANCHOR: follow
/// The subscription thread: wait for a page after the checkpoint, handle
/// it, commit, publish the new status; stop for good at the first failure.
fn follow<H: Handler>(
    log: &EventLog,
    shared: &Shared,
    mut subscriber: Subscriber<H>,
) -> Subscriber<H> {
    loop {
        let stop = || shared.stop.load(SeqCst);
        let page = log.wait_for_page(subscriber.checkpoint(), PAGE_SIZE, stop);
        if stop() {
            return subscriber;
        }
        let watch = |position: Option<Position>| {
            shared
                .handling
                .store(position.map_or(0, |position| position.0), SeqCst);
        };
        let status = match subscriber.apply_watched(&page, watch) {
            Ok(applied) => Status::Running {
                checkpoint: applied.commit(),
            },
            Err(failure) => Status::Failed(failure),
        };
        let failed = matches!(status, Status::Failed(_));
        *lock(&shared.status) = status;
        shared.changed.notify_all();
        if failed {
            return subscriber;
        }
    }
}
// ANCHOR_END: follow

impl<H: Handler> Subscription<H> {
    /// Starts `subscriber` on its own thread.
    ///
    /// # Errors
    ///
    /// [`StartError::PastTheEnd`] if the subscriber's checkpoint is past the
    /// end of `log`; [`StartError::Thread`] if no thread can be started.
    pub fn start(log: &EventLog, subscriber: Subscriber<H>) -> Result<Self, StartError> {
        let (checkpoint, last) = (subscriber.checkpoint(), log.last_position());
        if checkpoint > last {
            return Err(StartError::PastTheEnd { checkpoint, last });
        }
        let shared = Arc::new(Shared {
            status: Mutex::new(Status::Running {
                checkpoint: subscriber.checkpoint(),
            }),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            handling: AtomicU64::new(0),
        });
        let thread = {
            let (log, shared) = (log.clone(), Arc::clone(&shared));
            thread::Builder::new()
                .name("subscription".to_string())
                .spawn(move || follow(&log, &shared, subscriber))
                .map_err(StartError::Thread)?
        };
        Ok(Subscription {
            shared,
            log: log.clone(),
            thread: Some(thread),
        })
    }

    /// The position of the event whose handler is running now, or `None`
    /// between events. It never waits for the handler, so it names the
    /// event a handler is stuck on, while [`Subscription::status`] still
    /// says "running" and the view's reads wait for the handler's page.
    pub fn handling(&self) -> Option<Position> {
        match self.shared.handling.load(SeqCst) {
            0 => None,
            position => Some(Position(position)),
        }
    }

    /// The subscription's status now.
    pub fn status(&self) -> Status {
        lock(&self.shared.status).clone()
    }

    // ANCHOR: wait_for
    /// Waits until everything up to `position` is committed, for at most
    /// `timeout`, and returns the checkpoint reached. Pass the position an
    /// append returned to read your own write.
    ///
    /// # Errors
    ///
    /// [`WaitError::Failed`] as soon as the subscription fails short of
    /// `position`, however much time is left; [`WaitError::Timeout`] if it
    /// is still running behind `position` when the time is up;
    /// [`WaitError::Stopped`] if it was stopped short of it.
    pub fn wait_for(&self, position: Position, timeout: Duration) -> Result<Position, WaitError> {
        let status = lock(&self.shared.status);
        let (status, _) = self
            .shared
            .changed
            .wait_timeout_while(
                status,
                timeout,
                |status| matches!(status, Status::Running { checkpoint } if *checkpoint < position),
            )
            .unwrap_or_else(PoisonError::into_inner);
        match &*status {
            Status::Running { checkpoint } | Status::Stopped { checkpoint }
                if *checkpoint >= position =>
            {
                Ok(*checkpoint)
            }
            // A failed subscription's view is intact up to its checkpoint.
            Status::Failed(failure) if failure.checkpoint >= position => Ok(failure.checkpoint),
            Status::Running { checkpoint } => Err(WaitError::Timeout {
                waited_for: position,
                reached: *checkpoint,
            }),
            Status::Failed(failure) => Err(WaitError::Failed(failure.clone())),
            Status::Stopped { checkpoint } => Err(WaitError::Stopped {
                reached: *checkpoint,
            }),
        }
    }
    // ANCHOR_END: wait_for

    /// Stops the thread (after the page it is handling, if any, so it waits
    /// as long as the handler does; dropping the subscription does the
    /// same), waits for it, and hands back the subscriber, ready to be started again from its
    /// checkpoint: after a failure too, once the cause is fixed.
    ///
    /// # Errors
    ///
    /// A [`Failure`] if the thread itself died, which only a bug in this
    /// module could cause (handler panics are caught and reported in the
    /// status); the subscriber is lost then, but its view is intact.
    pub fn stop(mut self) -> Result<Subscriber<H>, Failure> {
        self.shut_down()
    }

    fn shut_down(&mut self) -> Result<Subscriber<H>, Failure> {
        self.shared.stop.store(true, SeqCst);
        self.log.wake_subscribers();
        let joined = match self.thread.take() {
            Some(thread) => thread.join(),
            None => Err(Box::new("the subscription was already stopped") as Box<dyn Any + Send>),
        };
        let mut status = lock(&self.shared.status);
        let checkpoint = match &*status {
            Status::Running { checkpoint } | Status::Stopped { checkpoint } => *checkpoint,
            Status::Failed(failure) => failure.checkpoint,
        };
        match joined {
            Ok(subscriber) => {
                if let Status::Running { .. } = *status {
                    *status = Status::Stopped { checkpoint };
                }
                Ok(subscriber)
            }
            Err(panic) => {
                let failure = Failure {
                    at: Position(checkpoint.0 + 1),
                    checkpoint,
                    reason: panicked(panic.as_ref()),
                };
                *status = Status::Failed(failure.clone());
                Err(failure)
            }
        }
    }
}

impl<H: Handler> Drop for Subscription<H> {
    fn drop(&mut self) {
        if self.thread.is_some() {
            // Dropping must not panic; `stop` is the way to see a failure.
            let _ = self.shut_down();
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "failed at {} (checkpoint {}): {}",
            self.at, self.checkpoint, self.reason
        )
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureReason::Handler(error) => write!(f, "{error}"),
            FailureReason::Panicked(message) => write!(f, "the handler panicked: {message}"),
            FailureReason::Gap { missing } => {
                write!(f, "the page leaves out {missing}, after the checkpoint")
            }
        }
    }
}

impl std::error::Error for Failure {}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Running { checkpoint } => write!(f, "running, checkpoint {checkpoint}"),
            Status::Failed(failure) => write!(f, "{failure}"),
            Status::Stopped { checkpoint } => write!(f, "stopped, checkpoint {checkpoint}"),
        }
    }
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitError::Timeout {
                waited_for,
                reached,
            } => write!(f, "timed out waiting for {waited_for}: reached {reached}"),
            WaitError::Failed(failure) => write!(f, "the subscription {failure}"),
            WaitError::Stopped { reached } => {
                write!(f, "the subscription was stopped at {reached}")
            }
        }
    }
}

impl std::error::Error for WaitError {}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::PastTheEnd { checkpoint, last } => write!(
                f,
                "the checkpoint {checkpoint} is past the end of the log ({last})"
            ),
            StartError::Thread(error) => write!(f, "cannot start a thread: {error}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Thread(error) => Some(error),
            StartError::PastTheEnd { .. } => None,
        }
    }
}
