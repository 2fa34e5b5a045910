//! The decider shape as a trait, and a repository that loads any decider's
//! state from its stream and saves its decisions with an expected version.

use std::fmt;

use super::account::{self, AccountCommand, AccountError, AccountEvent, AccountState};
use super::store::{AppendError, Event, EventStore, StreamId, Timestamp, Version};

// ANCHOR: decider
/// An aggregate written as a decider: three functions and no hidden state.
///
/// `decide` holds every rule and may refuse; `evolve` records what an event
/// means for the state and never fails; `initial_state` is where every
/// stream starts. Folding a stream's events with `evolve` from
/// `initial_state` gives the state `decide` needs.
pub trait Decider {
    /// What a caller asks for.
    type Command;
    /// What the decider records.
    type Event: Event;
    /// What `decide` needs to know, folded from the events.
    type State;
    /// Why `decide` refused a command.
    type Error;

    /// The state of a stream with no events.
    fn initial_state() -> Self::State;

    /// Applies one event. Total and pure.
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;

    /// The events a command produces in a state.
    ///
    /// # Errors
    ///
    /// The decider's error when a rule refuses the command.
    fn decide(
        command: &Self::Command,
        state: &Self::State,
    ) -> Result<Vec<Self::Event>, Self::Error>;
}
// ANCHOR_END: decider

/// The bank account decider: the functions of [`account`]
/// under the [`Decider`] trait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account;

impl Decider for Account {
    type Command = AccountCommand;
    type Event = AccountEvent;
    type State = AccountState;
    type Error = AccountError;

    fn initial_state() -> AccountState {
        account::initial_state()
    }

    fn evolve(state: AccountState, event: &AccountEvent) -> AccountState {
        account::evolve(state, event)
    }

    fn decide(
        command: &AccountCommand,
        state: &AccountState,
    ) -> Result<Vec<AccountEvent>, AccountError> {
        account::decide(command, state)
    }
}

/// A decider's state as loaded from its stream, and the version it was
/// loaded at: the version a save must expect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded<S> {
    /// The state folded from every event of the stream.
    pub state: S,
    /// The stream's version when it was read.
    pub version: Version,
}

/// Why a command did not change its stream: the domain refused it, or the
/// store did. The two are kept apart because callers handle them
/// differently (tell the user, or reload and try again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError<E> {
    /// A business rule refused the command.
    Rejected(E),
    /// The store refused the append.
    Store(AppendError),
}

/// Loads deciders from their streams and saves their decisions, for one
/// kind of decider `D`, over an [`EventStore`] of `D`'s events.
#[derive(Debug)]
pub struct Repository<D: Decider> {
    store: EventStore<D::Event>,
}

impl<D: Decider> Repository<D> {
    /// A repository over an empty store.
    pub fn new() -> Self {
        Repository {
            store: EventStore::new(),
        }
    }

    /// The store underneath, for reading.
    pub fn store(&self) -> &EventStore<D::Event> {
        &self.store
    }

    /// Folds every event of `stream` into a state, and notes the version.
    pub fn load(&self, stream: &StreamId) -> Loaded<D::State> {
        let events = self.store.read_stream(stream);
        let version = events.last().map_or(Version(0), |last| last.version);
        let state = events.iter().fold(D::initial_state(), |state, recorded| {
            D::evolve(state, &recorded.event)
        });
        Loaded { state, version }
    }

    /// Appends `events` decided on the state loaded at `loaded`.
    ///
    /// # Errors
    ///
    /// [`AppendError::VersionConflict`] if the stream moved on since `loaded`.
    pub fn save(
        &mut self,
        stream: &StreamId,
        loaded: Version,
        events: Vec<D::Event>,
        recorded_at: Timestamp,
    ) -> Result<Version, AppendError> {
        self.store.append(stream, loaded, events, recorded_at)
    }

    // ANCHOR: execute
    /// Load, decide, save: runs `command` against `stream` and returns the
    /// stream's new version.
    ///
    /// # Errors
    ///
    /// [`CommandError::Rejected`] when a rule refuses the command (nothing is
    /// appended), [`CommandError::Store`] when the stream moved on between
    /// the load and the save.
    pub fn execute(
        &mut self,
        stream: &StreamId,
        command: &D::Command,
        recorded_at: Timestamp,
    ) -> Result<Version, CommandError<D::Error>> {
        let loaded = self.load(stream);
        let events = D::decide(command, &loaded.state).map_err(CommandError::Rejected)?;
        self.save(stream, loaded.version, events, recorded_at)
            .map_err(CommandError::Store)
    }
    // ANCHOR_END: execute
}

impl<D: Decider> Default for Repository<D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: fmt::Display> fmt::Display for CommandError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Rejected(error) => error.fmt(f),
            CommandError::Store(error) => write!(f, "not saved: {error}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for CommandError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CommandError::Rejected(error) => Some(error),
            CommandError::Store(error) => Some(error),
        }
    }
}
