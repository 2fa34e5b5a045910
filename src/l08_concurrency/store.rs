//! The generic event store of lesson 6, with the expected version widened to
//! [`ExpectedVersion`], and an idempotency index: every command that took
//! effect is remembered under its [`CommandKey`], checked in the same step as
//! the expected version.

use std::collections::HashMap;
use std::fmt;

/// The identity of one stream: the history of one thing, such as one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(String);

impl StreamId {
    /// Makes a stream id from any string, such as `"account-1"`.
    pub fn new(id: impl Into<String>) -> Self {
        StreamId(id.into())
    }
}

/// The number of an event within its stream, from 1; `Version(0)` is the
/// version of a stream with no events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64);

/// The place of an event in the whole store, from 1; `Position(0)` means
/// "before the first event".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position(pub u64);

/// When the store recorded an event, in seconds since the Unix epoch (UTC),
/// supplied by the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

/// The identity of one command, chosen by the client that sends it, so that
/// sending the same command again can be recognised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandId(String);

impl CommandId {
    /// Makes a command id from any string, such as `"req-7f3a"`.
    pub fn new(id: impl Into<String>) -> Self {
        CommandId(id.into())
    }
}

// ANCHOR: key
/// The key a command is remembered under. Client keys and derived keys are
/// different variants, so no id a client chooses can ever equal a key the
/// system derives for itself: `Client("tx-1/withdraw")` is not
/// `Transfer("tx-1", Withdraw)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CommandKey {
    /// The id a client sent with its command.
    Client(CommandId),
    /// One leg of the transfer a client sent with this id.
    Transfer(CommandId, Leg),
}

/// The two appends of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Leg {
    /// The money leaves the source account.
    Withdraw,
    /// The money arrives.
    Deposit,
}

/// What a command asked for, exactly enough that two different commands
/// never share a fingerprint. Built from a value's `Debug` text, which for a
/// derived `Debug` spells out every field; comparing it is what binds a key
/// to the command it was first used for. Enough for an index that lives
/// only as long as the process; `Debug` text is not stable across releases,
/// so a durable index needs a stable encoding of the command instead.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of anything that describes a command, such as the
    /// command itself.
    pub fn of(description: &impl fmt::Debug) -> Self {
        Fingerprint(format!("{description:?}"))
    }
}
// ANCHOR_END: key

/// What the store needs to know about an event type: its name.
pub trait Event {
    /// The event's type name, as it is recorded next to the event.
    fn event_type(&self) -> &'static str;
}

/// An event as the store keeps it, with the metadata recorded next to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent<E> {
    /// The stream the event belongs to.
    pub stream: StreamId,
    /// Its number within that stream, starting at 1.
    pub version: Version,
    /// Its number across the whole store, starting at 1.
    pub position: Position,
    /// The event's type name, such as `"MoneyWithdrawn"`.
    pub event_type: &'static str,
    /// When it was recorded, as supplied by the caller of `append`.
    pub recorded_at: Timestamp,
    /// The key of the command that caused it, if the caller gave one.
    pub command: Option<CommandKey>,
    /// The fact itself.
    pub event: E,
}

// ANCHOR: expected
/// What the caller believes about a stream when it appends to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No expectation: append whatever the stream holds. This is a plain
    /// log, and it cannot protect a rule that depends on earlier events.
    Any,
    /// The stream must have no events yet: the first write wins, every later
    /// one conflicts. Used to create things and to claim unique values.
    NoStream,
    /// The stream must be exactly at this version: nothing was appended since
    /// the caller loaded it. `Exact(Version(0))` accepts what `NoStream`
    /// accepts.
    Exact(Version),
}

/// Why the store refused an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendError {
    /// The stream was not where the caller expected it to be. Nothing was
    /// appended.
    VersionConflict {
        /// What the caller expected.
        expected: ExpectedVersion,
        /// The stream's version when the append was attempted.
        actual: Version,
    },
    /// The key was already used for a different command (another
    /// fingerprint, or another stream). Nothing was appended.
    IdempotencyKeyReused {
        /// The key.
        key: CommandKey,
    },
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// The events were appended; the stream is now at this version.
    Now(Version),
    /// The same command, under the same key, took effect before: nothing was
    /// appended. The version is the one its append reached.
    AlreadyApplied(Version),
}
// ANCHOR_END: expected

// ANCHOR: store
/// An in-memory, append-only event store with a per-stream compare-and-set
/// and an idempotency index.
///
/// Every event lives once, in `log`, in append order (its index is its
/// position minus one); `streams` maps each stream to the indexes of its own
/// events, so reading a stream never looks at another stream's events.
/// `commands` maps each key to the command that took effect under it.
#[derive(Debug)]
pub struct EventStore<E> {
    log: Vec<RecordedEvent<E>>,
    streams: HashMap<StreamId, Vec<usize>>,
    commands: HashMap<CommandKey, Applied>,
}

/// A command that took effect: where, what it asked for, and the version
/// its append reached.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Applied {
    stream: StreamId,
    fingerprint: Fingerprint,
    version: Version,
}
// ANCHOR_END: store

