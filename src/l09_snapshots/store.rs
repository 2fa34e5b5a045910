//! The event store, carried forward from lessons 1, 6 and 8, condensed: generic
//! over the event type, with an expected version and lesson 8's idempotency
//! check on append. New here: a read of a stream *after* a version that costs
//! only what it returns, and recorded times that never go backwards within a
//! stream.

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

/// The number of an event within its stream, from 1. `Version(0)` is the
/// version of a stream that has no events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64);

/// When the store recorded an event, in seconds since the Unix epoch (UTC),
/// supplied by the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The latest time the store accepts, as in lesson 4: 9999-12-31T23:59:59Z.
    /// A time in milliseconds for any date after 1978 is later than this.
    pub const LATEST: Timestamp = Timestamp(253_402_300_799);
}

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

/// What a command asked for, exactly enough that two different commands
/// never share a fingerprint: a value's `Debug` text, which for a derived
/// `Debug` spells out every field (lesson 8 says why that is enough in
/// memory, and not on disk).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of anything that describes a command, such as the
    /// command itself.
    pub fn of(description: &impl fmt::Debug) -> Self {
        Fingerprint(format!("{description:?}"))
    }
}

/// An event as the store keeps it, with the metadata the store assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent<E> {
    /// The stream the event belongs to.
    pub stream: StreamId,
    /// Its number within that stream, from 1.
    pub version: Version,
    /// When it was recorded, as supplied by the caller of `append`: never
    /// earlier than the event before it in the same stream.
    pub recorded_at: Timestamp,
    /// The fact itself.
    pub event: E,
}

/// Why the store refused an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendError {
    /// The stream moved on since the caller loaded it.
    VersionConflict {
        /// The version the caller loaded.
        expected: Version,
        /// The version the stream is really at.
        actual: Version,
    },
    /// The recorded time given is after [`Timestamp::LATEST`], so it is not a
    /// time in seconds (most likely milliseconds).
    TimeOutOfRange {
        /// The time the caller supplied.
        given: Timestamp,
    },
    /// The recorded time given is earlier than that of the stream's last
    /// event, so the stream's recorded times would no longer follow its
    /// versions.
    ClockWentBackwards {
        /// The recorded time of the stream's last event.
        last: Timestamp,
        /// The earlier time the caller supplied.
        given: Timestamp,
    },
    /// The command id was already used for a different command, or on
    /// another stream.
    CommandIdReused {
        /// The id.
        id: CommandId,
    },
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// The events were appended; the stream is now at this version.
    Now(Version),
    /// The same command, under the same id, took effect before, up to this
    /// version: nothing was appended.
    AlreadyApplied(Version),
}

/// An in-memory, append-only event store: for each stream, its events in
/// version order. (Lesson 1's global log is left out: nothing here reads
/// across streams.)
#[derive(Debug)]
pub struct EventStore<E> {
    streams: HashMap<StreamId, Vec<RecordedEvent<E>>>,
    /// Lesson 8's idempotency index: every command that took effect, by id.
    /// It lives beside the streams, not in them, so a load that starts from
    /// a snapshot still finds every command.
    commands: HashMap<CommandId, Applied>,
}

/// A command that took effect: where, what it asked for, and the version
/// its append reached.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Applied {
    stream: StreamId,
    fingerprint: Fingerprint,
    version: Version,
}

impl<E> Default for EventStore<E> {
    fn default() -> Self {
        EventStore {
            streams: HashMap::new(),
            commands: HashMap::new(),
        }
    }
}

