//! Exercises for lesson 5 — CQRS.
//!
//! Each item below is a stub. Replace each `todo!()` with your code and
//! check your work with `cargo test --test l05_cqrs -- --ignored`.
//!
//! These functions sit in the application layer, above both sides, so they
//! may use the write side and the read side together; the two sides still
//! never use each other.

use std::fmt;
use std::time::Duration;

use crate::l05_cqrs::read::{Answer, Projection, ReadError, ReadModel};
use crate::l05_cqrs::shared::{EventLog, Position, RecordedEvent, StreamId, UserId};
use crate::l05_cqrs::write::{MessageCommand, MessageError, WriteSide};

// Used by the solutions, not yet by the stubs.
#[allow(unused_imports)]
use std::collections::BTreeMap;

/// Exercise 5.1: builds a fresh `M` from the whole log on the calling thread,
/// with no projector thread, and returns it with the position of the last
/// event applied (`Position(0)` for an empty log). It reads the log at most
/// `batch` events at a time (`batch` is at least 1), never all of it at once,
/// and after applying each batch calls `progress` with the position reached,
/// so that a long rebuild can say how far it has got.
pub fn rebuild<M: ReadModel>(
    log: &EventLog,
    batch: usize,
    progress: impl FnMut(Position),
) -> Answer<M> {
    // Your code here.
    let _ = (log, batch, progress);
    todo!("exercise 5.1: rebuild a read model from the log on this thread")
}

/// A message in its sender's "sent" folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentEntry {
    /// The message's id.
    pub message: StreamId,
    /// Who it was sent to.
    pub to: UserId,
    /// What it says.
    pub text: String,
    /// Whether the recipient has read it yet.
    pub read: bool,
}

/// Exercise 5.2: every user's "sent" folder: the live messages they sent,
/// in the order they were sent (not in the order of their ids), each showing
/// whether the recipient has read it. A deleted message leaves the folder,
/// whoever deleted it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentFolders {
    // Your fields here.
}

impl SentFolders {
    /// The live messages `user` sent, oldest first.
    pub fn sent_by(&self, user: &UserId) -> Vec<SentEntry> {
        let _ = user;
        todo!("exercise 5.2: a sent folder per user")
    }
}

impl ReadModel for SentFolders {
    fn apply(&mut self, recorded: &RecordedEvent) {
        // Your code here.
        let _ = recorded;
        todo!("exercise 5.2: a sent folder per user")
    }
}

/// Why [`handle_then_query`] could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandQueryError {
    /// The write side refused the command.
    Rejected(MessageError),
    /// The command was recorded, but the read model did not show it: it
    /// did not catch up in time, or its projector failed.
    NotYetVisible(ReadError),
}

impl fmt::Display for CommandQueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandQueryError::Rejected(_) => f.write_str("the command was rejected"),
            CommandQueryError::NotYetVisible(_) => {
                f.write_str("the command was recorded but is not visible yet")
            }
        }
    }
}

impl std::error::Error for CommandQueryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CommandQueryError::Rejected(error) => Some(error),
            CommandQueryError::NotYetVisible(error) => Some(error),
        }
    }
}

/// Exercise 5.3: what a web handler does for "save, then show the list":
/// handles `command`, waits up to `timeout` for `projection` to reach the
/// position the command returned, then runs `query` on it.
///
/// # Errors
///
/// [`CommandQueryError::Rejected`] if the write side refuses the command,
/// [`CommandQueryError::NotYetVisible`] if the read model does not catch up
/// in time or its projector has failed.
pub fn handle_then_query<M: ReadModel, R>(
    write: &WriteSide,
    projection: &Projection<M>,
    message: &StreamId,
    command: MessageCommand,
    timeout: Duration,
    query: impl FnOnce(&M) -> R,
) -> Result<Answer<R>, CommandQueryError> {
    // Your code here.
    let _ = (write, projection, message, command, timeout, query);
    todo!("exercise 5.3: handle a command, then query what it changed")
}

/// Exercise 5.4: answers `query` from the first replica in `replicas` that
/// has already reached `at_least`. If none has, waits up to `timeout` on the
/// one furthest along (the first of them, on a tie) and answers from it.
///
/// # Errors
///
/// Whatever waiting on the chosen replica returns: [`ReadError::Timeout`] if
/// it does not reach `at_least` in time, [`ReadError::ProjectorFailed`] if
/// its projector has failed (a failed replica keeps the position it stopped
/// at, and is chosen like any other). With no replicas at all,
/// [`ReadError::Timeout`] at once, with `reached: Position(0)`.
pub fn query_freshest<M: ReadModel, R>(
    replicas: &[&Projection<M>],
    at_least: Position,
    timeout: Duration,
    query: impl FnOnce(&M) -> R,
) -> Result<Answer<R>, ReadError> {
    // Your code here.
    let _ = (replicas, at_least, timeout, query);
    todo!("exercise 5.4: route a query to a fresh enough replica")
}
