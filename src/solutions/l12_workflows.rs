//! Reference solutions for lesson 12 — workflows.

use std::collections::HashMap;
use std::fmt;

use crate::l12_workflows::{
    AccountId, Cents, CommandId, CommandKey, Event, EventStore, ExpectedVersion, MessageId,
    Metadata, Position, SharedStore, Step, StreamId, Transfer, TransferEvent, TransferOutcome,
    TransferState, load_transfer,
};

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

/// Exercise 12.1: an account's transfer statement.
pub fn statement(store: &EventStore, account: &AccountId) -> Vec<StatementLine> {
    // One pass finds the requests in log order; each transfer named is
    // folded from its own stream (a few events). A read model kept up to
    // date by a subscription, as in lesson 11, would answer without folding.
    let mut lines = Vec::new();
    for recorded in store.read_all(Position(0)) {
        let (
            StreamId::Transfer(id),
            Event::Transfer(TransferEvent::TransferRequested { transfer, .. }),
        ) = (&recorded.stream, &recorded.event)
        else {
            continue;
        };
        let (direction, other) = if &transfer.from == account {
            (Direction::Out, &transfer.to)
        } else if &transfer.to == account {
            (Direction::In, &transfer.from)
        } else {
            continue;
        };
        let outcome = match load_transfer(store, id).state {
            TransferState::Finished { outcome, .. } => Some(outcome),
            _ => None,
        };
        lines.push(StatementLine {
            transfer: id.clone(),
            direction,
            other: other.clone(),
            amount: transfer.amount,
            outcome,
        });
    }
    lines
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

/// Exercise 12.2: the chain of causes of an event, back to the client
/// command that started its story.
///
/// # Errors
///
/// [`ChainError::UnknownEvent`] when `event` names no event in the store.
pub fn cause_chain(store: &EventStore, event: &MessageId) -> Result<Vec<MessageId>, ChainError> {
    // Every event names its direct cause, so the chain is a walk up a
    // parent map. One pass builds the map; a store with an index by event
    // id would look each cause up directly instead.
    let causes: HashMap<MessageId, &MessageId> = (store.read_all(Position(0)).iter())
        .map(|r| (r.id(), &r.metadata.causation))
        .collect();
    let mut chain = vec![event.clone()];
    let mut cause = *causes
        .get(event)
        .ok_or_else(|| ChainError::UnknownEvent(event.clone()))?;
    loop {
        chain.push(cause.clone());
        match cause {
            MessageId::Command(_) => return Ok(chain),
            MessageId::Event(..) => {
                cause = causes
                    .get(cause)
                    .ok_or_else(|| ChainError::UnknownEvent(cause.clone()))?;
            }
        }
    }
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

/// Exercise 12.3: cancels a transfer before its debit is issued.
///
/// # Errors
///
/// [`CancelError::TooLate`] once the debit was issued,
/// [`CancelError::NotConfirmed`] when the client says no,
/// [`CancelError::Unknown`] for an id no transfer has.
pub fn cancel(
    store: &SharedStore,
    transfer: &CommandId,
    command_id: &CommandId,
    mut confirm: impl FnMut(&Transfer) -> bool,
) -> Result<Cancelled, CancelError> {
    let metadata = Metadata {
        correlation: transfer.clone(),
        causation: MessageId::Command(CommandKey::Client(command_id.clone())),
    };
    // The cancellation and the process manager's claim of the debit both
    // append to the transfer's stream at the version they loaded, so
    // exactly one of them lands there; the other reloads and sees it. A
    // check of the state followed by an append at whatever version the
    // stream has by then would let a claim slip in between. Holding the
    // write lock from load to append would also work, but only while every
    // writer shares this one lock.
    loop {
        let loaded = {
            let store = store.read().map_err(|_| CancelError::StorePoisoned)?;
            load_transfer(&store, transfer)
        };
        match loaded.state {
            TransferState::NotRequested => return Err(CancelError::Unknown),
            TransferState::Finished {
                outcome: TransferOutcome::Cancelled,
                ..
            } => return Ok(Cancelled::Already),
            TransferState::Active {
                transfer,
                step: Step::Debit,
                issued: false,
                ..
            } => {
                // Asked with no lock held; a claim may land meanwhile, and
                // the append below then conflicts.
                if !confirm(&transfer) {
                    return Err(CancelError::NotConfirmed);
                }
            }
            _ => return Err(CancelError::TooLate),
        }
        let appended = store
            .write()
            .map_err(|_| CancelError::StorePoisoned)?
            .append(
                &StreamId::Transfer(transfer.clone()),
                ExpectedVersion::Exact(loaded.version),
                vec![Event::Transfer(TransferEvent::TransferCancelled)],
                &metadata,
                None,
            );
        if appended.is_ok() {
            return Ok(Cancelled::Now);
        }
    }
}
