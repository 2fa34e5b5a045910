//! Lesson 7 — testing event-sourced code.
//!
//! A small, std-only toolkit for testing deciders, which you can copy into
//! your own crate:
//!
//! - [`scenario`]: given past events, when a command, then the expected
//!   events or the expected error, with a failure report that shows both
//!   sides;
//! - [`property`]: a seeded [`SplitMix64`] generator and a property runner,
//!   [`check`], that tries many random command sequences, shrinks a failing
//!   one, and prints the seed that replays it;
//! - [`laws`]: random account commands and the laws every run of them must
//!   obey, and [`planted`] bugs to prove the tests catch what they claim to.
//!
//! The decider under test is lesson 6's bank account, carried forward in
//! [`account`].
//!
//! Chapter: `book/src/l07_testing.md`.
//! Run it: `cargo run --example l07_testing`.

pub mod account;
pub mod laws;
pub mod planted;
pub mod property;
pub mod scenario;

pub use account::{
    AccountCommand, AccountDecider, AccountError, AccountEvent, AccountState, AppendError, Cents,
    EventStore, RecordedEvent, StreamId, Version, account_decider, decide, evolve, initial_state,
};
pub use laws::{
    MAX_COMMANDS, Run, account_laws, arbitrary_command, arbitrary_commands,
    balance_is_never_negative, balance_matches_the_events, replay_is_deterministic,
    replay_matches_an_earlier_run, run_commands, versions_are_dense,
};
pub use property::{PropertyFailure, SplitMix64, Violation, assert_passes, check, shrink};
pub use scenario::{Given, Outcome, ScenarioFailure, When};

// ANCHOR: decider
/// Any decider, as three plain functions: the state before any event, how
/// one event changes the state, and what a command means in a state.
///
/// `C` is the command type, `E` the event type, `S` the state and `R` the
/// rejection that `decide` returns. Plain function pointers keep it easy to
/// build one from a module's functions, and to swap one of them for a
/// variant, as the planted bugs do.
pub struct Decider<C, E, S, R> {
    /// The state of a stream with no events.
    pub initial_state: fn() -> S,
    /// Applies one event to a state; total and pure.
    pub evolve: fn(S, &E) -> S,
    /// Decides the events a command produces, or rejects it.
    pub decide: fn(&C, &S) -> Result<Vec<E>, R>,
}

impl<C, E, S, R> Decider<C, E, S, R> {
    /// Folds `events` over the initial state.
    pub fn fold<'a>(&self, events: impl IntoIterator<Item = &'a E>) -> S
    where
        E: 'a,
    {
        events
            .into_iter()
            .fold((self.initial_state)(), |state, event| {
                (self.evolve)(state, event)
            })
    }
}
// ANCHOR_END: decider

// A derive would demand `C: Clone` and so on, which function pointers do not need.
impl<C, E, S, R> Clone for Decider<C, E, S, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C, E, S, R> Copy for Decider<C, E, S, R> {}
