//! The bank account of lesson 10 as release 3 writes it, with its mapper
//! condensed to the current schema versions: the events this lesson stores,
//! and the fold the example and the drills compare. Upcasting older versions
//! is lesson 10's business and is left out here.

use std::fmt;

use super::codec::{
    DecodeError, EventRecord, decode_u64, encode_fields, expect_fields, parse_fields,
};

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
}

/// Something that happened to a bank account.
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

/// Maps an event to the record that stores it, in the current schema:
/// `AccountOpened` v3, the money events v2, `AccountClosed` v1.
pub fn encode(event: &AccountEvent) -> EventRecord {
    let (event_type, schema_version, payload) = match event {
        AccountEvent::AccountOpened {
            owner,
            email,
            currency,
        } => (
            "AccountOpened",
            3,
            encode_fields(&[
                ("owner", owner),
                ("email", email),
                ("currency", currency.code()),
            ]),
        ),
        AccountEvent::MoneyDeposited { amount } => (
            "MoneyDeposited",
            2,
            encode_fields(&[("amount", &amount.0.to_string())]),
        ),
        AccountEvent::MoneyWithdrawn { amount } => (
            "MoneyWithdrawn",
            2,
            encode_fields(&[("amount", &amount.0.to_string())]),
        ),
        AccountEvent::AccountClosed => ("AccountClosed", 1, String::new()),
    };
    EventRecord {
        event_type: event_type.to_string(),
        schema_version,
        payload,
    }
}

/// Reads a record in the current schema back as its event, strictly.
///
/// # Errors
///
/// A [`DecodeError`] naming what is wrong.
pub fn decode(record: &EventRecord) -> Result<AccountEvent, DecodeError> {
    let current = match record.event_type.as_str() {
        "AccountOpened" => 3,
        "MoneyDeposited" | "MoneyWithdrawn" => 2,
        "AccountClosed" => 1,
        other => {
            return Err(DecodeError::UnknownEventType {
                event_type: other.to_string(),
            });
        }
    };
    if record.schema_version != current {
        return Err(DecodeError::UnknownSchemaVersion {
            event_type: record.event_type.clone(),
            schema_version: record.schema_version,
        });
    }
    let fields = parse_fields(record.payload.as_bytes())?;
    let amount = |fields: &[(String, String)]| {
        let values = expect_fields(fields, &["amount"])?;
        Ok::<_, DecodeError>(Cents(decode_u64("amount", values[0])?))
    };
    match record.event_type.as_str() {
        "AccountOpened" => {
            let values = expect_fields(&fields, &["owner", "email", "currency"])?;
            let currency = [Currency::Eur, Currency::Gbp, Currency::Usd]
                .into_iter()
                .find(|currency| currency.code() == values[2])
                .ok_or_else(|| DecodeError::BadValue {
                    field: "currency".to_string(),
                    value: values[2].to_string(),
                })?;
            Ok(AccountEvent::AccountOpened {
                owner: values[0].to_string(),
                email: values[1].to_string(),
                currency,
            })
        }
        "MoneyDeposited" => Ok(AccountEvent::MoneyDeposited {
            amount: amount(&fields)?,
        }),
        "MoneyWithdrawn" => Ok(AccountEvent::MoneyWithdrawn {
            amount: amount(&fields)?,
        }),
        _ => {
            expect_fields(&fields, &[])?;
            Ok(AccountEvent::AccountClosed)
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
