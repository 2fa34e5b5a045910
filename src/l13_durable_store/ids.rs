//! The identities and values the store's API speaks in: streams, versions,
//! positions, command ids and their fingerprints, recorded events, and what
//! an append expects and did.

use std::fmt;

use super::codec::{EventRecord, encode_fields};

/// The identity of one stream: the history of one thing, such as one account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(String);

impl StreamId {
    /// Makes a stream id from any string, such as `"account-1"`.
    pub fn new(id: impl Into<String>) -> Self {
        StreamId(id.into())
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The number of an event within its stream, from 1; `Version(0)` is the
/// version of a stream with no events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64);

/// The place of an event in the whole log, from 1; `Position(0)` means
/// "before the first event".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position(pub u64);

/// When the store recorded an event, in seconds since the Unix epoch (UTC),
/// supplied by the caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

/// The identity of one command, chosen by the client that sends it, so that
/// sending the same command again, even after a restart, is recognised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandId(String);

impl CommandId {
    /// Makes a command id from any string, such as `"req-7f3a"`.
    pub fn new(id: impl Into<String>) -> Self {
        CommandId(id.into())
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// ANCHOR: fingerprint
/// What a command asked for, written down so that it reads the same after
/// a restart: the command's name and fields in lesson 10's `key=value`
/// encoding. (Lesson 8 used a value's `Debug` text, which is fine in memory
/// but may change with the compiler or the code, and must not be stored.)
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// The fingerprint of the command `name` with these fields, such as
    /// `Fingerprint::of("DepositMoney", &[("amount", "2500")])`.
    pub fn of(name: &str, fields: &[(&str, &str)]) -> Self {
        let mut all = vec![("command", name)];
        all.extend_from_slice(fields);
        Fingerprint(encode_fields(&all))
    }

    /// A fingerprint as read back from the log.
    pub(super) fn from_stored(text: &str) -> Self {
        Fingerprint(text.to_string())
    }

    /// The encoded text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
// ANCHOR_END: fingerprint

/// An event as the store keeps it, with the metadata recorded next to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// The stream the event belongs to.
    pub stream: StreamId,
    /// Its number within that stream, from 1.
    pub version: Version,
    /// Its number across the whole log, from 1.
    pub position: Position,
    /// When it was recorded, as supplied by the caller of `append`.
    pub recorded_at: Timestamp,
    /// The command that caused it, if the caller gave one.
    pub command: Option<CommandId>,
    /// The event, as the mapper encoded it.
    pub record: EventRecord,
}

/// What the caller believes about a stream when it appends to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// No expectation: append whatever the stream holds.
    Any,
    /// The stream must have no events yet.
    NoStream,
    /// The stream must be exactly at this version.
    Exact(Version),
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// The events are on disk and synced; the stream is now at this version.
    Now(Version),
    /// The same command, under the same id, took effect before (perhaps
    /// before a restart): nothing was appended. The version is the one its
    /// append reached.
    AlreadyApplied(Version),
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
