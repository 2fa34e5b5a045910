//! The command path under concurrency: load, decide outside the lock, append
//! with the loaded version, and on a conflict reload and decide again.
//!
//! Clients name their commands with a [`CommandId`]; the keys of a
//! transfer's legs are made inside this crate only, so no caller can claim
//! one before the transfer does:
//!
//! ```compile_fail
//! # use es_workbook::l08_concurrency::*;
//! let store = SharedStore::default();
//! let leg = CommandKey::Transfer(CommandId::new("tx-9"), Leg::Withdraw);
//! // A leg's key is not a command id: this does not compile.
//! let _ = execute_with(&store, &StreamId::new("a"), &leg, &Fingerprint::of(&"no-op"),
//!     Timestamp(1), |_| Ok(Vec::new()));
//! ```

use std::fmt;
use std::sync::RwLock;

use super::account::{
    AccountCommand, AccountError, AccountEvent, AccountState, Cents, decide, evolve, initial_state,
};
use super::store::{
    AppendError, Appended, CommandId, CommandKey, EventStore, ExpectedVersion, Fingerprint, Leg,
    RecordedEvent, StreamId, Timestamp, Version,
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
}

/// Folds `stream` into its state and version.
pub fn load(store: &EventStore<AccountEvent>, stream: &StreamId) -> Loaded {
    let mut loaded = Loaded {
        state: initial_state(),
        version: Version(0),
    };
    for recorded in store.read_stream(stream) {
        loaded.state = evolve(loaded.state, &recorded.event);
        loaded.version = recorded.version;
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
    /// The same command, under the same key, had already taken effect on
    /// this stream; nothing was appended.
    AlreadyApplied {
        /// The version the earlier execution's append reached.
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
    /// The key was already used for a different command: another
    /// command, or the same one on another stream. Nothing was appended.
    IdempotencyKeyReused {
        /// The key.
        key: CommandKey,
    },
    /// A thread panicked while holding the store's lock.
    StorePoisoned,
}

// ANCHOR: execute
/// Runs one command against `stream` with optimistic concurrency: check the
/// key, load, decide, append with `Exact(loaded version)`; on a conflict,
/// start again from the load, at most [`MAX_ATTEMPTS`] times. `decide` is
/// called on every attempt with freshly loaded state, and outside any lock.
///
/// Any key may be given here, derived ones included, so this is for the
/// crate's own compound commands ([`transfer`], and exercise 8.4's
/// settlement); clients go through [`execute_with`] or [`execute`].
///
/// # Errors
///
/// As [`execute_with`].
pub(crate) fn execute_under(
    store: &SharedStore,
    stream: &StreamId,
    key: &CommandKey,
    fingerprint: &Fingerprint,
    recorded_at: Timestamp,
    mut decide: impl FnMut(&AccountState) -> Result<Vec<AccountEvent>, AccountError>,
) -> Result<Outcome, CommandError> {
    let reused = || CommandError::IdempotencyKeyReused { key: key.clone() };
    for attempt in 1..=MAX_ATTEMPTS {
        let loaded = {
            let guard = store.read().map_err(|_| CommandError::StorePoisoned)?;
            // A repeat answers before `decide`: a withdrawal that emptied the
            // account is "already applied", not "insufficient funds".
            if let Some(version) = guard
                .applied(stream, key, fingerprint)
                .map_err(|_| reused())?
            {
                return Ok(Outcome::AlreadyApplied { version });
            }
            load(&guard, stream)
        }; // the read lock is released here: deciding never blocks writers
        let events = decide(&loaded.state).map_err(CommandError::Rejected)?;
        let appended = store
            .write()
            .map_err(|_| CommandError::StorePoisoned)?
            .append(
                stream,
                ExpectedVersion::Exact(loaded.version),
                events,
                recorded_at,
                Some((key.clone(), fingerprint.clone())),
            );
        match appended {
            Ok(Appended::Now(version)) => {
                return Ok(Outcome::Appended {
                    version,
                    attempts: attempt,
                });
            }
            // A copy of this command got there first, since the load.
            Ok(Appended::AlreadyApplied(version)) => {
                return Ok(Outcome::AlreadyApplied { version });
            }
            // Someone else wrote first: what was decided may no longer hold.
            Err(AppendError::VersionConflict { .. }) => continue,
            Err(AppendError::IdempotencyKeyReused { .. }) => return Err(reused()),
        }
    }
    Err(CommandError::TooManyConflicts {
        attempts: MAX_ATTEMPTS,
    })
}

/// Runs one command, sent by a client with `command_id`, against `stream`
/// with optimistic concurrency and retries, as `execute_under` does.
/// `fingerprint` says what the command asks for; the store remembers it
/// under `CommandKey::Client(command_id)` when the command takes effect.
/// Only client keys can be given here: the keys of a transfer's legs are
/// made by [`transfer`] alone, so no caller can claim one first.
/// `decide` is called on every attempt with freshly loaded state, and
/// outside any lock.
///
/// # Errors
///
/// [`CommandError::Rejected`] with whatever `decide` returns,
/// [`CommandError::IdempotencyKeyReused`] when the id belongs to another
/// command, [`CommandError::TooManyConflicts`] when every attempt
/// conflicted, and [`CommandError::StorePoisoned`] when the lock is poisoned.
pub fn execute_with(
    store: &SharedStore,
    stream: &StreamId,
    command_id: &CommandId,
    fingerprint: &Fingerprint,
    recorded_at: Timestamp,
    decide: impl FnMut(&AccountState) -> Result<Vec<AccountEvent>, AccountError>,
) -> Result<Outcome, CommandError> {
    let key = CommandKey::Client(command_id.clone());
    execute_under(store, stream, &key, fingerprint, recorded_at, decide)
}

/// Runs `command`, sent by a client with `command_id`, against `stream`
/// through [`execute_with`] and the account's [`decide`]. The command itself
/// is its fingerprint, so the id is bound to exactly this command on exactly
/// this stream.
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
    let fingerprint = Fingerprint::of(command);
    execute_with(
        store,
        stream,
        command_id,
        &fingerprint,
        recorded_at,
        |state| decide(command, state),
    )
}
// ANCHOR_END: execute

// ANCHOR: transfer
/// Why a transfer did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferError {
    /// The withdrawal failed, so no money moved. This includes a transfer
    /// id already used for a different transfer.
    NotWithdrawn(CommandError),
    /// The money left the source account but the deposit failed. Retrying
    /// the transfer with the same id finishes it without withdrawing again.
    NotDeposited(CommandError),
}

