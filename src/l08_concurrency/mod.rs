//! Lesson 8 — optimistic concurrency.
//!
//! Many handlers may load the same account at the same time. This lesson
//! makes the store refuse an append unless the stream is still at the version
//! the handler loaded ([`ExpectedVersion`]), makes the command path reload,
//! decide again and retry a bounded number of times when that happens, and
//! makes the store recognise a command that is sent twice by its
//! [`CommandKey`], bound to what that command asked for.
//!
//! - [`store`]: the generic store of lesson 6 with `ExpectedVersion::{Any,
//!   NoStream, Exact}` and an index from command key to the command that
//!   took effect under it;
//! - [`account`]: the bank account decider of lesson 6, condensed;
//! - [`handler`]: the command path with retries, idempotency and transfers,
//!   over a store shared by threads.
//!
//! Chapter: `book/src/l08_concurrency.md`.
//! Run it: `cargo run --example l08_concurrency`.

pub mod account;
pub mod handler;
pub mod store;

pub use account::{
    AccountCommand, AccountError, AccountEvent, AccountState, Cents, decide, evolve, initial_state,
};
pub(crate) use handler::execute_under;
pub use handler::{
    CommandError, Loaded, MAX_ATTEMPTS, Outcome, Overdraft, SharedStore, TransferError, execute,
    execute_with, find_overdraft, load, transfer,
};
pub use store::{
    AppendError, Appended, CommandId, CommandKey, Event, EventStore, ExpectedVersion, Fingerprint,
    Leg, Position, RecordedEvent, StreamId, Timestamp, Version,
};