impl<E> EventStore<E> {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `events` to `stream` if the stream is still at `expected`, and
    /// returns its new version. `command`, if given, is the id and
    /// fingerprint of the command that decided the events: a command that
    /// already took effect under that id is not appended again. The checks,
    /// the append and the record of the command happen in this one call on
    /// `&mut self`, so nothing can come between them. Appending no events
    /// checks, and changes nothing.
    ///
    /// # Errors
    ///
    /// [`AppendError::CommandIdReused`] when the id belongs to a different
    /// command or another stream; [`AppendError::VersionConflict`] when the
    /// stream is not at `expected`: someone else appended since the caller
    /// loaded it; [`AppendError::TimeOutOfRange`] when `recorded_at` is
    /// after [`Timestamp::LATEST`]; [`AppendError::ClockWentBackwards`] when
    /// it is earlier than the recorded time of the stream's last event.
    /// Nothing is appended then.
    pub fn append(
        &mut self,
        stream: &StreamId,
        expected: Version,
        events: Vec<E>,
        recorded_at: Timestamp,
        command: Option<(CommandId, Fingerprint)>,
    ) -> Result<Appended, AppendError> {
        if let Some((id, fingerprint)) = &command
            && let Some(version) = self.applied(stream, id, fingerprint)?
        {
            return Ok(Appended::AlreadyApplied(version));
        }
        let actual = self.stream_version(stream);
        if actual != expected {
            return Err(AppendError::VersionConflict { expected, actual });
        }
        if events.is_empty() {
            return Ok(Appended::Now(actual));
        }
        // A time too late for seconds would otherwise become the stream's
        // last time, and refuse every correct time after it as backwards.
        if recorded_at > Timestamp::LATEST {
            return Err(AppendError::TimeOutOfRange { given: recorded_at });
        }
        let recorded = self.streams.entry(stream.clone()).or_default();
        // Per stream, not per store: as-of-time queries only need one
        // stream's times in order, and one caller's wrong clock must not
        // block the other streams.
        if let Some(last) = recorded.last().map(|r| r.recorded_at)
            && recorded_at < last
        {
            return Err(AppendError::ClockWentBackwards {
                last,
                given: recorded_at,
            });
        }
        for event in events {
            recorded.push(RecordedEvent {
                stream: stream.clone(),
                version: Version(recorded.len() as u64 + 1),
                recorded_at,
                event,
            });
        }
        let version = Version(recorded.len() as u64);
        if let Some((id, fingerprint)) = command {
            let stream = stream.clone();
            let applied = Applied {
                stream,
                fingerprint,
                version,
            };
            self.commands.insert(id, applied);
        }
        Ok(Appended::Now(version))
    }

    /// Whether the command `id` already took effect: `Some(version its
    /// append reached)` if it did, on `stream`, with this `fingerprint`;
    /// `None` if the id is unused. One hash lookup, whatever the length of
    /// the streams.
    ///
    /// # Errors
    ///
    /// [`AppendError::CommandIdReused`] when the id was used for a different
    /// command or on another stream.
    pub fn applied(
        &self,
        stream: &StreamId,
        id: &CommandId,
        fingerprint: &Fingerprint,
    ) -> Result<Option<Version>, AppendError> {
        match self.commands.get(id) {
            None => Ok(None),
            Some(applied) if &applied.stream == stream && &applied.fingerprint == fingerprint => {
                Ok(Some(applied.version))
            }
            Some(_) => Err(AppendError::CommandIdReused { id: id.clone() }),
        }
    }

    /// The whole of one stream, oldest first. An unknown stream reads as empty.
    pub fn read_stream(&self, stream: &StreamId) -> &[RecordedEvent<E>] {
        self.read_stream_after(stream, Version(0))
    }

    // ANCHOR: read_tail
    /// The events of `stream` with a version greater than `after`, oldest
    /// first: the tail a loader needs after a snapshot taken at `after`.
    pub fn read_stream_after(&self, stream: &StreamId, after: Version) -> &[RecordedEvent<E>] {
        self.read_stream_range(stream, after, Version(u64::MAX))
    }

    /// The events of `stream` with `after < version <= up_to`, oldest first.
    /// Versions in this store are dense (it is the only writer and numbers
    /// every event itself), so the range is a slice of the stream: the read
    /// copies nothing and costs nothing, however long the stream is.
    pub fn read_stream_range(
        &self,
        stream: &StreamId,
        after: Version,
        up_to: Version,
    ) -> &[RecordedEvent<E>] {
        let Some(recorded) = self.streams.get(stream) else {
            return &[];
        };
        // Version v sits at index v - 1, so the slice is [after, up_to).
        let end = usize::try_from(up_to.0).map_or(recorded.len(), |end| end.min(recorded.len()));
        let start = usize::try_from(after.0).map_or(end, |start| start.min(end));
        &recorded[start..end]
    }
    // ANCHOR_END: read_tail

    /// The version of `stream`: the number of events in it.
    pub fn stream_version(&self, stream: &StreamId) -> Version {
        Version(
            self.streams
                .get(stream)
                .map_or(0, |recorded| recorded.len() as u64),
        )
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

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppendError::VersionConflict { expected, actual } => write!(
                f,
                "version conflict: expected the stream at {expected}, it is at {actual}"
            ),
            AppendError::TimeOutOfRange { given } => write!(
                f,
                "recorded time {} is after {}, so it is not in seconds",
                given.0,
                Timestamp::LATEST.0
            ),
            AppendError::ClockWentBackwards { last, given } => write!(
                f,
                "recorded time {} is earlier than the stream's last recorded time {}",
                given.0, last.0
            ),
            AppendError::CommandIdReused { id } => {
                write!(
                    f,
                    "the command id {id} was already used for another command"
                )
            }
        }
    }
}

impl std::error::Error for AppendError {}
