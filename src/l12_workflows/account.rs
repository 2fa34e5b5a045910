//! The bank account decider of lesson 6 and the command path of lesson 8
//! (load, decide, append with the loaded version, retry on a conflict),
//! condensed. Commands now travel in an [`Envelope`] with their key,
//! correlation and causation.

use std::fmt;

use super::store::{
    AccountId, Answer, AppendError, Appended, CommandId, CommandKey, Event, ExpectedVersion,
    Fingerprint, MessageId, Metadata, SharedStore, StreamId, Version,
};
use super::transfer::Refusal;

/// Money in whole cents. Display: `12.34`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cents(pub u64);

/// Something that happened to a bank account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountEvent {
    /// A customer opened the account; it starts with a balance of zero.
    AccountOpened {
        /// The customer's name.
        owner: String,
        /// The customer's email address.
        email: String,
    },
    /// Money was paid into the account.
    MoneyDeposited {
        /// How much.
        amount: Cents,
    },
    /// Money was paid out of the account.
    MoneyWithdrawn {
        /// How much.
        amount: Cents,
    },
    /// The account was closed; it accepts nothing any more.
    AccountClosed,
}

/// Something a customer asks of an account, which may be refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountCommand {
    /// Open the account for `owner`, reachable at `email`.
    OpenAccount {
        /// The customer's name.
        owner: String,
        /// The customer's email.
        email: String,
    },
    /// Pay `amount` into the account.
    DepositMoney {
        /// How much; must not be zero.
        amount: Cents,
    },
    /// Pay `amount` out of the account, never below zero.
    WithdrawMoney {
        /// How much; must not be zero.
        amount: Cents,
    },
    /// Close the account, which must be empty.
    CloseAccount,
}

/// What `decide` needs to know about an account, folded from its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    /// No `AccountOpened` yet.
    NotOpened,
    /// Open, holding `balance`.
    Open {
        /// The money in the account.
        balance: Cents,
    },
    /// Closed for good.
    Closed,
}

/// Why an account refused a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountError {
    /// The account is already open (or was opened and closed).
    AlreadyOpened,
    /// The account has not been opened.
    NotOpened,
    /// The account is closed.
    Closed,
    /// A deposit or withdrawal of nothing.
    ZeroAmount,
    /// The withdrawal would take the balance below zero.
    InsufficientFunds {
        /// The balance when the command was decided.
        balance: Cents,
        /// The amount asked for.
        requested: Cents,
    },
    /// The deposit would overflow the balance.
    BalanceOverflow,
    /// Only an empty account can be closed.
    BalanceNotZero {
        /// The money still in the account.
        balance: Cents,
    },
}

/// The state of an account before its first event.
pub fn initial_state() -> AccountState {
    AccountState::NotOpened
}

/// Applies one event to a state. Total and pure: an event that does not fit
/// the state leaves it unchanged, and arithmetic saturates.
pub fn evolve(state: AccountState, event: &AccountEvent) -> AccountState {
    use AccountEvent as E;
    use AccountState as S;
    match (state, event) {
        (S::NotOpened, E::AccountOpened { .. }) => S::Open { balance: Cents(0) },
        (S::Open { balance }, E::MoneyDeposited { amount }) => S::Open {
            balance: Cents(balance.0.saturating_add(amount.0)),
        },
        (S::Open { balance }, E::MoneyWithdrawn { amount }) => S::Open {
            balance: Cents(balance.0.saturating_sub(amount.0)),
        },
        (S::Open { .. }, E::AccountClosed) => S::Closed,
        (state, _) => state,
    }
}

