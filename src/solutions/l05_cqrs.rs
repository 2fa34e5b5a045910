//! Reference solutions for the lesson 5 exercises.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::l05_cqrs::read::{Answer, Projection, ReadError, ReadModel};
use crate::l05_cqrs::shared::{EventLog, MessageEvent, Position, RecordedEvent, StreamId, UserId};
use crate::l05_cqrs::write::{MessageCommand, MessageError, WriteSide};

/// Exercise 5.1: builds a fresh `M` from the whole log on the calling thread,
/// `batch` events at a time, calling `progress` after each batch.
pub fn rebuild<M: ReadModel>(
    log: &EventLog,
    batch: usize,
    mut progress: impl FnMut(Position),
) -> Answer<M> {
    // The projector's loop minus the waiting: a rebuild stops at the end of
    // the log instead of following it. The batch size bounds how much is
    // copied, and how long the log stays locked, at once; a single
    // `read_after(Position(0), usize::MAX)` would copy the whole log while
    // every writer waits. Rebuilding into a fresh value and swapping it in
    // afterwards (rather than clearing a live one) is what lets a real system
    // rebuild a read model while the old one keeps answering queries. Lesson
    // 9 would also save the model with its position now and then, so that a
    // rebuild cut short resumes instead of starting over.
    let mut model = M::default();
    let mut position = Position(0);
    loop {
        let events = log.read_after(position, batch);
        let Some(last) = events.last() else {
            return Answer {
                as_of: position,
                value: model,
            };
        };
        for recorded in &events {
            model.apply(recorded);
        }
        position = last.position;
        progress(position);
    }
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

/// Exercise 5.2: every user's "sent" folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SentFolders {
    /// Per sender, their messages keyed by the position they were sent at.
    folders: BTreeMap<UserId, BTreeMap<Position, SentEntry>>,
    /// Where each live message is filed: its sender and its key.
    filed: BTreeMap<StreamId, (UserId, Position)>,
}

impl SentFolders {
    /// The live messages `user` sent, oldest first.
    pub fn sent_by(&self, user: &UserId) -> Vec<SentEntry> {
        self.folders
            .get(user)
            .map_or_else(Vec::new, |folder| folder.values().cloned().collect())
    }
}

impl ReadModel for SentFolders {
    fn apply(&mut self, recorded: &RecordedEvent) {
        // The mirror image of `Inboxes`: filed under the sender instead of
        // the recipient. `MessageRead` and `MessageDeleted` do not say who
        // sent the message, so the read model keeps its own index from message
        // to folder; asking the write side, or another read model, would couple
        // this one to them and break rebuilds. Keying by send position keeps the
        // folder in send order; keying by `StreamId` would sort "message-10"
        // before "message-2".
        let message = &recorded.stream;
        match &recorded.event {
            MessageEvent::MessageSent { from, to, text } => {
                let entry = SentEntry {
                    message: message.clone(),
                    to: to.clone(),
                    text: text.clone(),
                    read: false,
                };
                let folder = self.folders.entry(from.clone()).or_default();
                folder.insert(recorded.position, entry);
                self.filed
                    .insert(message.clone(), (from.clone(), recorded.position));
            }
            MessageEvent::MessageRead { .. } => {
                let Some((from, key)) = self.filed.get(message) else {
                    return;
                };
                if let Some(entry) = self.folders.get_mut(from).and_then(|f| f.get_mut(key)) {
                    entry.read = true;
                }
            }
            MessageEvent::MessageDeleted { .. } => {
                let Some((from, key)) = self.filed.remove(message) else {
                    return;
                };
                if let Some(folder) = self.folders.get_mut(&from) {
                    folder.remove(&key);
                }
            }
        }
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

/// Exercise 5.3: handles `command`, waits for `projection` to show it, then
/// queries.
///
/// # Errors
///
/// [`CommandQueryError::Rejected`] or [`CommandQueryError::NotYetVisible`].
pub fn handle_then_query<M: ReadModel, R>(
    write: &WriteSide,
    projection: &Projection<M>,
    message: &StreamId,
    command: MessageCommand,
    timeout: Duration,
    query: impl FnOnce(&M) -> R,
) -> Result<Answer<R>, CommandQueryError> {
    // Keeping the two failures apart matters to the caller: after
    // `Rejected` nothing happened and the user must fix the request; after
    // `NotYetVisible` the command *did* happen, so retrying it would be
    // wrong. A web handler would answer the first with 4xx and the second
    // with a success that says "refresh in a moment", or hand the position
    // to the client (as a consistency token, for example in a header) so
    // that its next GET waits instead.
    let position = write
        .handle(message, command)
        .map_err(CommandQueryError::Rejected)?;
    projection
        .wait_for(position, timeout)
        .map_err(CommandQueryError::NotYetVisible)?;
    projection
        .query(query)
        .map_err(CommandQueryError::NotYetVisible)
}

/// Exercise 5.4: answers from the first replica that is fresh enough, or
/// waits on the one furthest along.
///
/// # Errors
///
/// [`ReadError::Timeout`], or [`ReadError::ProjectorFailed`] from the
/// replica chosen.
pub fn query_freshest<M: ReadModel, R>(
    replicas: &[&Projection<M>],
    at_least: Position,
    timeout: Duration,
    query: impl FnOnce(&M) -> R,
) -> Result<Answer<R>, ReadError> {
    // A position read here can only be overtaken, never undone, so a replica
    // found fresh enough stays fresh enough for the query that follows.
    if let Some(fresh) = replicas.iter().find(|r| r.position() >= at_least) {
        return fresh.query(query);
    }
    // `max_by_key` returns the *last* maximum; folding by hand with a strict
    // `>` keeps the first, as the contract says. Skipping replicas whose
    // projector failed would be a reasonable other contract, but `Projection`
    // only reveals a failure through `query` or `wait_for`. Waiting on one replica is the simple
    // choice; waiting on all of them at once would need a condition
    // variable they share (or a thread per replica), and is what a database
    // proxy that routes reads by replication position does.
    let mut furthest: Option<(&Projection<M>, Position)> = None;
    for &replica in replicas {
        let position = replica.position();
        if furthest.is_none_or(|(_, best)| position > best) {
            furthest = Some((replica, position));
        }
    }
    let Some((replica, _)) = furthest else {
        return Err(ReadError::Timeout {
            waited_for: at_least,
            reached: Position(0),
        });
    };
    replica.wait_for(at_least, timeout)?;
    replica.query(query)
}
