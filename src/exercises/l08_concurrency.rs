//! Exercises for lesson 8 — optimistic concurrency.
//!
//! Each function below is a stub. Replace the `todo!()` at each `// TODO:` and
//! check your work with `cargo test --test l08_concurrency -- --ignored`.

use std::fmt;

use crate::l08_concurrency::{
    AccountEvent, Cents, CommandError, CommandId, Event, EventStore, SharedStore, StreamId,
    Timestamp, TransferError, Version,
};

// Used by the solutions, not yet by the stubs.
#[allow(unused_imports)]
use crate::l08_concurrency::{
    AccountCommand, AccountState, AppendError, CommandKey, ExpectedVersion, Fingerprint, Leg,
    Outcome, Position, decide, evolve, execute_under, execute_with, initial_state,
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

/// Exercise 8.2: claims `email` for `account` in a reservation stream named
/// `email-` followed by the address trimmed and lowercased. The first claim
/// wins; claiming again for the same account succeeds and appends nothing.
///
/// # Errors
///
/// [`ClaimError::Taken`] when another account holds the address.
pub fn claim_email(
    store: &mut EventStore<EmailClaimed>,
    email: &str,
    account: &StreamId,
    recorded_at: Timestamp,
) -> Result<(), ClaimError> {
    // TODO: claim the address so that only the first claim can append.
    let _ = (store, email, account, recorded_at);
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
