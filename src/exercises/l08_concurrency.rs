//! Exercises for lesson 8 — optimistic concurrency.
//!
//! Each function below is a stub. Replace the `todo!()` at each `// TODO:` and
//! check your work with `cargo test --test l08_concurrency -- --ignored`.

use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::l08_concurrency::{
    AccountEvent, AppendError, Appended, Cents, CommandError, CommandId, Event, EventStore,
    ExpectedVersion, Position, RecordedEvent, SharedStore, StreamId, Timestamp, TransferError,
    Version,
};

// Used by the solutions, not yet by the stubs.
#[allow(unused_imports)]
use crate::l08_concurrency::{
    AccountCommand, AccountState, CommandKey, Fingerprint, Leg, Outcome, decide, evolve,
    execute_under, execute_with, initial_state,
};
#[allow(unused_imports)]
use std::collections::BTreeMap;

/// Exercise 8.1: withdraws as much as the account holds, up to the limit
/// that `limit()` looks up (what the customer may still take today; another
/// service knows it, and it may change at any time), and returns the amount
/// withdrawn. An empty account refuses with `InsufficientFunds`. If
/// `command_id` already took effect on `stream`, it withdraws nothing and
/// returns the amount that earlier execution withdrew.
///
/// # Errors
///
/// As [`crate::l08_concurrency::execute_with`].
pub fn withdraw_up_to(
    store: &SharedStore,
    stream: &StreamId,
    command_id: &CommandId,
    limit: impl FnMut() -> Cents,
    recorded_at: Timestamp,
) -> Result<Cents, CommandError> {
    // TODO: decide the amount, withdraw it, and report it.
    let _ = (store, stream, command_id, limit, recorded_at);
    todo!("exercise 8.1: withdraw up to a limit")
}

/// The event of an email reservation stream: `account` holds the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailClaimed {
    /// The account that holds the address.
    pub account: StreamId,
}

impl Event for EmailClaimed {
    fn event_type(&self) -> &'static str {
        "EmailClaimed"
    }
}

/// Why an email address could not be claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimError {
    /// Another account holds the address.
    Taken {
        /// The account that holds it.
        by: StreamId,
    },
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClaimError::Taken { by } => write!(f, "the email address is taken by {by}"),
        }
    }
}

impl std::error::Error for ClaimError {}

/// What another client does between one claim's read and its append.
type Between = Box<dyn Fn(&Reservations) + Send + Sync>;

/// The reservation streams, shared by every thread that signs accounts up.
/// Like a store behind a network, each call takes the lock for that call
/// only, so another claim can come between a read and an append.
#[derive(Default)]
pub struct Reservations {
    store: Mutex<EventStore<EmailClaimed>>,
    after_each_read: Option<Between>,
}

impl Reservations {
    /// Empty reservations.
    pub fn new() -> Self {
        Self::default()
    }

    /// Empty reservations that run `between` after each read, once the lock
    /// is released: a step another client takes just then. Tests use it to
    /// put a second claim between a claim's read and its append.
    pub fn with_step_after_each_read(
        between: impl Fn(&Reservations) + Send + Sync + 'static,
    ) -> Self {
        Reservations {
            store: Mutex::default(),
            after_each_read: Some(Box::new(between)),
        }
    }

    /// The events of one stream, oldest first.
    pub fn read_stream(&self, stream: &StreamId) -> Vec<RecordedEvent<EmailClaimed>> {
        let events = self
            .lock()
            .read_stream(stream)
            .into_iter()
            .cloned()
            .collect();
        self.after_read();
        events
    }

    /// Every event, in the order of the log.
    pub fn read_all(&self) -> Vec<RecordedEvent<EmailClaimed>> {
        let events = self.lock().read_all(Position(0)).to_vec();
        self.after_read();
        events
    }

    /// Appends as [`EventStore::append`] does, without a command key.
    ///
    /// # Errors
    ///
    /// As [`EventStore::append`].
    pub fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EmailClaimed>,
        recorded_at: Timestamp,
    ) -> Result<Appended, AppendError> {
        self.lock()
            .append(stream, expected, events, recorded_at, None)
    }

    fn lock(&self) -> MutexGuard<'_, EventStore<EmailClaimed>> {
        // A claim that panicked left no half-made append behind: `append`
        // changes the store in one step. So the store is still sound.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn after_read(&self) {
        if let Some(between) = &self.after_each_read {
            between(self);
        }
    }
}

/// Exercise 8.2: claims `email` for `account` in a reservation stream named
/// `email-` followed by the address trimmed and lowercased. The first claim
/// wins, however many threads claim at once; claiming again for the same
/// account succeeds and appends nothing.
///
/// # Errors
///
/// [`ClaimError::Taken`] when another account holds the address.
pub fn claim_email(
    reservations: &Reservations,
    email: &str,
    account: &StreamId,
    recorded_at: Timestamp,
) -> Result<(), ClaimError> {
    // TODO: claim the address so that only the first claim can append.
    let _ = (reservations, email, account, recorded_at);
    todo!("exercise 8.2: claim a unique email")
}

/// Something an audit of the whole store found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A withdrawal took more than the balance before it.
    Overdraft {
        /// The account.
        stream: StreamId,
        /// The version of the withdrawal.
        version: Version,
    },
    /// An event that does not fit the account's state: anything but
    /// `AccountOpened` before the account was opened, a second
    /// `AccountOpened`, or anything after `AccountClosed`.
    DoesNotFit {
        /// The account.
        stream: StreamId,
        /// The version of the event.
        version: Version,
    },
}

/// Exercise 8.3: reads the whole store once, in global order, and reports
/// every event that breaks an account rule, in the order of the log.
pub fn audit(store: &EventStore<AccountEvent>) -> Vec<Finding> {
    // TODO: go through the log in order and judge each event.
    let _ = store;
    todo!("exercise 8.3: audit the store for broken rules")
}

/// How a settled transfer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// The money reached the destination.
    Completed,
    /// The destination refused the deposit, so the money went back to the
    /// source.
    Refunded,
}

/// Exercise 8.4: moves `amount` like `transfer`, but when the destination
/// refuses the deposit, pays the money back into the source. Retrying with
/// the same `transfer_id` never moves money twice, whatever happened to the
/// accounts in between, even when two retries run at the same time.
///
/// # Errors
///
/// [`TransferError::NotWithdrawn`] when nothing moved, and
/// [`TransferError::NotDeposited`] when neither the deposit nor the refund
/// could be made.
pub fn settle_transfer(
    store: &SharedStore,
    from: &StreamId,
    to: &StreamId,
    amount: Cents,
    transfer_id: &CommandId,
    recorded_at: Timestamp,
) -> Result<Settlement, TransferError> {
    // TODO: withdraw, deposit, and refund when the deposit is rejected.
    let _ = (store, from, to, amount, transfer_id, recorded_at);
    todo!("exercise 8.4: settle a transfer with a refund")
}
