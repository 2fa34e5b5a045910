//! The bank account of lesson 6, carried forward and condensed: the decider
//! under test, and a small in-memory store to run it against.

use std::collections::HashMap;
use std::fmt;

use super::Decider;

/// Money in whole cents. Display: `12.34`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cents(pub u64);

/// Something that happened to a bank account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountEvent {
    /// A customer opened the account.
    AccountOpened {
        /// The customer's name.
        owner: String,
        /// The customer's email address.
        email: String,
    },
    /// Money was paid in.
    MoneyDeposited {
        /// How much.
        amount: Cents,
    },
    /// Money was paid out.
    MoneyWithdrawn {
        /// How much.
        amount: Cents,
    },
    /// The account was closed; it accepts nothing more.
    AccountClosed,
}

/// What a customer asks the account to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountCommand {
    /// Open the account for `owner`.
    OpenAccount {
        /// The customer's name; must not be blank.
        owner: String,
        /// The customer's email address; needs text on both sides of an `@`.
        email: String,
    },
    /// Pay money in.
    DepositMoney {
        /// How much; must not be zero.
        amount: Cents,
    },
    /// Pay money out.
    WithdrawMoney {
        /// How much; must not be zero or more than the balance.
        amount: Cents,
    },
    /// Close the account; the balance must be zero.
    CloseAccount,
}

/// The state `decide` needs, folded from the account's events.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// Why `decide` refused a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountError {
    /// Open on an account that is already open (or closed).
    AlreadyOpened,
    /// Any other command before the account is opened.
    NotOpened,
    /// Any command but open on a closed account.
    Closed,
    /// The owner's name is blank.
    MissingOwner,
    /// The email has no `@` with text on both sides.
    InvalidEmail {
        /// The email as given.
        email: String,
    },
    /// A deposit or withdrawal of zero.
    ZeroAmount,
    /// A withdrawal of more than the balance.
    InsufficientFunds {
        /// The balance when the withdrawal was asked for.
        balance: Cents,
        /// The amount asked for.
        requested: Cents,
    },
    /// The deposit would take the balance past what a `u64` of cents holds.
    BalanceOverflow,
    /// Close with money still in the account.
    BalanceNotZero {
        /// The money left.
        balance: Cents,
    },
}

impl AccountEvent {
    /// The event's type name, as a store records it.
    pub fn event_type(&self) -> &'static str {
        match self {
            AccountEvent::AccountOpened { .. } => "AccountOpened",
            AccountEvent::MoneyDeposited { .. } => "MoneyDeposited",
            AccountEvent::MoneyWithdrawn { .. } => "MoneyWithdrawn",
            AccountEvent::AccountClosed => "AccountClosed",
        }
    }
}

/// The state of an account that has no events.
pub fn initial_state() -> AccountState {
    AccountState::NotOpened
}

/// Applies one event. Total and pure: an event that cannot happen in `state`
/// leaves it unchanged, and arithmetic saturates instead of overflowing.
pub fn evolve(state: AccountState, event: &AccountEvent) -> AccountState {
    use AccountEvent::*;
    match (state, event) {
        (AccountState::NotOpened, AccountOpened { .. }) => AccountState::Open { balance: Cents(0) },
        (AccountState::Open { balance }, MoneyDeposited { amount }) => AccountState::Open {
            balance: Cents(balance.0.saturating_add(amount.0)),
        },
        (AccountState::Open { balance }, MoneyWithdrawn { amount }) => AccountState::Open {
            balance: Cents(balance.0.saturating_sub(amount.0)),
        },
        (AccountState::Open { .. }, AccountClosed) => AccountState::Closed,
        (state, _) => state,
    }
}

/// Decides what a command means for an account in `state`.
///
/// # Errors
///
/// Returns the first rule the command breaks, checking the account's state
/// first (not opened, closed, already opened), then the command's arguments,
/// then the balance.
pub fn decide(
    command: &AccountCommand,
    state: &AccountState,
) -> Result<Vec<AccountEvent>, AccountError> {
    use AccountCommand::*;
    match (command, state) {
        (OpenAccount { owner, email }, AccountState::NotOpened) => {
            let owner = owner.trim();
            if owner.is_empty() {
                return Err(AccountError::MissingOwner);
            }
            if !is_valid_email(email) {
                return Err(AccountError::InvalidEmail {
                    email: email.clone(),
                });
            }
            Ok(vec![AccountEvent::AccountOpened {
                owner: owner.to_string(),
                email: email.trim().to_string(),
            }])
        }
        (OpenAccount { .. }, _) => Err(AccountError::AlreadyOpened),
        (_, AccountState::NotOpened) => Err(AccountError::NotOpened),
        (_, AccountState::Closed) => Err(AccountError::Closed),
        (DepositMoney { amount }, AccountState::Open { balance }) => {
            if amount.0 == 0 {
                return Err(AccountError::ZeroAmount);
            }
            if balance.0.checked_add(amount.0).is_none() {
                return Err(AccountError::BalanceOverflow);
            }
            Ok(vec![AccountEvent::MoneyDeposited { amount: *amount }])
        }
        (WithdrawMoney { amount }, AccountState::Open { balance }) => {
            if amount.0 == 0 {
                return Err(AccountError::ZeroAmount);
            }
            if amount > balance {
                return Err(AccountError::InsufficientFunds {
                    balance: *balance,
                    requested: *amount,
                });
            }
            Ok(vec![AccountEvent::MoneyWithdrawn { amount: *amount }])
        }
        (CloseAccount, AccountState::Open { balance }) => {
            if balance.0 != 0 {
                return Err(AccountError::BalanceNotZero { balance: *balance });
            }
            Ok(vec![AccountEvent::AccountClosed])
        }
    }
}

