//! Exercises for lesson 7 — testing event-sourced code.
//!
//! Each function below is a stub. Replace the `todo!()` at each `// TODO:` and
//! check your work with `cargo test --test l07_testing -- --ignored`.

use crate::l07_testing::{
    AccountCommand, AccountDecider, AccountError, AccountEvent, RecordedEvent, ScenarioFailure,
    SplitMix64, Violation,
};

// Used by the solutions, not yet by the stubs.
#[allow(unused_imports)]
use crate::l07_testing::{AccountState, Cents};

/// A scenario failure for the bank account.
pub type AccountScenarioFailure = ScenarioFailure<AccountCommand, AccountEvent, AccountError>;

/// Exercise 7.1: given/when/then scenarios for closing an account, run
/// against `account`. They must all pass against the real account and fail
/// against each of `planted::closing_with_money_left`,
/// `planted::depositing_into_closed_accounts` and
/// `planted::reopening_closed_accounts`.
///
/// # Errors
///
/// The first scenario that fails.
pub fn closing_scenarios(account: &AccountDecider) -> Result<(), Box<AccountScenarioFailure>> {
    // TODO: chain scenarios with `?`, such as
    // `account.given([..]).when(AccountCommand::CloseAccount).then([..])?;`
    let _ = account;
    todo!("exercise 7.1: scenarios that kill three mutants")
}

/// Exercise 7.2: the law "a closed account never changes": no event of any
/// kind follows `AccountClosed` in the history. The law's name and the
/// detail in the violation are yours to choose.
///
/// # Errors
///
/// A [`Violation`] when any event follows the close.
pub fn closed_account_never_changes(
    history: &[RecordedEvent<AccountEvent>],
) -> Result<(), Violation> {
    // TODO: look at the recorded events after the close.
    let _ = history;
    todo!("exercise 7.2: a closed account never changes")
}

/// Exercise 7.3: `count` commands that the account accepts one after the
/// other: an open first, then deposits, withdrawals (sometimes of the whole
/// balance) and, once the balance is zero, sometimes a close. After a close
/// no command is valid, so the sequence may end early, with the close.
pub fn valid_commands(rng: &mut SplitMix64, count: usize) -> Vec<AccountCommand> {
    // TODO: keep your own small model of the account (opened? balance?) and
    // pick only commands it says are valid.
    let _ = (rng, count);
    todo!("exercise 7.3: a generator of valid commands")
}

/// Exercise 7.4: the property "`decide` accepts a command exactly when an
/// independent model says it should". Run `commands` through
/// `account.decide` and `account.evolve`, and alongside them through a model
/// of the rules you write from scratch.
///
/// # Errors
///
/// A [`Violation`] naming the first command the two disagree on.
pub fn agrees_with_a_model(
    account: &AccountDecider,
    commands: &[AccountCommand],
) -> Result<(), Violation> {
    // TODO: write the rules again, independently, and compare verdicts.
    let _ = (account, commands);
    todo!("exercise 7.4: check decide against a model")
}
