//! Deliberately broken accounts ("mutants"): each is the real decider with
//! one small, plausible bug planted in `decide` or `evolve`. A test suite
//! earns trust by failing on them. Never use these for anything else.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use super::Decider;
use super::account::{
    AccountCommand, AccountDecider, AccountError, AccountEvent, AccountState, account_decider,
    decide, evolve,
};

/// The real account with its `decide` swapped for `decide`.
fn with_decide(
    decide: fn(&AccountCommand, &AccountState) -> Result<Vec<AccountEvent>, AccountError>,
) -> AccountDecider {
    Decider {
        decide,
        ..account_decider()
    }
}

// ANCHOR: whole_dollars
/// Bug: the withdrawal check compares whole dollars, so withdrawing 1.50
/// from a balance of 1.20 is accepted.
pub fn comparing_whole_dollars() -> AccountDecider {
    fn buggy(
        command: &AccountCommand,
        state: &AccountState,
    ) -> Result<Vec<AccountEvent>, AccountError> {
        if let (AccountCommand::WithdrawMoney { amount }, AccountState::Open { balance }) =
            (command, state)
        {
            // The planted bug: `/ 100` on both sides throws the cents away.
            if amount.0 != 0 && amount.0 / 100 <= balance.0 / 100 {
                return Ok(vec![AccountEvent::MoneyWithdrawn { amount: *amount }]);
            }
        }
        decide(command, state)
    }
    with_decide(buggy)
}
// ANCHOR_END: whole_dollars

/// Bug: `>=` where `>` belongs in the withdrawal check, so withdrawing the
/// whole balance is refused.
pub fn refusing_the_whole_balance() -> AccountDecider {
    fn buggy(
        command: &AccountCommand,
        state: &AccountState,
    ) -> Result<Vec<AccountEvent>, AccountError> {
        if let (AccountCommand::WithdrawMoney { amount }, AccountState::Open { balance }) =
            (command, state)
            && amount.0 != 0
            && amount >= balance
        {
            return Err(AccountError::InsufficientFunds {
                balance: *balance,
                requested: *amount,
            });
        }
        decide(command, state)
    }
    with_decide(buggy)
}

/// Bug: closing forgets to check the balance, so the money left vanishes.
pub fn closing_with_money_left() -> AccountDecider {
    fn buggy(
        command: &AccountCommand,
        state: &AccountState,
    ) -> Result<Vec<AccountEvent>, AccountError> {
        match (command, state) {
            (AccountCommand::CloseAccount, AccountState::Open { .. }) => {
                Ok(vec![AccountEvent::AccountClosed])
            }
            _ => decide(command, state),
        }
    }
    with_decide(buggy)
}

/// Bug: the deposit rule forgets the closed state, so a closed account takes
/// deposits (which `evolve` then ignores: the money is recorded but lost).
pub fn depositing_into_closed_accounts() -> AccountDecider {
    fn buggy(
        command: &AccountCommand,
        state: &AccountState,
    ) -> Result<Vec<AccountEvent>, AccountError> {
        match (command, state) {
            (AccountCommand::DepositMoney { amount }, AccountState::Closed) if amount.0 != 0 => {
                Ok(vec![AccountEvent::MoneyDeposited { amount: *amount }])
            }
            _ => decide(command, state),
        }
    }
    with_decide(buggy)
}

/// Bug: opening treats a closed account like one never opened, so a closed
/// account records a second `AccountOpened`.
pub fn reopening_closed_accounts() -> AccountDecider {
    fn buggy(
        command: &AccountCommand,
        state: &AccountState,
    ) -> Result<Vec<AccountEvent>, AccountError> {
        match (command, state) {
            (AccountCommand::OpenAccount { .. }, AccountState::Closed) => {
                decide(command, &AccountState::NotOpened)
            }
            _ => decide(command, state),
        }
    }
    with_decide(buggy)
}

// ANCHOR: stamping
/// The state of [`stamping_the_current_time`]: the account's state, and
/// when money last moved, in seconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamped {
    /// The real account's state.
    pub state: AccountState,
    /// When the last event was applied, as the clock said.
    pub at: u64,
}

/// Bug: `evolve` remembers when money last moved by reading the clock
/// instead of a time carried by the event, so the same events replayed on
/// another day give another state.
pub fn stamping_the_current_time() -> Decider<AccountCommand, AccountEvent, Stamped, AccountError> {
    fn buggy(stamped: Stamped, event: &AccountEvent) -> Stamped {
        // The planted bug: the time comes from the clock, not from the event.
        let now = SystemTime::now().duration_since(UNIX_EPOCH);
        Stamped {
            state: evolve(stamped.state, event),
            at: now.map_or(0, |since| since.as_secs()),
        }
    }
    Decider {
        initial_state: || Stamped {
            state: AccountState::NotOpened,
            at: 0,
        },
        evolve: buggy,
        decide: |command, stamped| decide(command, &stamped.state),
    }
}
// ANCHOR_END: stamping

impl fmt::Display for Stamped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, stamped at {}", self.state, self.at)
    }
}
