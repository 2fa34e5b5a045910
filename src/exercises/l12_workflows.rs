//! Exercises for lesson 12 — workflows.
//!
//! Each function below is a stub. Replace the `todo!()` at each `// TODO:` and
//! check your work with `cargo test --test l12_workflows -- --ignored`.

use std::fmt;
use std::num::NonZeroU64;

use crate::l12_workflows::{
    AccountId, Cents, Clock, CommandId, EventStore, MessageId, SharedStore, SubmitError, Timestamp,
    Transfer, TransferOutcome,
};

// Used by the solutions, not yet by the stubs.
#[allow(unused_imports)]
use crate::l12_workflows::{
    CommandKey, Event, ExpectedVersion, Metadata, Position, Step, StreamId, TransferEvent,
    TransferState, load_transfer,
};
#[allow(unused_imports)]
use crate::l12_workflows::{Submitted, submit};
#[allow(unused_imports)]
use std::collections::HashMap;

/// Which way a transfer moves money, seen from one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The account is the source.
    Out,
    /// The account is the destination.
    In,
}

/// One line of an account's transfer statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    /// The transfer's id.
    pub transfer: CommandId,
    /// Whether the money goes out of the account or comes in.
    pub direction: Direction,
    /// The account at the other end.
    pub other: AccountId,
    /// How much.
    pub amount: Cents,
    /// How the transfer ended, or `None` while it is under way.
    pub outcome: Option<TransferOutcome>,
}

/// Exercise 12.1: every transfer that names `account` as its source or its
/// destination, in the order the transfers were requested, with how each
/// ended so far.
pub fn statement(store: &EventStore, account: &AccountId) -> Vec<StatementLine> {
    // TODO: find the transfers in the log, keep those that name the
    // account, and fold each one's stream to learn its outcome.
    let _ = (store, account);
    todo!("exercise 12.1: an account's transfer statement")
}

/// Why a chain of causes could not be followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainError {
    /// No event in the store has this id.
    UnknownEvent(MessageId),
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainError::UnknownEvent(id) => write!(f, "no event {id} in the store"),
        }
    }
}

impl std::error::Error for ChainError {}

/// Exercise 12.2: the chain of causes of the event `event`: the event
/// itself, what caused it, what caused that, and so on, up to the client
/// command that started the story.
///
/// # Errors
///
/// [`ChainError::UnknownEvent`] when `event` names no event in the store.
pub fn cause_chain(store: &EventStore, event: &MessageId) -> Result<Vec<MessageId>, ChainError> {
    // TODO: start from the event, and follow `metadata.causation` until
    // you reach a client's command.
    let _ = (store, event);
    todo!("exercise 12.2: follow the causation ids back to the start")
}

/// What a cancellation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// The transfer is cancelled now.
    Now,
    /// It had already been cancelled.
    Already,
}

/// Why a transfer could not be cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelError {
    /// No transfer has this id.
    Unknown,
    /// Its debit was already issued: the money may be moving, and the
    /// transfer will finish by its own rules.
    TooLate,
    /// The client did not confirm the cancellation.
    NotConfirmed,
    /// A thread panicked while holding the store's lock.
    StorePoisoned,
}

impl fmt::Display for CancelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CancelError::Unknown => f.write_str("no such transfer"),
            CancelError::TooLate => f.write_str("too late: the debit was already issued"),
            CancelError::NotConfirmed => f.write_str("the client did not confirm"),
            CancelError::StorePoisoned => f.write_str("the store's lock is poisoned"),
        }
    }
}

impl std::error::Error for CancelError {}

/// Exercise 12.3: cancels the transfer `transfer` on behalf of a
/// client command `command_id`, by appending `TransferCancelled` to its
/// stream, if and only if its debit has not been issued yet; a running
/// process manager may be about to issue it. Before cancelling, it asks the
/// client to `confirm`, showing the transfer; that can take as long as a
/// person takes, so no lock may be held meanwhile. The event belongs to the
/// transfer's story and was caused by the client's command. Once this
/// returns `Ok`, no money of the transfer ever moves.
///
/// # Errors
///
/// [`CancelError::TooLate`] once the debit was issued (or the transfer
/// ended otherwise), [`CancelError::NotConfirmed`] when the client says no,
/// [`CancelError::Unknown`] for an id no transfer has.
pub fn cancel(
    store: &SharedStore,
    transfer: &CommandId,
    command_id: &CommandId,
    mut confirm: impl FnMut(&Transfer) -> bool,
) -> Result<Cancelled, CancelError> {
    // TODO: decide from the transfer's own stream, and make the decision
    // stick.
    let _ = (store, transfer, command_id, &mut confirm);
    todo!("exercise 12.3: cancel a transfer before its debit")
}

/// A standing order: pay `amount` from `from` to `to` once per period.
/// Period 1 is due at `starts`, period `n` at `starts + (n - 1) * every`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingOrder {
    /// The order's id, given by the client that set it up.
    pub id: CommandId,
    /// The account that pays.
    pub from: AccountId,
    /// The account that is paid.
    pub to: AccountId,
    /// How much each period.
    pub amount: Cents,
    /// When period 1 is due.
    pub starts: Timestamp,
    /// The length of a period, in seconds.
    pub every: NonZeroU64,
    /// `None` while the order runs. A stopped order has the time it was
    /// stopped here: no period due at or after it is ever paid.
    pub until: Option<Timestamp>,
}

/// One period's payment: the transfer submitted for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// The period, from 1.
    pub period: u64,
    /// The id of the transfer that pays it.
    pub transfer: CommandId,
}

/// Exercise 12.4 (stretch): submits, through [`submit`], one transfer of
/// `order.amount` from `order.from` to `order.to` for every period of
/// `order` that is due by the clock's time and not yet paid, in period
/// order, and returns the payments this call submitted (in period order).
/// Each period is paid exactly once however many callers run at once,
/// however often a caller dies between two writes and a new one starts,
/// and however far the clock jumps. A payment the source refuses is not
/// tried again: that period's transfer ends `Rejected`, and the next period
/// is paid as usual.
///
/// # Errors
///
/// What [`submit`] refuses, such as an id already used by another command.
pub fn pay_standing_order(
    store: &SharedStore,
    clock: &impl Clock,
    order: &StandingOrder,
) -> Result<Vec<Payment>, SubmitError> {
    // TODO: decide which periods are due, and make paying a period
    // something that can only happen once.
    let _ = (store, clock, order);
    todo!("exercise 12.4: a standing order pays each period once")
}
