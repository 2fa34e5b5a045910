//! The store of lesson 8, carried forward with three changes: stream ids
//! and command keys are typed so that no client input can reach a stream or
//! a key the system derives for itself; every recorded event carries a
//! correlation id and a causation id; and it holds the events of two kinds
//! of stream, accounts and transfers.

use std::collections::HashMap;
use std::fmt;
use std::sync::RwLock;

use super::account::AccountEvent;
use super::transfer::{Refusal, TransferEvent};

/// The identity of one bank account, such as `"account-1"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(String);

impl AccountId {
    /// Makes an account id from any string.
    pub fn new(id: impl Into<String>) -> Self {
        AccountId(id.into())
    }
}

/// The id a client gives a command, so that sending it again can be
/// recognised. The id of a transfer is the id of the command that submitted
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandId(String);

impl CommandId {
    /// Makes a command id from any string, such as `"tx-1"`.
    pub fn new(id: impl Into<String>) -> Self {
        CommandId(id.into())
    }
}

// ANCHOR: ids
/// The identity of one stream. An account's stream and a transfer's stream
/// are different variants, so no account id a client chooses can name a
/// transfer's stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StreamId {
    /// The history of one account.
    Account(AccountId),
    /// The history of one transfer: the process manager's own stream.
    Transfer(CommandId),
}

/// The key a command is remembered under. A client's key and a key the
/// transfer derives are different variants: `Client("tx-1/debit")` is not
/// `Transfer("tx-1", Debit, v2)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CommandKey {
    /// The id a client sent with its command.
    Client(CommandId),
    /// One attempt at one step of the transfer submitted under this id: the
    /// attempt the `CommandIssued` at this version of its stream claimed.
    Transfer(CommandId, Step, Version),
}

/// The commands a transfer issues to accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Step {
    /// Withdraw the amount from the source.
    Debit,
    /// Deposit it into the destination.
    Credit,
    /// Pay it back into the source: the compensation.
    Refund,
}

/// What caused a message: a command, or an event at a place in a stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageId {
    /// The command with this key.
    Command(CommandKey),
    /// The event at this version of this stream.
    Event(StreamId, Version),
}

/// Where a message belongs in the story, carried by every command and
/// recorded with every event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// The client command that started the whole story, such as the
    /// submission of a transfer. Every message it leads to carries it.
    pub correlation: CommandId,
    /// The message that directly caused this one.
    pub causation: MessageId,
}
// ANCHOR_END: ids

/// The number of an event within its stream, from 1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64);

/// The place of an event in the whole store, from 1; `Position(0)` means
/// "before the first event".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position(pub u64);

/// A point in time, in seconds, as the injected clock tells it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

/// What a command asked for, exactly enough that two different commands
/// never share a fingerprint: the `Debug` text of a description of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of anything that describes a command.
    pub fn of(description: &impl fmt::Debug) -> Self {
        Fingerprint(format!("{description:?}"))
    }
}

/// Every event the store holds: an account's or a transfer's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Something that happened to an account.
    Account(AccountEvent),
    /// Something that happened to a transfer.
    Transfer(TransferEvent),
}

/// An event as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// The stream it belongs to.
    pub stream: StreamId,
    /// Its number within that stream, from 1.
    pub version: Version,
    /// Its number across the whole store, from 1.
    pub position: Position,
    /// Its correlation and causation.
    pub metadata: Metadata,
    /// The fact itself.
    pub event: Event,
}

impl RecordedEvent {
    /// This event's id, as later messages name it in their causation.
    pub fn id(&self) -> MessageId {
        MessageId::Event(self.stream.clone(), self.version)
    }
}

/// What the caller believes about a stream when it appends to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// The stream must have no events yet: the first write wins.
    NoStream,
    /// The stream must be exactly at this version.
    Exact(Version),
}

/// Why the store refused an append. Nothing was appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendError {
    /// The stream was not where the caller expected.
    VersionConflict {
        /// What the caller expected.
        expected: ExpectedVersion,
        /// The stream's version when the append was attempted.
        actual: Version,
    },
    /// The key was already used for a different command.
    IdempotencyKeyReused {
        /// The key.
        key: CommandKey,
    },
    /// The command under this key was refused before; a key keeps its
    /// first answer.
    Refused(Refusal),
}

/// The first answer a command got under its key, which every later send
/// under that key gets too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// It took effect; its append reached this version.
    Applied(Version),
    /// It was refused; nothing was appended.
    Refused(Refusal),
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// The events were appended; the stream is now at this version.
    Now(Version),
    /// The same command, under the same key, took effect before, reaching
    /// this version; nothing was appended.
    AlreadyApplied(Version),
}

/// The store as threads share it.
pub type SharedStore = RwLock<EventStore>;