/// Decides which events a command produces in a state, or why it is refused.
/// State checks come first, then argument checks, then balance rules.
/// (Lesson 6's checks of the owner and the email are left out: no transfer
/// depends on them.)
///
/// # Errors
///
/// The [`AccountError`] naming the first rule the command breaks.
pub fn decide(
    command: &AccountCommand,
    state: &AccountState,
) -> Result<Vec<AccountEvent>, AccountError> {
    use AccountCommand as C;
    let balance = match (command, state) {
        (C::OpenAccount { .. }, AccountState::NotOpened) => Cents(0),
        (C::OpenAccount { .. }, _) => return Err(AccountError::AlreadyOpened),
        (_, AccountState::NotOpened) => return Err(AccountError::NotOpened),
        (_, AccountState::Closed) => return Err(AccountError::Closed),
        (_, AccountState::Open { balance }) => *balance,
    };
    match command {
        C::OpenAccount { owner, email } => Ok(vec![AccountEvent::AccountOpened {
            owner: owner.clone(),
            email: email.clone(),
        }]),
        C::DepositMoney { amount } | C::WithdrawMoney { amount } if amount.0 == 0 => {
            Err(AccountError::ZeroAmount)
        }
        C::DepositMoney { amount } => match balance.0.checked_add(amount.0) {
            Some(_) => Ok(vec![AccountEvent::MoneyDeposited { amount: *amount }]),
            None => Err(AccountError::BalanceOverflow),
        },
        C::WithdrawMoney { amount } if *amount > balance => Err(AccountError::InsufficientFunds {
            balance,
            requested: *amount,
        }),
        C::WithdrawMoney { amount } => Ok(vec![AccountEvent::MoneyWithdrawn { amount: *amount }]),
        C::CloseAccount if balance.0 > 0 => Err(AccountError::BalanceNotZero { balance }),
        C::CloseAccount => Ok(vec![AccountEvent::AccountClosed]),
    }
}

/// How many times [`execute`] loads, decides and tries to append before it
/// gives up with [`CommandError::TooManyConflicts`].
pub const MAX_ATTEMPTS: u32 = 5;

// ANCHOR: envelope
/// A command on its way to an account: the key it is remembered under, and
/// where it belongs in the story. The events it appends record this
/// metadata: the same correlation, and the command's own cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The key the store remembers the command under.
    pub key: CommandKey,
    /// The command's correlation and causation.
    pub metadata: Metadata,
}

impl Envelope {
    /// The envelope of a command a client sends with `id`: it starts its own
    /// story, so it is its own correlation and its own cause.
    pub fn client(id: &CommandId) -> Self {
        let key = CommandKey::Client(id.clone());
        Envelope {
            metadata: Metadata {
                correlation: id.clone(),
                causation: MessageId::Command(key.clone()),
            },
            key,
        }
    }
}
// ANCHOR_END: envelope

/// Why a command did not take effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// The account refused it: a business rule.
    Rejected(AccountError),
    /// Other writers changed the account between every load and append.
    TooManyConflicts {
        /// How many times the command was decided.
        attempts: u32,
    },
    /// The key was already used for a different command.
    IdempotencyKeyReused {
        /// The key.
        key: CommandKey,
    },
    /// A thread panicked while holding the store's lock.
    StorePoisoned,
}

/// Folds an account's stream into its state and version.
pub fn load(store: &super::store::EventStore, account: &AccountId) -> (AccountState, Version) {
    let stream = StreamId::Account(account.clone());
    let mut loaded = (initial_state(), Version(0));
    for recorded in store.read_stream(&stream) {
        if let Event::Account(event) = &recorded.event {
            loaded.0 = evolve(loaded.0, event);
        }
        loaded.1 = recorded.version;
    }
    loaded
}

/// Runs `command`, sent by a client with `id`, against `account`. The id
/// becomes a [`CommandKey::Client`] key, so no client can send a command
/// under a key a transfer derives.
///
/// It loads the account, decides outside the lock, appends with
/// `Exact(loaded version)`, and on a conflict starts again, at most
/// [`MAX_ATTEMPTS`] times, as in lesson 8.
///
/// # Errors
///
/// [`CommandError::Rejected`] when the account refuses,
/// [`CommandError::IdempotencyKeyReused`] when the id belongs to another
/// command, [`CommandError::TooManyConflicts`] when every attempt
/// conflicted, [`CommandError::StorePoisoned`] when the lock is poisoned.
pub fn execute(
    store: &SharedStore,
    account: &AccountId,
    command: &AccountCommand,
    id: &CommandId,
) -> Result<Appended, CommandError> {
    execute_in(store, account, command, &Envelope::client(id))
}

