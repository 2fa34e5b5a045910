//! Reference solutions for lesson 12 — workflows.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU64;

use crate::l12_workflows::{
    AccountId, Cents, Clock, CommandId, CommandKey, Event, EventStore, ExpectedVersion, MessageId,
    Metadata, Position, SharedStore, Step, StreamId, SubmitError, Submitted, Timestamp, Transfer,
    TransferEvent, TransferOutcome, TransferState, load_transfer, submit,
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

/// Exercise 12.4: pays every due period of a standing order once.
///
/// # Errors
///
/// What [`submit`] refuses, such as an id already used by another command.
pub fn pay_standing_order(
    store: &SharedStore,
    clock: &impl Clock,
    order: &StandingOrder,
) -> Result<Vec<Payment>, SubmitError> {
    // Each period is a transfer whose id is derived from the order and the
    // period number, so "pay period 3" is a claim of one name: the
    // transfer's `NoStream` append lets one submission in, and any other,
    // racing or repeated after a restart, is `AlreadySubmitted`. Nothing
    // else needs to be remembered, and nothing is read before it is
    // decided: a check "is period 3 paid?" followed by a submission under
    // a fresh id lets two callers both see "no".
    //
    // A refused period is not tried again for the same reason: its name is
    // taken, and the transfer's own stream says how it ended. Retrying
    // would need a second name per period ("3, attempt 2") and a rule for
    // when to stop.
    //
    // Every call walks from period 1, and each period costs an append
    // attempt. An order with a stream of its own could record the last
    // period submitted (after the submission, with an expected version)
    // and start from there; the lesson's store has no such stream kind,
    // and the walk is correct without it. The ids share the clients'
    // namespace: a client that used the id "rent/3" for something else
    // makes period 3 fail with `IdReused` rather than pay twice.
    let now = clock.now();
    let mut paid = Vec::new();
    for period in 1u64.. {
        let Some(due) = (period - 1)
            .checked_mul(order.every.get())
            .and_then(|offset| order.starts.0.checked_add(offset))
        else {
            break;
        };
        if due > now.0 || order.until.is_some_and(|until| due >= until.0) {
            break;
        }
        let id = CommandId::new(format!("{}/{period}", order.id));
        let transfer = Transfer {
            from: order.from.clone(),
            to: order.to.clone(),
            amount: order.amount,
        };
        match submit(store, clock, &id, &transfer)? {
            Submitted::Accepted => paid.push(Payment {
                period,
                transfer: id,
            }),
            Submitted::AlreadySubmitted => {}
        }
    }
    Ok(paid)
}
