//! Lesson 6 — aggregates.
//!
//! An aggregate is a consistency boundary: the things that must be true
//! together live in one stream, and every rule about them is decided from
//! that stream alone. This lesson writes the bank account as a *decider*
//! (`decide` holds the rules, `evolve` folds events into state,
//! `initial_state` starts every stream), loads and saves it through a
//! repository that appends with the version it loaded, and keeps customers'
//! emails unique across accounts with a reservation stream per email.
//!
//! - [`store`]: the lesson 1 store, generic over its events, with an
//!   expected-version check on append;
//! - [`account`]: the bank account's events, commands, state, rules;
//! - [`repository`]: the [`Decider`] trait and a [`Repository`] for any decider;
//! - [`reservation`]: unique emails through reservation streams.
//!
//! Everything is re-exported here, so `use es_workbook::l06_aggregates::decide`
//! works.
//!
//! Chapter: `book/src/l06_aggregates.md`.
//! Run it: `cargo run --example l06_aggregates`.

pub mod account;
pub mod repository;
pub mod reservation;
pub mod store;

pub use account::{
    AccountCommand, AccountError, AccountEvent, AccountState, Cents, decide, evolve, initial_state,
};
pub use repository::{Account, CommandError, Decider, Loaded, Repository};
pub use reservation::{
    Claimed, EmailCommand, EmailError, EmailEvent, EmailReservation, EmailState, Registration,
    RegistrationError, email_stream, normalise_email, register,
};
pub use store::{
    AppendError, Event, EventStore, Position, RecordedEvent, StreamId, Timestamp, Version,
};
