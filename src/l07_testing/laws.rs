//! Random account commands, a runner that plays them against a store, and
//! the laws every run must obey, each checked independently of `evolve`.

use std::fmt;

use super::Decider;
use super::account::{
    AccountCommand, AccountDecider, AccountEvent, AccountState, AppendError, Cents, EventStore,
    RecordedEvent, StreamId, Version,
};
use super::property::{SplitMix64, Violation};
use super::scenario::Outcome;

/// The most commands [`arbitrary_commands`] puts after the opening one.
pub const MAX_COMMANDS: u64 = 24;

// ANCHOR: generators
/// One random command, valid or not: blank owners, bad emails, zero and
/// enormous amounts, and closes with money left all turn up.
pub fn arbitrary_command(rng: &mut SplitMix64) -> AccountCommand {
    match rng.below(20) {
        0 => arbitrary_open(rng),
        1..=8 => AccountCommand::DepositMoney {
            amount: arbitrary_amount(rng),
        },
        9..=17 => AccountCommand::WithdrawMoney {
            amount: arbitrary_amount(rng),
        },
        _ => AccountCommand::CloseAccount,
    }
}

/// Mostly valid, sometimes with a blank owner or an email without an `@`.
fn arbitrary_open(rng: &mut SplitMix64) -> AccountCommand {
    let (owner, email) = match rng.below(6) {
        0 => ("  ", "ada@example.com"),
        1 => ("Ada", "ada.example.com"),
        _ => ("Ada", "ada@example.com"),
    };
    AccountCommand::OpenAccount {
        owner: owner.into(),
        email: email.into(),
    }
}

/// Amounts in steps of 0.25, so that withdrawals often empty the account
/// exactly and closing can succeed, with zero and near-`u64::MAX` amounts
/// mixed in to reach the edge rules.
fn arbitrary_amount(rng: &mut SplitMix64) -> Cents {
    match rng.below(10) {
        0 => Cents(0),
        1 => Cents(u64::MAX - rng.below(1000)),
        _ => Cents(25 * (1 + rng.below(12))),
    }
}

/// A random command sequence: usually a valid open first (almost every other
/// command is rejected before one), then up to [`MAX_COMMANDS`] random
/// commands.
pub fn arbitrary_commands(rng: &mut SplitMix64) -> Vec<AccountCommand> {
    let mut commands = Vec::new();
    match rng.below(10) {
        0 => {}
        1 => commands.push(arbitrary_open(rng)),
        _ => commands.push(AccountCommand::OpenAccount {
            owner: "Ada".into(),
            email: "ada@example.com".into(),
        }),
    }
    let count = rng.below(MAX_COMMANDS + 1);
    commands.extend((0..count).map(|_| arbitrary_command(rng)));
    commands
}
// ANCHOR_END: generators

// ANCHOR: run
/// What playing a command sequence against one stream left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run<E, S, R> {
    /// The stream's events, as the store recorded them.
    pub history: Vec<RecordedEvent<E>>,
    /// The state kept in memory, event by event, while the commands ran.
    pub state: S,
    /// What each command led to, in order.
    pub outcomes: Vec<Outcome<E, R>>,
}

/// Plays `commands` in order against one stream of a fresh store: decide
/// against the current state, append the events at the version decided
/// against, evolve. A rejected command records nothing and the run goes on,
/// since random commands are often invalid.
///
/// # Errors
///
/// An [`AppendError`] if the store refuses an append, which a correct store
/// never does here: nothing else writes to the stream.
pub fn run_commands<C, E: Clone, S, R>(
    decider: &Decider<C, E, S, R>,
    commands: &[C],
) -> Result<Run<E, S, R>, AppendError> {
    let stream = StreamId::new("account-1");
    let mut store = EventStore::new();
    let mut state = (decider.initial_state)();
    let mut version = Version(0);
    let mut outcomes = Vec::with_capacity(commands.len());
    for command in commands {
        match (decider.decide)(command, &state) {
            Ok(events) => {
                state = events.iter().fold(state, decider.evolve);
                version = store.append(&stream, version, events.clone())?;
                outcomes.push(Outcome::Events(events));
            }
            Err(rejection) => outcomes.push(Outcome::Rejected(rejection)),
        }
    }
    Ok(Run {
        history: store.read_stream(&stream).to_vec(),
        state,
        outcomes,
    })
}
// ANCHOR_END: run

// ANCHOR: laws
/// Law 1: replaying the recorded history twice gives the same state, and it
/// is the state that was kept while the commands ran.
///
/// # Errors
///
/// A [`Violation`] naming the states that differ.
pub fn replay_is_deterministic<C, E, S: PartialEq + fmt::Debug, R>(
    decider: &Decider<C, E, S, R>,
    run: &Run<E, S, R>,
) -> Result<(), Violation> {
    const LAW: &str = "replay is deterministic";
    let first = decider.fold(run.history.iter().map(|r| &r.event));
    let second = decider.fold(run.history.iter().map(|r| &r.event));
    if first != second {
        return Err(Violation::new(
            LAW,
            format!("two replays gave {first:?} and {second:?}"),
        ));
    }
    if first != run.state {
        return Err(Violation::new(
            LAW,
            format!("replay gave {first:?}, the run kept {:?}", run.state),
        ));
    }
    Ok(())
}

