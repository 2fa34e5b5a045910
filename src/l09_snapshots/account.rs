//! The bank account decider, carried forward from lesson 6, condensed: events,
//! commands, state, rejections, and the pure `decide` / `evolve` pair.

use std::fmt;

/// Money in whole cents. Display: `12.34`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cents(pub u64);

/// Something that happened to a bank account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountEvent {
    /// The account was opened for its owner.
    AccountOpened {
        /// The owner's name.
        owner: String,
        /// The owner's email address.
        email: String,
    },
    /// Money was paid in.
    MoneyDeposited {
        /// How much.
        amount: Cents,
    },
    /// Money was taken out.
    MoneyWithdrawn {
        /// How much.
        amount: Cents,
    },
    /// The account was closed; it accepts nothing more.
    AccountClosed,
}

/// Something a customer asks the account to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountCommand {
    /// Open the account.
    OpenAccount {
        /// The owner's name; must not be blank.
        owner: String,
        /// The owner's email; must have text on both sides of an `@`.
        email: String,
    },
    /// Pay money in.
    DepositMoney {
        /// How much; must not be zero.
        amount: Cents,
    },
    /// Take money out.
    WithdrawMoney {
        /// How much; must not be zero or more than the balance.
        amount: Cents,
    },
    /// Close the account; the balance must be zero.
    CloseAccount,
}

/// What `decide` needs to know about an account: the fold of its events.
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

/// Why the account refused a command (a domain rejection, not a failure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountError {
    /// Open on an account that is open or closed.
    AlreadyOpened,
    /// Any other command before the account is opened.
    NotOpened,
    /// Any command but open on a closed account.
    Closed,
    /// The owner is blank.
    MissingOwner,
    /// The email has no `@` with text on both sides.
    InvalidEmail {
        /// The email as given.
        email: String,
    },
    /// A deposit or withdrawal of nothing.
    ZeroAmount,
    /// A withdrawal of more than the balance.
    InsufficientFunds {
        /// The balance.
        balance: Cents,
        /// The amount asked for.
        requested: Cents,
    },
    /// A deposit that would overflow the balance.
    BalanceOverflow,
    /// Closing an account that still holds money.
    BalanceNotZero {
        /// The balance left.
        balance: Cents,
    },
}

/// The state of an account with no events.
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

/// Decides what a command means for an account in `state`: the events to
/// record, or why not. State checks come first, then the arguments, then the
/// balance rules.
///
/// # Errors
///
/// An [`AccountError`] naming the rule the command breaks.
pub fn decide(
    command: &AccountCommand,
    state: &AccountState,
) -> Result<Vec<AccountEvent>, AccountError> {
    use AccountCommand as C;
    use AccountState as S;
    match (command, *state) {
        (C::OpenAccount { owner, email }, S::NotOpened) => open(owner, email),
        (C::OpenAccount { .. }, _) => Err(AccountError::AlreadyOpened),
        (_, S::NotOpened) => Err(AccountError::NotOpened),
        (_, S::Closed) => Err(AccountError::Closed),
        (C::DepositMoney { amount } | C::WithdrawMoney { amount }, _) if amount.0 == 0 => {
            Err(AccountError::ZeroAmount)
        }
        (C::DepositMoney { amount }, S::Open { balance }) => {
            match balance.0.checked_add(amount.0) {
                Some(_) => Ok(vec![AccountEvent::MoneyDeposited { amount: *amount }]),
                None => Err(AccountError::BalanceOverflow),
            }
        }
        (C::WithdrawMoney { amount }, S::Open { balance }) if *amount > balance => {
            Err(AccountError::InsufficientFunds {
                balance,
                requested: *amount,
            })
        }
        (C::WithdrawMoney { amount }, S::Open { .. }) => {
            Ok(vec![AccountEvent::MoneyWithdrawn { amount: *amount }])
        }
        (C::CloseAccount, S::Open { balance }) if balance.0 != 0 => {
            Err(AccountError::BalanceNotZero { balance })
        }
        (C::CloseAccount, S::Open { .. }) => Ok(vec![AccountEvent::AccountClosed]),
    }
}

fn open(owner: &str, email: &str) -> Result<Vec<AccountEvent>, AccountError> {
    let owner = owner.trim();
    if owner.is_empty() {
        return Err(AccountError::MissingOwner);
    }
    let has_both_sides = email
        .split_once('@')
        .is_some_and(|(name, domain)| !name.is_empty() && !domain.is_empty());
    if !has_both_sides {
        return Err(AccountError::InvalidEmail {
            email: email.to_string(),
        });
    }
    Ok(vec![AccountEvent::AccountOpened {
        owner: owner.to_string(),
        email: email.to_string(),
    }])
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl fmt::Display for AccountState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountState::NotOpened => f.write_str("not opened"),
            AccountState::Open { balance } => write!(f, "open, balance {balance}"),
            AccountState::Closed => f.write_str("closed"),
        }
    }
}

impl fmt::Display for AccountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountError::AlreadyOpened => f.write_str("the account is already opened"),
            AccountError::NotOpened => f.write_str("the account is not opened"),
            AccountError::Closed => f.write_str("the account is closed"),
            AccountError::MissingOwner => f.write_str("the owner is missing"),
            AccountError::InvalidEmail { email } => write!(f, "invalid email {email:?}"),
            AccountError::ZeroAmount => f.write_str("the amount is zero"),
            AccountError::InsufficientFunds { balance, requested } => write!(
                f,
                "insufficient funds: balance {balance}, requested {requested}"
            ),
            AccountError::BalanceOverflow => f.write_str("the balance would overflow"),
            AccountError::BalanceNotZero { balance } => {
                write!(f, "the balance is not zero: {balance}")
            }
        }
    }
}

impl std::error::Error for AccountError {}
