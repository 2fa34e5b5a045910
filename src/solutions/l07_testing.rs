//! Reference solutions for the lesson 7 exercises.

use crate::l07_testing::{
    AccountCommand, AccountDecider, AccountError, AccountEvent, Cents, RecordedEvent,
    ScenarioFailure, SplitMix64, Violation,
};

/// A scenario failure for the bank account.
pub type AccountScenarioFailure = ScenarioFailure<AccountCommand, AccountEvent, AccountError>;

fn opened() -> AccountEvent {
    AccountEvent::AccountOpened {
        owner: "Ada".into(),
        email: "ada@example.com".into(),
    }
}

/// Exercise 7.1: scenarios for closing an account.
///
/// # Errors
///
/// The first scenario that fails.
pub fn closing_scenarios(account: &AccountDecider) -> Result<(), Box<AccountScenarioFailure>> {
    use AccountCommand::*;
    let deposited = AccountEvent::MoneyDeposited { amount: Cents(120) };
    let withdrawn = AccountEvent::MoneyWithdrawn { amount: Cents(120) };
    let closed = AccountEvent::AccountClosed;

    // The happy paths: an empty account closes, and so does one emptied by a
    // withdrawal (the state, not the history, is what must be empty).
    account
        .given([opened()])
        .when(CloseAccount)
        .then([AccountEvent::AccountClosed])?;
    account
        .given([opened(), deposited.clone(), withdrawn])
        .when(CloseAccount)
        .then([AccountEvent::AccountClosed])?;

    // Money left: kills `closing_with_money_left`.
    account
        .given([opened(), deposited])
        .when(CloseAccount)
        .then_error(AccountError::BalanceNotZero {
            balance: Cents(120),
        })?;

    // A closed account refuses everything; the open case kills
    // `reopening_closed_accounts`, the deposit case kills
    // `depositing_into_closed_accounts`. One scenario per command is the
    // point: a mutant hides in whichever command you did not try.
    let after_close = [opened(), closed];
    account
        .given(after_close.clone())
        .when(OpenAccount {
            owner: "Ada".into(),
            email: "ada@example.com".into(),
        })
        .then_error(AccountError::AlreadyOpened)?;
    account
        .given(after_close.clone())
        .when(DepositMoney { amount: Cents(1) })
        .then_error(AccountError::Closed)?;
    account
        .given(after_close.clone())
        .when(WithdrawMoney { amount: Cents(1) })
        .then_error(AccountError::Closed)?;
    account
        .given(after_close)
        .when(CloseAccount)
        .then_error(AccountError::Closed)?;

    // Closing before opening is a state error too.
    account
        .given([])
        .when(CloseAccount)
        .then_error(AccountError::NotOpened)
}

/// Exercise 7.2: once `AccountClosed` is recorded, nothing follows it.
///
/// # Errors
///
/// A [`Violation`] when any event follows the close.
pub fn closed_account_never_changes(
    history: &[RecordedEvent<AccountEvent>],
) -> Result<(), Violation> {
    // Checked on the recorded events, not on the state: `evolve` ignores what
    // follows a close, so the state of a reopened account still says Closed
    // and a state-based check would pass. Asserting on events sees the bug.
    let mut after_close = history
        .iter()
        .skip_while(|recorded| recorded.event != AccountEvent::AccountClosed);
    let Some(closed) = after_close.next() else {
        return Ok(());
    };
    match after_close.next() {
        Some(later) => Err(Violation::new(
            "a closed account never changes",
            format!(
                "{} at {} follows the close at {}",
                later.event.event_type(),
                later.version,
                closed.version
            ),
        )),
        None => Ok(()),
    }
}

/// Exercise 7.3: `count` commands that the account accepts, one after the
/// other, ending early only when the account closes.
pub fn valid_commands(rng: &mut SplitMix64, count: usize) -> Vec<AccountCommand> {
    // The generator keeps its own, tiny model of the account (is it open,
    // what is the balance) rather than calling `decide` and `evolve`: a
    // generator built on the code under test would inherit its bugs, and
    // would quietly stop producing the commands a bug rejects.
    let mut commands = Vec::with_capacity(count);
    let mut opened = false;
    let mut balance: u64 = 0;
    while commands.len() < count {
        let command = if !opened {
            opened = true;
            AccountCommand::OpenAccount {
                owner: "Ada".into(),
                email: "ada@example.com".into(),
            }
        } else if balance == 0 && rng.below(8) == 0 {
            commands.push(AccountCommand::CloseAccount);
            break;
        } else if balance > 0 && rng.below(2) == 0 {
            // Sometimes the whole balance, the edge a `>=` bug sits on.
            let amount = if rng.below(4) == 0 {
                balance
            } else {
                1 + rng.below(balance)
            };
            balance -= amount;
            AccountCommand::WithdrawMoney {
                amount: Cents(amount),
            }
        } else {
            let amount = 25 * (1 + rng.below(12));
            balance += amount;
            AccountCommand::DepositMoney {
                amount: Cents(amount),
            }
        };
        commands.push(command);
    }
    commands
}

/// Exercise 7.4: `decide` accepts a command exactly when an independent
/// model of the rules says it should.
///
/// # Errors
///
/// A [`Violation`] naming the first command the two disagree on.
pub fn agrees_with_a_model(
    account: &AccountDecider,
    commands: &[AccountCommand],
) -> Result<(), Violation> {
    // The model is the rules as you would write them on a card, with none
    // of `decide`'s structure: three variables and one expression per
    // command. It predicts accept or reject only; predicting which error
    // too would find rule-order bugs, at the price of a model as long as
    // `decide` itself.
    let mut opened = false;
    let mut closed = false;
    let mut balance: u128 = 0;
    let mut state = (account.initial_state)();
    for (number, command) in (1..).zip(commands) {
        let live = opened && !closed;
        let expected = match command {
            AccountCommand::OpenAccount { owner, email } => {
                !opened
                    && !owner.trim().is_empty()
                    && email
                        .trim()
                        .split_once('@')
                        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
            }
            AccountCommand::DepositMoney { amount } => {
                live && amount.0 > 0 && balance + u128::from(amount.0) <= u128::from(u64::MAX)
            }
            AccountCommand::WithdrawMoney { amount } => {
                live && amount.0 > 0 && u128::from(amount.0) <= balance
            }
            AccountCommand::CloseAccount => live && balance == 0,
        };
        let decided = (account.decide)(command, &state);
        if decided.is_ok() != expected {
            let verdict = |accepts| if accepts { "accepts" } else { "rejects" };
            return Err(Violation::new(
                "decide agrees with the model",
                format!(
                    "command {number} ({command:?}): the model {} it, decide {} it",
                    verdict(expected),
                    verdict(decided.is_ok())
                ),
            ));
        }
        if let Ok(events) = decided {
            state = events.iter().fold(state, account.evolve);
            match command {
                AccountCommand::OpenAccount { .. } => opened = true,
                AccountCommand::DepositMoney { amount } => balance += u128::from(amount.0),
                AccountCommand::WithdrawMoney { amount } => balance -= u128::from(amount.0),
                AccountCommand::CloseAccount => closed = true,
            }
        }
    }
    Ok(())
}