/// Law 1 across runs: replaying `history` now gives `recorded`, the state's
/// text as an earlier run wrote it down. The text is the state's `Display`,
/// which the lesson writes itself, not its `Debug`: derived `Debug` output
/// is not promised to stay the same across compiler versions, and a state
/// recorded for years must only change when the state does.
///
/// Two replays in one run read the clock a moment apart, so an `evolve` that
/// reads it can give the same state twice and pass
/// [`replay_is_deterministic`]. Compared with a replay from an earlier day,
/// it cannot.
///
/// # Errors
///
/// A [`Violation`] naming both states.
pub fn replay_matches_an_earlier_run<C, E, S: fmt::Display, R>(
    decider: &Decider<C, E, S, R>,
    history: &[RecordedEvent<E>],
    recorded: &str,
) -> Result<(), Violation> {
    let replayed = decider.fold(history.iter().map(|r| &r.event)).to_string();
    if replayed != recorded {
        return Err(Violation::new(
            "replay is deterministic",
            format!("replay gave {replayed}, an earlier run recorded {recorded}"),
        ));
    }
    Ok(())
}

/// The stream's versions are 1, 2, 3, … with no gap and no repeat.
///
/// # Errors
///
/// A [`Violation`] naming the first event out of place.
pub fn versions_are_dense<E>(history: &[RecordedEvent<E>]) -> Result<(), Violation> {
    for (expected, recorded) in (1..).zip(history) {
        if recorded.version != Version(expected) {
            return Err(Violation::new(
                "versions are dense",
                format!("event {expected} is at {}", recorded.version),
            ));
        }
    }
    Ok(())
}

/// After every event, deposits minus withdrawals so far is at least zero.
/// Summed in `i128` from the events themselves, so a bug in `evolve` (which
/// saturates at zero) cannot hide an overdraft.
///
/// # Errors
///
/// A [`Violation`] naming the first version where the sum went negative.
pub fn balance_is_never_negative(history: &[RecordedEvent<AccountEvent>]) -> Result<(), Violation> {
    let mut balance: i128 = 0;
    for recorded in history {
        balance += money_moved(&recorded.event);
        if balance < 0 {
            return Err(Violation::new(
                "balance is never negative",
                format!("the balance is {} at {}", signed(balance), recorded.version),
            ));
        }
    }
    Ok(())
}

/// The balance `evolve` arrives at equals deposits minus withdrawals, summed
/// from the events. A closed account must have been emptied first, so its
/// events sum to zero.
///
/// # Errors
///
/// A [`Violation`] naming both amounts.
pub fn balance_matches_the_events(
    decider: &AccountDecider,
    history: &[RecordedEvent<AccountEvent>],
) -> Result<(), Violation> {
    let expected: i128 = history.iter().map(|r| money_moved(&r.event)).sum();
    let actual = match decider.fold(history.iter().map(|r| &r.event)) {
        AccountState::Open { balance } => i128::from(balance.0),
        AccountState::NotOpened | AccountState::Closed => 0,
    };
    if actual != expected {
        return Err(Violation::new(
            "balance equals deposits minus withdrawals",
            format!(
                "the state holds {}, the events add up to {}",
                signed(actual),
                signed(expected)
            ),
        ));
    }
    Ok(())
}

/// Every law above, for one command sequence.
///
/// # Errors
///
/// The first [`Violation`] found.
pub fn account_laws(
    decider: &AccountDecider,
    commands: &[AccountCommand],
) -> Result<(), Violation> {
    let run = run_commands(decider, commands)
        .map_err(|error| Violation::new("appends never conflict", error.to_string()))?;
    replay_is_deterministic(decider, &run)?;
    versions_are_dense(&run.history)?;
    balance_is_never_negative(&run.history)?;
    balance_matches_the_events(decider, &run.history)
}
// ANCHOR_END: laws

/// How much an event changes the balance by, in cents.
fn money_moved(event: &AccountEvent) -> i128 {
    match event {
        AccountEvent::MoneyDeposited { amount } => i128::from(amount.0),
        AccountEvent::MoneyWithdrawn { amount } => -i128::from(amount.0),
        AccountEvent::AccountOpened { .. } | AccountEvent::AccountClosed => 0,
    }
}

/// Formats signed cents like [`Cents`]: `-0.30`.
fn signed(cents: i128) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}{}.{:02}", cents / 100, cents % 100)
}
