//! Given/when/then for any decider: given past events, when a command, then
//! the events it produces or the error it is rejected with.

use std::fmt;

use super::Decider;

// ANCHOR: outcome
/// What a command led to: the events it produced (perhaps none), or the
/// rejection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<E, R> {
    /// The command was accepted and produced these events.
    Events(Vec<E>),
    /// The command was rejected.
    Rejected(R),
}
// ANCHOR_END: outcome

// ANCHOR: scenario
/// A scenario with its history set: the events that already happened.
pub struct Given<C, E, S, R> {
    decider: Decider<C, E, S, R>,
    given: Vec<E>,
}

/// A scenario with its history and its command, ready to check.
pub struct When<C, E, S, R> {
    decider: Decider<C, E, S, R>,
    given: Vec<E>,
    command: C,
}

impl<C, E, S, R> Decider<C, E, S, R> {
    /// Starts a scenario: these events already happened, in this order.
    pub fn given(&self, events: impl IntoIterator<Item = E>) -> Given<C, E, S, R> {
        Given {
            decider: *self,
            given: events.into_iter().collect(),
        }
    }
}

impl<C, E, S, R> Given<C, E, S, R> {
    /// The command to decide, against the state folded from the history.
    pub fn when(self, command: C) -> When<C, E, S, R> {
        When {
            decider: self.decider,
            given: self.given,
            command,
        }
    }
}

impl<C, E: PartialEq, S, R: PartialEq> When<C, E, S, R> {
    /// Runs the scenario and returns what the command led to.
    pub fn outcome(&self) -> Outcome<E, R> {
        let state = self.decider.fold(&self.given);
        match (self.decider.decide)(&self.command, &state) {
            Ok(events) => Outcome::Events(events),
            Err(rejection) => Outcome::Rejected(rejection),
        }
    }

    /// Checks that the command produces exactly `expected`, in order. An
    /// empty `expected` means "accepted, and nothing needed recording".
    ///
    /// # Errors
    ///
    /// A [`ScenarioFailure`] holding both outcomes when they differ (boxed,
    /// to keep the `Ok` path small).
    pub fn then(
        self,
        expected: impl IntoIterator<Item = E>,
    ) -> Result<(), Box<ScenarioFailure<C, E, R>>> {
        self.verify(Outcome::Events(expected.into_iter().collect()))
    }

    /// Checks that the command is rejected with exactly `expected`.
    ///
    /// # Errors
    ///
    /// A [`ScenarioFailure`] holding both outcomes when they differ (boxed,
    /// to keep the `Ok` path small).
    pub fn then_error(self, expected: R) -> Result<(), Box<ScenarioFailure<C, E, R>>> {
        self.verify(Outcome::Rejected(expected))
    }

    fn verify(self, expected: Outcome<E, R>) -> Result<(), Box<ScenarioFailure<C, E, R>>> {
        let actual = self.outcome();
        if actual == expected {
            return Ok(());
        }
        Err(Box::new(ScenarioFailure {
            given: self.given,
            command: self.command,
            expected,
            actual,
        }))
    }
}
// ANCHOR_END: scenario

// ANCHOR: failure
/// A scenario whose command did not lead to what was expected. Its
/// `Display` is the report a failing test prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioFailure<C, E, R> {
    /// The history the scenario started from.
    pub given: Vec<E>,
    /// The command it decided.
    pub command: C,
    /// What the scenario said should happen.
    pub expected: Outcome<E, R>,
    /// What did happen.
    pub actual: Outcome<E, R>,
}

impl<C: fmt::Debug, E: fmt::Debug, R: fmt::Debug> fmt::Display for ScenarioFailure<C, E, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "scenario failed\n  given:")?;
        write_events(f, &self.given)?;
        write!(f, "\n  when:\n    {:?}", self.command)?;
        write!(f, "\n  then expected:")?;
        write_outcome(f, &self.expected)?;
        write!(f, "\n  but got:")?;
        write_outcome(f, &self.actual)
    }
}
// ANCHOR_END: failure

impl<C: fmt::Debug, E: fmt::Debug, R: fmt::Debug> std::error::Error for ScenarioFailure<C, E, R> {}

fn write_outcome<E: fmt::Debug, R: fmt::Debug>(
    f: &mut fmt::Formatter<'_>,
    outcome: &Outcome<E, R>,
) -> fmt::Result {
    match outcome {
        Outcome::Events(events) => write_events(f, events),
        Outcome::Rejected(rejection) => write!(f, "\n    rejected: {rejection:?}"),
    }
}

fn write_events<E: fmt::Debug>(f: &mut fmt::Formatter<'_>, events: &[E]) -> fmt::Result {
    if events.is_empty() {
        return write!(f, "\n    (no events)");
    }
    for (number, event) in (1..).zip(events) {
        write!(f, "\n    {number}. {event:?}")?;
    }
    Ok(())
}