/// An in-memory, append-only event store with a per-stream compare-and-set
/// and an index from command key to the command that took effect under it.
#[derive(Debug, Default)]
pub struct EventStore {
    log: Vec<RecordedEvent>,
    streams: HashMap<StreamId, Vec<usize>>,
    commands: HashMap<CommandKey, Applied>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Applied {
    stream: StreamId,
    fingerprint: Fingerprint,
    answer: Answer,
}

impl EventStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `events` to `stream` if the stream is where `expected` says,
    /// all with the same `metadata`. `command`, if given, is the key and
    /// fingerprint of the command that decided them: a command that already
    /// took effect under that key is not appended again. Both checks and
    /// the append happen in this one call.
    ///
    /// # Errors
    ///
    /// [`AppendError::IdempotencyKeyReused`] when the key belongs to another
    /// command, [`AppendError::VersionConflict`] when the stream is not at
    /// `expected`; nothing is appended then.
    pub fn append(
        &mut self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<Event>,
        metadata: &Metadata,
        command: Option<(CommandKey, Fingerprint)>,
    ) -> Result<Appended, AppendError> {
        if let Some((key, fingerprint)) = &command {
            match self.answer(stream, key, fingerprint)? {
                Some(Answer::Applied(version)) => return Ok(Appended::AlreadyApplied(version)),
                Some(Answer::Refused(refusal)) => return Err(AppendError::Refused(refusal)),
                None => {}
            }
        }
        let actual = self.stream_version(stream);
        let holds = match expected {
            ExpectedVersion::NoStream => actual == Version(0),
            ExpectedVersion::Exact(version) => actual == version,
        };
        if !holds {
            return Err(AppendError::VersionConflict { expected, actual });
        }
        let indexes = self.streams.entry(stream.clone()).or_default();
        for event in events {
            let index = self.log.len();
            indexes.push(index);
            self.log.push(RecordedEvent {
                stream: stream.clone(),
                version: Version(indexes.len() as u64),
                position: Position(index as u64 + 1),
                metadata: metadata.clone(),
                event,
            });
        }
        let version = Version(indexes.len() as u64);
        if let Some((key, fingerprint)) = command {
            let stream = stream.clone();
            let applied = Applied {
                stream,
                fingerprint,
                answer: Answer::Applied(version),
            };
            self.commands.insert(key, applied);
        }
        Ok(Appended::Now(version))
    }

    /// The answer the command under `key` got on `stream` with this
    /// `fingerprint`, or `None` if the key is unused.
    ///
    /// # Errors
    ///
    /// [`AppendError::IdempotencyKeyReused`] when the key was used for a
    /// different command or on another stream.
    pub fn answer(
        &self,
        stream: &StreamId,
        key: &CommandKey,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Answer>, AppendError> {
        match self.commands.get(key) {
            None => Ok(None),
            Some(applied) if &applied.stream == stream && &applied.fingerprint == fingerprint => {
                Ok(Some(applied.answer.clone()))
            }
            Some(_) => Err(AppendError::IdempotencyKeyReused { key: key.clone() }),
        }
    }

    /// Remembers that the command under `key` was refused, unless the key
    /// has an answer already: the first answer stays. Returns the key's
    /// answer.
    ///
    /// # Errors
    ///
    /// As [`EventStore::answer`].
    pub fn refuse(
        &mut self,
        stream: &StreamId,
        key: &CommandKey,
        fingerprint: &Fingerprint,
        refusal: Refusal,
    ) -> Result<Answer, AppendError> {
        if let Some(answer) = self.answer(stream, key, fingerprint)? {
            return Ok(answer);
        }
        let answer = Answer::Refused(refusal);
        let refused = Applied {
            stream: stream.clone(),
            fingerprint: fingerprint.clone(),
            answer: answer.clone(),
        };
        self.commands.insert(key.clone(), refused);
        Ok(answer)
    }

    /// The events of one stream, oldest first; an unknown stream reads as
    /// empty.
    pub fn read_stream(&self, stream: &StreamId) -> Vec<&RecordedEvent> {
        match self.streams.get(stream) {
            Some(indexes) => indexes.iter().map(|&index| &self.log[index]).collect(),
            None => Vec::new(),
        }
    }

    /// The event at `version` of `stream`, if there is one.
    pub fn read_event(&self, stream: &StreamId, version: Version) -> Option<&RecordedEvent> {
        let index = usize::try_from(version.0.checked_sub(1)?).ok()?;
        let &at = self.streams.get(stream)?.get(index)?;
        self.log.get(at)
    }

    /// Every event after position `after`, in append order.
    pub fn read_all(&self, after: Position) -> &[RecordedEvent] {
        let start = usize::try_from(after.0).unwrap_or(usize::MAX);
        self.log.get(start..).unwrap_or(&[])
    }

    /// The version of `stream`: the number of events in it.
    pub fn stream_version(&self, stream: &StreamId) -> Version {
        Version(self.streams.get(stream).map_or(0, |i| i.len() as u64))
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Ids are chosen by clients: quoted (and escaped), one can
            // never print like another stream.
            StreamId::Account(id) => write!(f, "account {:?}", id.0),
            StreamId::Transfer(id) => write!(f, "transfer {:?}", id.0),
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Debit => "debit",
            Step::Credit => "credit",
            Step::Refund => "refund",
        })
    }
}

impl fmt::Display for CommandKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Quoted as streams are, so a client's id never prints like a
            // key the lesson derives.
            CommandKey::Client(id) => write!(f, "client {:?}", id.0),
            CommandKey::Transfer(id, step, claim) => {
                write!(f, "transfer {:?} ({step} step, claim {claim})", id.0)
            }
        }
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageId::Command(key) => write!(f, "command {key}"),
            MessageId::Event(stream, version) => write!(f, "{stream} {version}"),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(version) => write!(f, "{version}"),
        }
    }
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppendError::VersionConflict { expected, actual } => write!(
                f,
                "version conflict: expected {expected}, stream is at {actual}"
            ),
            AppendError::IdempotencyKeyReused { key } => {
                write!(f, "the key {key} was already used for another command")
            }
            AppendError::Refused(refusal) => write!(f, "refused before: {refusal}"),
        }
    }
}

impl std::error::Error for AppendError {}
