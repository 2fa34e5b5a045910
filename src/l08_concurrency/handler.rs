//! The command path under concurrency: load, decide outside the lock, append
//! with the loaded version, and on a conflict reload and decide again.

use std::fmt;
use std::sync::RwLock;

use super::account::{
    AccountCommand, AccountError, AccountEvent, AccountState, Cents, decide, evolve, initial_state,
};
use super::store::{
    AppendError, CommandId, EventStore, ExpectedVersion, RecordedEvent, StreamId, Timestamp,
    Version,
};

/// The store as threads share it. Loads take the read lock; each
/// check-and-append takes the write lock once.
pub type SharedStore = RwLock<EventStore<AccountEvent>>;

/// How many times [`execute`] loads, decides and tries to append before it
/// gives up with [`CommandError::TooManyConflicts`].
pub const MAX_ATTEMPTS: u32 = 5;

// ANCHOR: load
/// An account as one handler loaded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The state folded from the stream.
    pub state: AccountState,
    /// The stream's version when it was read: the version to expect when
    /// appending what was decided from `state`.
    pub version: Version,
    /// If the command being handled already took effect on this stream, the
    /// version of the last event it recorded.
    pub already_applied: Option<Version>,
}

/// Folds `stream` into its state and version, and looks for events already
/// recorded by `command_id`.
pub fn load(store: &EventStore<AccountEvent>, stream: &StreamId, command_id: &CommandId) -> Loaded {
    let mut loaded = Loaded {
        state: initial_state(),
        version: Version(0),
        already_applied: None,
    };
    for recorded in store.read_stream(stream) {
        loaded.state = evolve(loaded.state, &recorded.event);
        loaded.version = recorded.version;
        if recorded.command_id.as_ref() == Some(command_id) {
            loaded.already_applied = Some(recorded.version);
        }
    }
    loaded
}
// ANCHOR_END: load

/// What a command that succeeded did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its events were appended; the stream is now at `version`. `attempts`
    /// counts the loads it took (1 when nobody else wrote in between).
    Appended {
        /// The stream's version after the append.
        version: Version,
        /// How many times the command was decided.
        attempts: u32,
    },
    /// The same command id had already taken effect on this stream, at
    /// `version`; nothing was appended.
    AlreadyApplied {
        /// The version of the last event the earlier execution recorded.
        version: Version,
    },
}

/// Why a command did not take effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// The account refused it: a business rule, not a failure.
    Rejected(AccountError),
    /// Other writers changed the stream between every load and append; the
    /// command was decided `attempts` times and never appended.
    TooManyConflicts {
        /// How many times the command was loaded and decided.
        attempts: u32,
    },
    /// A thread panicked while holding the store's lock.
    StorePoisoned,
}

// ANCHOR: execute
/// Runs one command against `stream` with optimistic concurrency: load,
/// check the command id, decide, append with `Exact(loaded version)`; on a
/// conflict, start again from the load, at most [`MAX_ATTEMPTS`] times.
///
/// `decide` is called on every attempt with freshly loaded state, and
/// outside any lock.
///
/// # Errors
///
/// [`CommandError::Rejected`] with whatever `decide` returns,
/// [`CommandError::TooManyConflicts`] when every attempt conflicted, and
/// [`CommandError::StorePoisoned`] when the lock is poisoned.
pub fn execute_with(
    store: &SharedStore,
    stream: &StreamId,
    command_id: &CommandId,
    recorded_at: Timestamp,
    mut decide: impl FnMut(&AccountState) -> Result<Vec<AccountEvent>, AccountError>,
) -> Result<Outcome, CommandError> {
    for attempt in 1..=MAX_ATTEMPTS {
        let loaded = {
            let guard = store.read().map_err(|_| CommandError::StorePoisoned)?;
            load(&guard, stream, command_id)
        }; // the read lock is released here: deciding never blocks writers
        if let Some(version) = loaded.already_applied {
            return Ok(Outcome::AlreadyApplied { version });
        }
        let events = decide(&loaded.state).map_err(CommandError::Rejected)?;
        let appended = store
            .write()
            .map_err(|_| CommandError::StorePoisoned)?
            .append(
                stream,
                ExpectedVersion::Exact(loaded.version),
                events,
                recorded_at,
                Some(command_id.clone()),
            );
        match appended {
            Ok(version) => {
                return Ok(Outcome::Appended {
                    version,
                    attempts: attempt,
                });
            }
            // Someone else wrote first: what was decided may no longer hold.
            Err(AppendError::VersionConflict { .. }) => continue,
        }
    }
    Err(CommandError::TooManyConflicts {
        attempts: MAX_ATTEMPTS,
    })
}