/// Runs `command` against `account` as lesson 8 does: check the key, load,
/// decide outside the lock, append with `Exact(loaded version)`, and on a
/// conflict start again, at most [`MAX_ATTEMPTS`] times. The key is bound to
/// this command on this account. Only the lesson's own code calls it with a
/// key of its choosing: the transfer, for its steps.
///
/// # Errors
///
/// [`CommandError::Rejected`] when the account refuses,
/// [`CommandError::IdempotencyKeyReused`] when the key belongs to another
/// command, [`CommandError::TooManyConflicts`] when every attempt
/// conflicted, [`CommandError::StorePoisoned`] when the lock is poisoned.
pub(super) fn execute_in(
    store: &SharedStore,
    account: &AccountId,
    command: &AccountCommand,
    envelope: &Envelope,
) -> Result<Appended, CommandError> {
    let stream = StreamId::Account(account.clone());
    let fingerprint = Fingerprint::of(&(account, command));
    let key = &envelope.key;
    let reused = || CommandError::IdempotencyKeyReused { key: key.clone() };
    // A transfer's key names one attempt, so its refusal is remembered: the
    // first answer is the answer for every sender of that attempt. A
    // client's refused command leaves no trace, as in lesson 8.
    let remembered = matches!(key, CommandKey::Transfer(..));
    let refuse = |refusal: Refusal| {
        let answer = match remembered {
            true => (store.write().map_err(|_| CommandError::StorePoisoned)?)
                .refuse(&stream, key, &fingerprint, refusal)
                .map_err(|_| reused())?,
            false => Answer::Refused(refusal),
        };
        answered(answer)
    };
    for _ in 0..MAX_ATTEMPTS {
        let (state, version) = {
            let guard = store.read().map_err(|_| CommandError::StorePoisoned)?;
            // A repeat answers before the rules, as in lesson 8.
            if let Some(answer) =
                (guard.answer(&stream, key, &fingerprint)).map_err(|_| reused())?
            {
                return answered(answer);
            }
            load(&guard, account)
        };
        let events = match decide(command, &state) {
            Ok(events) => events,
            Err(error) => return refuse(Refusal::Rejected(error)),
        };
        let appended = store
            .write()
            .map_err(|_| CommandError::StorePoisoned)?
            .append(
                &stream,
                ExpectedVersion::Exact(version),
                events.into_iter().map(Event::Account).collect(),
                &envelope.metadata,
                Some((key.clone(), fingerprint.clone())),
            );
        match appended {
            Ok(appended) => return Ok(appended),
            Err(AppendError::VersionConflict { .. }) => continue,
            Err(AppendError::Refused(refusal)) => return answered(Answer::Refused(refusal)),
            Err(AppendError::IdempotencyKeyReused { .. }) => return Err(reused()),
        }
    }
    refuse(Refusal::Busy)
}

/// A key's answer as a command's result.
fn answered(answer: Answer) -> Result<Appended, CommandError> {
    match answer {
        Answer::Applied(version) => Ok(Appended::AlreadyApplied(version)),
        Answer::Refused(Refusal::Rejected(error)) => Err(CommandError::Rejected(error)),
        Answer::Refused(Refusal::Busy) => Err(CommandError::TooManyConflicts {
            attempts: MAX_ATTEMPTS,
        }),
    }
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl fmt::Display for AccountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountError::AlreadyOpened => f.write_str("the account is already open"),
            AccountError::NotOpened => f.write_str("the account has not been opened"),
            AccountError::Closed => f.write_str("the account is closed"),
            AccountError::ZeroAmount => f.write_str("the amount must not be zero"),
            AccountError::InsufficientFunds { balance, requested } => write!(
                f,
                "insufficient funds: balance {balance}, requested {requested}"
            ),
            AccountError::BalanceOverflow => f.write_str("the deposit would overflow the balance"),
            AccountError::BalanceNotZero { balance } => {
                write!(f, "the account still holds {balance}")
            }
        }
    }
}

impl std::error::Error for AccountError {}

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
