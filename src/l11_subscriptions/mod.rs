//! Lesson 11 — subscriptions.
//!
//! A subscription reads the notification log (every event, by position, in
//! pages) from its checkpoint, catches up, and then follows new events on a
//! thread woken by a condition variable. Its checkpoint is stored with the
//! view it writes, in one update, so a crash between handling and
//! checkpointing cannot count anything twice. Projections (pure, rebuilt at
//! will) are kept apart from reactors (effects outside the log), which have
//! their own checkpoint, start at the end of the log, and carry dedupe
//! keys; the log itself is the reactor's outbox. A failing or panicking
//! handler stops its subscription with a visible status, and a restart
//! resumes from the checkpoint. Finally, a store that numbers events at
//! insert but shows them at commit has gaps, and only a reader that stops at
//! the high-water mark misses nothing.
//!
//! The module has five parts: the log (`log`, carried forward from lessons 1
//! and 5 with lesson 6's account events), the view store and the handler
//! trait (`view`), the subscriptions (`subscription`), the lesson's handlers
//! (`handlers`), and the store with gaps (`gaps`). Everything is
//! re-exported here.
//!
//! Chapter: `book/src/l11_subscriptions.md`.
//! Run it: `cargo run --example l11_subscriptions`.

mod gaps;
mod handlers;
mod log;
mod subscription;
mod view;

pub use gaps::{GapLog, HighWaterReader, NaiveReader, Ticket};
pub use handlers::{BalanceRow, Balances, DedupeKey, Email, MailError, MailServer, WelcomeMailer};
pub use log::{
    AccountEvent, Cents, EventLog, Page, Position, RecordedEvent, StreamId, Timestamp, Version,
};
pub use subscription::{
    Applied, Failure, FailureReason, PAGE_SIZE, StartError, StartFrom, Status, Subscriber,
    Subscription, WaitError,
};
pub use view::{Handler, HandlerError, Tx, ViewStore};
