//! Lesson 12 — workflows: a transfer as a process manager.
//!
//! A transfer touches two accounts, and no single append covers both. This
//! lesson gives the transfer a stream of its own, claimed once by its id,
//! and a process manager that reads that stream, issues the next command
//! (debit the source, credit the destination, or refund the source when the
//! credit fails or times out), and records each command's outcome there.
//! Every event and command carries a correlation id and a causation id, and
//! the same system runs on one thread or on several to the same end.
//!
//! - [`store`]: lesson 8's store, with typed stream ids and metadata;
//! - [`account`]: the bank account decider and command path of lesson 8;
//! - [`transfer`]: the transfer's events, state machine and driver;
//! - [`system`]: the notifications reactor.
//!
//! Chapter: `book/src/l12_workflows.md`.
//! Run it: `cargo run --example l12_workflows`.

pub mod account;
pub mod store;
pub mod system;
pub mod transfer;

pub use account::{
    AccountCommand, AccountError, AccountEvent, AccountState, Cents, CommandError, Envelope,
    MAX_ATTEMPTS, decide, execute, initial_state, load,
};
pub use store::{
    AccountId, Answer, AppendError, Appended, CommandId, CommandKey, Event, EventStore,
    ExpectedVersion, Fingerprint, MessageId, Metadata, Position, RecordedEvent, SharedStore, Step,
    StreamId, Timestamp, Version,
};
pub use system::{Notification, Notifier};
pub use transfer::{
    Clock, DriveError, LoadedTransfer, ManualClock, Next, ProcessManager, RETRY_AFTER, Refusal,
    SubmitError, Submitted, TRANSFER_TIMEOUT, Transfer, TransferEvent, TransferOutcome,
    TransferState, evolve, load_transfer, next, submit,
};