/// Moves `amount` from one account to another as two commands on two
/// streams: a withdrawal, then a deposit. The two appends are separate, so
/// the transfer is not atomic; it is idempotent, because each leg is
/// recorded under a key derived from `transfer_id`, with the whole transfer
/// as its fingerprint.
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
    // Both legs carry the whole transfer, so the id is bound to this source,
    // this destination and this amount from the first leg on.
    let fingerprint = Fingerprint::of(&("transfer", from, to, amount));
    // The client's id names the transfer as a whole, so it is recorded as a
    // client key first (an append of no events): an id already used for a
    // deposit, say, is refused here, and a later deposit under this id is
    // refused too. The legs then go under keys derived from it.
    let client = (CommandKey::Client(transfer_id.clone()), fingerprint.clone());
    store
        .write()
        .map_err(|_| TransferError::NotWithdrawn(CommandError::StorePoisoned))?
        .append(
            from,
            ExpectedVersion::Any,
            Vec::new(),
            recorded_at,
            Some(client),
        )
        .map_err(|error| {
            TransferError::NotWithdrawn(match error {
                AppendError::IdempotencyKeyReused { key } => {
                    CommandError::IdempotencyKeyReused { key }
                }
                // `Any` never conflicts; a conflict would only mean "try again".
                AppendError::VersionConflict { .. } => {
                    CommandError::TooManyConflicts { attempts: 1 }
                }
            })
        })?;
    let leg = |leg| CommandKey::Transfer(transfer_id.clone(), leg);
    let withdraw = AccountCommand::WithdrawMoney { amount };
    execute_under(
        store,
        from,
        &leg(Leg::Withdraw),
        &fingerprint,
        recorded_at,
        |state| decide(&withdraw, state),
    )
    .map_err(TransferError::NotWithdrawn)?;
    let deposit = AccountCommand::DepositMoney { amount };
    execute_under(
        store,
        to,
        &leg(Leg::Deposit),
        &fingerprint,
        recorded_at,
        |state| decide(&deposit, state),
    )
    .map_err(TransferError::NotDeposited)?;
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
            CommandError::IdempotencyKeyReused { key } => {
                write!(f, "the key {key} was already used for another command")
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
