//! The bank account of lessons 6 to 9, as release 3 of the bank knows it:
//! the events in their current shape, the state, and the pure `evolve`. What
//! changed since lesson 9: accounts have a currency, and opening an account
//! no longer pays money in (a first deposit is a `MoneyDeposited` of its own).
//! `decide` and the commands are left out: this lesson reads and writes
//! events, it does not decide them.

use std::fmt;

/// Money in whole cents (or pence). Display: `12.34`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cents(pub u64);

/// The currencies the bank keeps accounts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Currency {
    /// Euro.
    Eur,
    /// Pound sterling.
    Gbp,
    /// US dollar.
    Usd,
}

impl Currency {
    /// The ISO 4217 code, as stored: `EUR`, `GBP` or `USD`.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
            Currency::Usd => "USD",
        }
    }

    /// The currency with exactly this code, if the bank keeps it.
    pub fn from_code(code: &str) -> Option<Currency> {
        [Currency::Eur, Currency::Gbp, Currency::Usd]
            .into_iter()
            .find(|currency| currency.code() == code)
    }
}

// ANCHOR: events
/// Something that happened to a bank account, in the shape the current code
/// writes (schema version 3 of `AccountOpened`, 2 of the money events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountEvent {
    /// The account was opened for its owner, in a currency.
    AccountOpened {
        /// The owner's name.
        owner: String,
        /// The owner's email address.
        email: String,
        /// The currency of every amount on the account.
        currency: Currency,
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
// ANCHOR_END: events

impl AccountEvent {
    /// The event's type name, as stored in its record.
    pub fn event_type(&self) -> &'static str {
        match self {
            AccountEvent::AccountOpened { .. } => "AccountOpened",
            AccountEvent::MoneyDeposited { .. } => "MoneyDeposited",
            AccountEvent::MoneyWithdrawn { .. } => "MoneyWithdrawn",
            AccountEvent::AccountClosed => "AccountClosed",
        }
    }
}

/// The fold of an account's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountState {
    /// No `AccountOpened` yet.
    NotOpened,
    /// Open, holding `balance` in `currency`.
    Open {
        /// The money in the account.
        balance: Cents,
        /// The account's currency.
        currency: Currency,
    },
    /// Closed for good.
    Closed,
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
        (S::NotOpened, E::AccountOpened { currency, .. }) => S::Open {
            balance: Cents(0),
            currency: *currency,
        },
        (S::Open { balance, currency }, E::MoneyDeposited { amount }) => S::Open {
            balance: Cents(balance.0.saturating_add(amount.0)),
            currency,
        },
        (S::Open { balance, currency }, E::MoneyWithdrawn { amount }) => S::Open {
            balance: Cents(balance.0.saturating_sub(amount.0)),
            currency,
        },
        (S::Open { .. }, E::AccountClosed) => S::Closed,
        (state, _) => state,
    }
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
            AccountState::Open { balance, currency } => {
                write!(f, "open, balance {balance} {}", currency.code())
            }
            AccountState::Closed => f.write_str("closed"),
        }
    }
}