/// Runs `command` against `stream` through [`execute_with`] and the
/// account's [`decide`].
///
/// # Errors
///
/// As [`execute_with`].
pub fn execute(
    store: &SharedStore,
    stream: &StreamId,
    command_id: &CommandId,
    command: &AccountCommand,
    recorded_at: Timestamp,
) -> Result<Outcome, CommandError> {
    execute_with(store, stream, command_id, recorded_at, |state| {
        decide(command, state)
    })
}
// ANCHOR_END: execute

// ANCHOR: transfer
/// Why a transfer did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferError {
    /// The withdrawal failed, so no money moved.
    NotWithdrawn(CommandError),
    /// The money left the source account but the deposit failed. Retrying
    /// the transfer with the same id finishes it without withdrawing again.
    NotDeposited(CommandError),
}

/// Moves `amount` from one account to another as two commands on two
/// streams: a withdrawal, then a deposit. The two appends are separate, so
/// the transfer is not atomic; it is idempotent, because each leg carries a
/// command id derived from `transfer_id`.
///
/// # Errors
///
/// [`TransferError::NotWithdrawn`] if the withdrawal failed (nothing moved),
/// [`TransferError::NotDeposited`] if the deposit failed after it.
pub fn transfer(
    store: &SharedStore,
    from: &StreamId,
    to: &StreamId,
    amount: Cents,
    transfer_id: &CommandId,
    recorded_at: Timestamp,
) -> Result<(), TransferError> {
    // Distinct leg ids: with one id for both legs, a transfer from an account
    // to itself would take its own withdrawal for an earlier deposit.
    let withdraw_id = CommandId::new(format!("{transfer_id}/withdraw"));
    let deposit_id = CommandId::new(format!("{transfer_id}/deposit"));
    let withdraw = AccountCommand::WithdrawMoney { amount };
    execute(store, from, &withdraw_id, &withdraw, recorded_at)
        .map_err(TransferError::NotWithdrawn)?;
    let deposit = AccountCommand::DepositMoney { amount };
    execute(store, to, &deposit_id, &deposit, recorded_at).map_err(TransferError::NotDeposited)?;
    Ok(())
}
// ANCHOR_END: transfer

// ANCHOR: overdraft
/// A withdrawal that took more than the balance it was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overdraft {
    /// The version of the offending `MoneyWithdrawn`.
    pub version: Version,
    /// The balance just before it.
    pub balance: Cents,
    /// The amount it withdrew.
    pub requested: Cents,
}

/// Replays one account's history and returns the first withdrawal that
/// overdrew it, if any. `evolve` saturates at zero, so the final state alone
/// cannot show an overdraft: every intermediate state must be checked.
pub fn find_overdraft(history: &[&RecordedEvent<AccountEvent>]) -> Option<Overdraft> {
    let mut state = initial_state();
    for recorded in history {
        if let (AccountState::Open { balance }, AccountEvent::MoneyWithdrawn { amount }) =
            (state, &recorded.event)
            && *amount > balance
        {
            return Some(Overdraft {
                version: recorded.version,
                balance,
                requested: *amount,
            });
        }
        state = evolve(state, &recorded.event);
    }
    None
}
// ANCHOR_END: overdraft

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Rejected(error) => write!(f, "rejected: {error}"),
            CommandError::TooManyConflicts { attempts } => {
                write!(f, "gave up after {attempts} conflicting attempts")
            }
            CommandError::StorePoisoned => f.write_str("the store's lock is poisoned"),
        }
    }
}

impl std::error::Error for CommandError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CommandError::Rejected(error) => Some(error),
            _ => None,
        }
    }
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferError::NotWithdrawn(error) => write!(f, "transfer not started: {error}"),
            TransferError::NotDeposited(error) => {
                write!(f, "transfer withdrawn but not deposited: {error}")
            }
        }
    }
}

impl std::error::Error for TransferError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TransferError::NotWithdrawn(error) | TransferError::NotDeposited(error) => Some(error),
        }
    }
}

impl fmt::Display for Overdraft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} withdrew {} from a balance of {}",
            self.version, self.requested, self.balance
        )
    }
}
