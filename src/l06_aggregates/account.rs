//! The bank account as a decider: its events, commands, state and errors,
//! `decide` (every business rule) and `evolve` (total and pure).

use std::fmt;

use super::store::Event;

// ANCHOR: cents
/// Money in whole cents, so that no amount is ever rounded. Display: `12.34`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cents(pub u64);
// ANCHOR_END: cents

// ANCHOR: events
/// Something that happened to a bank account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountEvent {
    /// A customer opened the account; it starts with a balance of zero.
    AccountOpened {
        /// The owner's name, trimmed.
        owner: String,
        /// The owner's email address, trimmed, as they typed it.
        email: String,
    },
    /// Money was paid in.
    MoneyDeposited {
        /// How much, never zero.
        amount: Cents,
    },
    /// Money was paid out.
    MoneyWithdrawn {
        /// How much, never zero and never more than the balance was.
        amount: Cents,
    },
    /// The account was closed, at a balance of zero, for good.
    AccountClosed,
}
// ANCHOR_END: events

impl Event for AccountEvent {
    fn event_type(&self) -> &'static str {
        match self {
            AccountEvent::AccountOpened { .. } => "AccountOpened",
            AccountEvent::MoneyDeposited { .. } => "MoneyDeposited",
            AccountEvent::MoneyWithdrawn { .. } => "MoneyWithdrawn",
            AccountEvent::AccountClosed => "AccountClosed",
        }
    }
}

// ANCHOR: commands
/// Something a customer asks of an account. It may be refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountCommand {
    /// Open the account for `owner`, reachable at `email`. The account
    /// cannot check that no other account has the email: where emails are
    /// unique, open accounts through `reservation::register` only.
    OpenAccount {
        /// The owner's name; must not be blank.
        owner: String,
        /// The owner's email; must have text on both sides of an `@`.
        email: String,
    },
    /// Pay `amount` in.
    DepositMoney {
        /// How much; must not be zero.
        amount: Cents,
    },
    /// Pay `amount` out.
    WithdrawMoney {
        /// How much; must not be zero or more than the balance.
        amount: Cents,
    },
    /// Close the account; only at a balance of zero.
    CloseAccount,
}
// ANCHOR_END: commands

// ANCHOR: state
/// What `decide` needs to know about an account, and nothing more: not the
/// owner's name or email, which no rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    /// No `AccountOpened` yet: the stream is empty.
    NotOpened,
    /// Open, holding `balance`.
    Open {
        /// The money in the account.
        balance: Cents,
    },
    /// Closed for good: every command is refused.
    Closed,
}
// ANCHOR_END: state

// ANCHOR: errors
/// Why an account refused a command: a business rule, not a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountError {
    /// The account was already opened (it may since have been closed).
    AlreadyOpened,
    /// The account has not been opened, so there is nothing to act on.
    NotOpened,
    /// The account is closed and accepts nothing more.
    Closed,
    /// The owner's name is blank.
    MissingOwner,
    /// The email has no `@` with text on both sides.
    InvalidEmail {
        /// The email as given.
        email: String,
    },
    /// A deposit or withdrawal of nothing.
    ZeroAmount,
    /// The withdrawal would take the balance below zero.
    InsufficientFunds {
        /// The balance at the time.
        balance: Cents,
        /// The amount asked for.
        requested: Cents,
    },
    /// The deposit would make the balance larger than a `u64` of cents.
    BalanceOverflow,
    /// The account still holds money, so it cannot be closed.
    BalanceNotZero {
        /// The money left in it.
        balance: Cents,
    },
}
// ANCHOR_END: errors

// ANCHOR: evolve
/// The state of an account before its first event.
pub fn initial_state() -> AccountState {
    AccountState::NotOpened
}