/// The bank account as a [`Decider`], ready for scenarios and properties.
pub type AccountDecider = Decider<AccountCommand, AccountEvent, AccountState, AccountError>;

/// The bank account's decider: [`initial_state`], [`evolve`] and [`decide`].
pub fn account_decider() -> AccountDecider {
    Decider {
        initial_state,
        evolve,
        decide,
    }
}

/// Text, an `@`, and more text.
fn is_valid_email(email: &str) -> bool {
    email
        .trim()
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
}

/// The identity of one stream, such as `account-1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(String);

/// The number of an event within its stream; the first is version 1, and
/// `Version(0)` is a stream with no events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64);

/// An event as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent<E> {
    /// Its number within its stream.
    pub version: Version,
    /// The fact itself.
    pub event: E,
}

/// Why the store refused an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendError {
    /// The stream moved on since the caller loaded it.
    VersionConflict {
        /// The version the caller loaded.
        expected: Version,
        /// The version the stream is at.
        actual: Version,
    },
}

/// An in-memory event store, cut down to what this lesson's tests need.
#[derive(Debug)]
pub struct EventStore<E> {
    streams: HashMap<StreamId, Vec<RecordedEvent<E>>>,
}

impl StreamId {
    /// Makes a stream id, such as `StreamId::new("account-1")`.
    pub fn new(id: impl Into<String>) -> Self {
        StreamId(id.into())
    }
}

impl<E> Default for EventStore<E> {
    fn default() -> Self {
        EventStore {
            streams: HashMap::new(),
        }
    }
}

impl<E> EventStore<E> {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `events` to `stream` if it is still at `expected`, and returns
    /// its new version.
    ///
    /// # Errors
    ///
    /// [`AppendError::VersionConflict`] when the stream is not at `expected`;
    /// nothing is appended then.
    pub fn append(
        &mut self,
        stream: &StreamId,
        expected: Version,
        events: Vec<E>,
    ) -> Result<Version, AppendError> {
        let recorded = self.streams.entry(stream.clone()).or_default();
        let actual = Version(recorded.len() as u64);
        if actual != expected {
            return Err(AppendError::VersionConflict { expected, actual });
        }
        for event in events {
            let version = Version(recorded.len() as u64 + 1);
            recorded.push(RecordedEvent { version, event });
        }
        Ok(Version(recorded.len() as u64))
    }

    /// The events of `stream`, oldest first; empty for an unknown stream.
    pub fn read_stream(&self, stream: &StreamId) -> &[RecordedEvent<E>] {
        self.streams.get(stream).map_or(&[], Vec::as_slice)
    }
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

/// The state as text that this lesson defines, and so that no compiler
/// release changes: what a test records to compare with a later run.
impl fmt::Display for AccountState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountState::NotOpened => f.write_str("not opened"),
            AccountState::Open { balance } => write!(f, "open, balance {balance}"),
            AccountState::Closed => f.write_str("closed"),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl fmt::Display for AccountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountError::AlreadyOpened => f.write_str("the account is already opened"),
            AccountError::NotOpened => f.write_str("the account is not opened"),
            AccountError::Closed => f.write_str("the account is closed"),
            AccountError::MissingOwner => f.write_str("the owner's name is missing"),
            AccountError::InvalidEmail { email } => write!(f, "{email:?} is not an email address"),
            AccountError::ZeroAmount => f.write_str("the amount is zero"),
            AccountError::InsufficientFunds { balance, requested } => {
                write!(f, "cannot withdraw {requested} from a balance of {balance}")
            }
            AccountError::BalanceOverflow => f.write_str("the deposit would overflow the balance"),
            AccountError::BalanceNotZero { balance } => {
                write!(f, "cannot close an account holding {balance}")
            }
        }
    }
}

impl std::error::Error for AccountError {}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppendError::VersionConflict { expected, actual } => {
                write!(
                    f,
                    "expected the stream at {expected}, but it is at {actual}"
                )
            }
        }
    }
}

impl std::error::Error for AppendError {}