impl<E> Default for EventStore<E> {
    fn default() -> Self {
        EventStore {
            log: Vec::new(),
            streams: HashMap::new(),
            commands: HashMap::new(),
        }
    }
}

impl<E: Event> EventStore<E> {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    // ANCHOR: append
    /// Appends `events` to `stream` if the stream is where `expected` says,
    /// and returns the stream's new version. `command`, if given, is the key
    /// and fingerprint of the command that decided the events: a command
    /// that already took effect under that key is not appended again.
    ///
    /// Both checks and the append happen in one call on `&mut self`, so no
    /// other append can come between them. Appending no events still checks
    /// the expectation (and records the command), and returns the current
    /// version.
    ///
    /// # Errors
    ///
    /// [`AppendError::IdempotencyKeyReused`] when the key already belongs to
    /// a different command, and [`AppendError::VersionConflict`] when the
    /// stream's version does not match `expected`; nothing is appended then.
    pub fn append(
        &mut self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<E>,
        recorded_at: Timestamp,
        command: Option<(CommandKey, Fingerprint)>,
    ) -> Result<Appended, AppendError> {
        if let Some((key, fingerprint)) = &command
            && let Some(version) = self.applied(stream, key, fingerprint)?
        {
            return Ok(Appended::AlreadyApplied(version));
        }
        let actual = self.stream_version(stream);
        let holds = match expected {
            ExpectedVersion::Any => true,
            ExpectedVersion::NoStream => actual == Version(0),
            ExpectedVersion::Exact(version) => actual == version,
        };
        if !holds {
            return Err(AppendError::VersionConflict { expected, actual });
        }
        if !events.is_empty() {
            let indexes = self.streams.entry(stream.clone()).or_default();
            for event in events {
                let index = self.log.len();
                indexes.push(index);
                self.log.push(RecordedEvent {
                    stream: stream.clone(),
                    version: Version(indexes.len() as u64),
                    position: Position(index as u64 + 1),
                    event_type: event.event_type(),
                    recorded_at,
                    command: command.as_ref().map(|(key, _)| key.clone()),
                    event,
                });
            }
        }
        let version = self.stream_version(stream);
        if let Some((key, fingerprint)) = command {
            let stream = stream.clone();
            let applied = Applied {
                stream,
                fingerprint,
                version,
            };
            self.commands.insert(key, applied);
        }
        Ok(Appended::Now(version))
    }
    // ANCHOR_END: append

    // ANCHOR: applied
    /// Whether the command under `key` already took effect: `Some(version
    /// its append reached)` if it did, on `stream`, with this `fingerprint`;
    /// `None` if the key is unused. One hash lookup, whatever the length of
    /// the streams.
    ///
    /// # Errors
    ///
    /// [`AppendError::IdempotencyKeyReused`] when the key was used for a
    /// different command or on another stream.
    pub fn applied(
        &self,
        stream: &StreamId,
        key: &CommandKey,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Version>, AppendError> {
        match self.commands.get(key) {
            None => Ok(None),
            Some(applied) if &applied.stream == stream && &applied.fingerprint == fingerprint => {
                Ok(Some(applied.version))
            }
            Some(_) => Err(AppendError::IdempotencyKeyReused { key: key.clone() }),
        }
    }
    // ANCHOR_END: applied

    /// The events of one stream, oldest first; an unknown stream reads as
    /// empty.
    pub fn read_stream(&self, stream: &StreamId) -> Vec<&RecordedEvent<E>> {
        match self.streams.get(stream) {
            Some(indexes) => indexes.iter().map(|&index| &self.log[index]).collect(),
            None => Vec::new(),
        }
    }

    /// Every event after position `after`, across all streams, in append
    /// order.
    pub fn read_all(&self, after: Position) -> &[RecordedEvent<E>] {
        let start = usize::try_from(after.0).unwrap_or(usize::MAX);
        self.log.get(start..).unwrap_or(&[])
    }

    /// The version of `stream`: the number of events in it.
    pub fn stream_version(&self, stream: &StreamId) -> Version {
        Version(
            self.streams
                .get(stream)
                .map_or(0, |indexes| indexes.len() as u64),
        )
    }

    /// The position of the last event appended, or `Position(0)`.
    pub fn last_position(&self) -> Position {
        Position(self.log.len() as u64)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for CommandKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandKey::Client(id) => write!(f, "{id}"),
            CommandKey::Transfer(id, Leg::Withdraw) => write!(f, "{id} (withdrawal leg)"),
            CommandKey::Transfer(id, Leg::Deposit) => write!(f, "{id} (deposit leg)"),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(version) => write!(f, "{version}"),
        }
    }
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppendError::VersionConflict { expected, actual } => {
                write!(
                    f,
                    "version conflict: expected {expected}, stream is at {actual}"
                )
            }
            AppendError::IdempotencyKeyReused { key } => {
                write!(f, "the key {key} was already used for another command")
            }
        }
    }
}

impl std::error::Error for AppendError {}