/// Applies one event to the state. Total and pure: it never fails, never
/// panics, and reads nothing but its arguments.
///
/// An event that cannot follow the state (which `decide` never produces)
/// leaves the state as it is, and arithmetic saturates instead of wrapping.
pub fn evolve(state: AccountState, event: &AccountEvent) -> AccountState {
    use AccountEvent::*;
    use AccountState::*;
    match (state, event) {
        (NotOpened, AccountOpened { .. }) => Open { balance: Cents(0) },
        (Open { balance }, MoneyDeposited { amount }) => Open {
            balance: Cents(balance.0.saturating_add(amount.0)),
        },
        (Open { balance }, MoneyWithdrawn { amount }) => Open {
            balance: Cents(balance.0.saturating_sub(amount.0)),
        },
        (Open { .. }, AccountClosed) => Closed,
        (state, _) => state,
    }
}
// ANCHOR_END: evolve

// ANCHOR: decide
/// Decides what happens when `command` meets an account in `state`: the
/// events to record, or the rule that refuses it. Every business rule of the
/// account lives here, checked in a fixed order: the account's state first,
/// then the command's arguments, then the balance.
///
/// # Errors
///
/// The [`AccountError`] of the first rule the command breaks.
pub fn decide(
    command: &AccountCommand,
    state: &AccountState,
) -> Result<Vec<AccountEvent>, AccountError> {
    use AccountCommand::*;
    use AccountState::*;
    match (command, *state) {
        (OpenAccount { owner, email }, NotOpened) => open(owner, email),
        (OpenAccount { .. }, Open { .. } | Closed) => Err(AccountError::AlreadyOpened),
        (_, NotOpened) => Err(AccountError::NotOpened),
        (_, Closed) => Err(AccountError::Closed),
        (DepositMoney { amount }, Open { balance }) => deposit(balance, *amount),
        (WithdrawMoney { amount }, Open { balance }) => withdraw(balance, *amount),
        (CloseAccount, Open { balance }) => close(balance),
    }
}
// ANCHOR_END: decide

fn open(owner: &str, email: &str) -> Result<Vec<AccountEvent>, AccountError> {
    let owner = owner.trim();
    if owner.is_empty() {
        return Err(AccountError::MissingOwner);
    }
    let email = email.trim();
    match email.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
            Ok(vec![AccountEvent::AccountOpened {
                owner: owner.to_string(),
                email: email.to_string(),
            }])
        }
        _ => Err(AccountError::InvalidEmail {
            email: email.to_string(),
        }),
    }
}

fn deposit(balance: Cents, amount: Cents) -> Result<Vec<AccountEvent>, AccountError> {
    if amount.0 == 0 {
        return Err(AccountError::ZeroAmount);
    }
    // The new balance is not recorded, only the amount; checking it here
    // keeps `evolve`'s saturating add from ever having to saturate.
    match balance.0.checked_add(amount.0) {
        Some(_) => Ok(vec![AccountEvent::MoneyDeposited { amount }]),
        None => Err(AccountError::BalanceOverflow),
    }
}

fn withdraw(balance: Cents, amount: Cents) -> Result<Vec<AccountEvent>, AccountError> {
    if amount.0 == 0 {
        return Err(AccountError::ZeroAmount);
    }
    if amount > balance {
        return Err(AccountError::InsufficientFunds {
            balance,
            requested: amount,
        });
    }
    Ok(vec![AccountEvent::MoneyWithdrawn { amount }])
}

fn close(balance: Cents) -> Result<Vec<AccountEvent>, AccountError> {
    if balance.0 > 0 {
        return Err(AccountError::BalanceNotZero { balance });
    }
    Ok(vec![AccountEvent::AccountClosed])
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
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
            AccountError::ZeroAmount => f.write_str("the amount must be more than zero"),
            AccountError::InsufficientFunds { balance, requested } => write!(
                f,
                "insufficient funds: the balance is {balance}, {requested} was requested"
            ),
            AccountError::BalanceOverflow => f.write_str("the deposit would overflow the balance"),
            AccountError::BalanceNotZero { balance } => {
                write!(
                    f,
                    "the account still holds {balance}, so it cannot be closed"
                )
            }
        }
    }
}

impl std::error::Error for AccountError {}
