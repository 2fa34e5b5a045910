//! The on-disk format: a file header, then frames. Each frame is length,
//! length check, checksum, kind and payload, and the payload of an append
//! is `key=value` lines, which never hold a zero byte. The chapter draws
//! the layout; this file is the only code that knows it.

use std::fmt;

use super::codec::{DecodeError, EventRecord, decode_u64, encode_fields, parse_fields};
use super::crc::{crc32, crc32_of};
use super::ids::{CommandId, Fingerprint, Position, StreamId, Timestamp, Version};

// ANCHOR: constants
/// The log's file name in the store's directory.
pub const LOG_FILE: &str = "events.log";
/// The first 8 bytes of every log file.
pub const MAGIC: [u8; 8] = *b"ESWBLOG\0";
/// The format this code writes, and the only one it reads.
pub const FORMAT_VERSION: u32 = 1;
/// Bytes in the file header: magic, format version, header checksum.
pub const HEADER_LEN: usize = 16;
/// Bytes in a frame before its payload: length, length check, checksum, kind.
pub const FRAME_HEADER_LEN: usize = 13;
/// The largest payload a frame may have. A length above it is damage, never
/// a reason to allocate.
pub const MAX_PAYLOAD: usize = 1 << 20;
/// The kind of a frame that holds one append. Kind 0 is never written, so
/// a run of zero bytes never reads as a frame.
pub const KIND_APPEND: u8 = 1;
// ANCHOR_END: constants

/// The 16 bytes every log file starts with.
pub fn file_header() -> [u8; HEADER_LEN] {
    let mut header = [0; HEADER_LEN];
    header[..8].copy_from_slice(&MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    let check = crc32(&header[..12]);
    header[12..].copy_from_slice(&check.to_le_bytes());
    header
}

/// What is wrong with a file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderProblem {
    /// The file does not start with [`MAGIC`], or is shorter than a header.
    NotAnEventLog,
    /// The header's checksum does not match its first 12 bytes.
    Checksum,
    /// A format version this code does not read.
    UnsupportedVersion(u32),
}

/// Checks the header at the start of `file`.
pub(super) fn check_header(file: &[u8]) -> Result<(), HeaderProblem> {
    let Some(header) = file.get(..HEADER_LEN) else {
        return Err(HeaderProblem::NotAnEventLog);
    };
    if header[..8] != MAGIC {
        return Err(HeaderProblem::NotAnEventLog);
    }
    if crc32(&header[..12]).to_le_bytes() != header[12..16] {
        return Err(HeaderProblem::Checksum);
    }
    let version = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    if version != FORMAT_VERSION {
        return Err(HeaderProblem::UnsupportedVersion(version));
    }
    Ok(())
}

// ANCHOR: frame
/// Frames a payload: its length, a checksum of the length alone, a checksum
/// of the length, kind and payload, the kind, then the payload.
pub(super) fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let length = (payload.len() as u32).to_le_bytes();
    let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + payload.len());
    frame.extend_from_slice(&length);
    frame.extend_from_slice(&crc32(&length).to_le_bytes());
    frame.extend_from_slice(&crc32_of(&[&length, &[kind], payload]).to_le_bytes());
    frame.push(kind);
    frame.extend_from_slice(payload);
    frame
}
// ANCHOR_END: frame

/// Why a frame cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// The length field does not match its own checksum, so where the frame
    /// ends is unknown.
    LengthCheck,
    /// The length passed its check but is 0 or above [`MAX_PAYLOAD`]: no
    /// writer of this format wrote it.
    BadLength {
        /// The length as stored.
        length: u32,
    },
    /// The length passed its check but runs past the end of the file, and
    /// the bytes it would drop hold a whole frame: a torn write never cuts
    /// short a frame that has another whole frame after its start.
    SwallowsFrames {
        /// Where the first whole frame inside it starts, in bytes from the
        /// start of the file.
        frame_at: u64,
    },
    /// The checksum does not match the length, kind and payload.
    Checksum,
    /// A frame kind this code does not know.
    UnknownKind {
        /// The kind as stored.
        kind: u8,
    },
    /// The checksum matches but the payload does not decode.
    Payload(DecodeError),
    /// The frame does not follow the frames before it: a version or
    /// position out of sequence, or a command id used twice.
    OutOfSequence,
    /// The frame holds no events and no command id: no writer of this
    /// format wrote it.
    EmptyFrame,
    /// `verify` only: the frame runs past the end of the file.
    Truncated,
    /// `verify` only: the frame differs from what the open store holds.
    NotInMemory,
}

/// What the scan found at one offset of the file.
pub(super) enum Scanned<'f> {
    /// A whole, checked frame, and the offset just past it.
    Frame { payload: &'f [u8], end: usize },
    /// The end of the file, exactly at a frame boundary.
    End,
    /// The remains of a write that never finished: everything from here on
    /// may be dropped.
    TornTail,
    /// Damage that a crash cannot explain.
    Corrupt(Damage),
}

// ANCHOR: scan
/// Reads the frame at `offset`. A bad frame is a torn tail only when
/// nothing but zeros comes after where it ends: a crash cuts the last write
/// short, or leaves zeros where it never arrived, but it never damages a
/// frame that has data after it.
pub(super) fn next_frame(file: &[u8], offset: usize) -> Scanned<'_> {
    let rest = &file[offset.min(file.len())..];
    if rest.is_empty() {
        return Scanned::End;
    }
    if rest.len() < FRAME_HEADER_LEN {
        return Scanned::TornTail;
    }
    let field =
        |at: usize| u32::from_le_bytes([rest[at], rest[at + 1], rest[at + 2], rest[at + 3]]);
    let (length, length_check, checksum, kind) = (field(0), field(4), field(8), rest[12]);
    if crc32(&rest[..4]) != length_check {
        return if only_zeros(rest) {
            Scanned::TornTail
        } else {
            Scanned::Corrupt(Damage::LengthCheck)
        };
    }
    let size = length as usize;
    if size == 0 || size > MAX_PAYLOAD {
        return Scanned::Corrupt(Damage::BadLength { length });
    }
    // Compared with what the file holds before anything is allocated or
    // sliced: a frame that claims more than that was cut short, unless a
    // whole frame starts inside it. A torn write leaves no whole frame
    // after its own start; a length damaged together with its check, which
    // the check cannot catch, could otherwise drop acknowledged frames.
    // No payload holds a zero byte (the codec escapes NUL) and every length
    // field does, so only offsets near frame headers get past the cheap
    // checks of `is_whole_frame`: the search costs a few checksums per
    // frame, whatever the data.
    if size > rest.len() - FRAME_HEADER_LEN {
        return match (1..rest.len()).find(|&at| is_whole_frame(&rest[at..])) {
            Some(at) => Scanned::Corrupt(Damage::SwallowsFrames {
                frame_at: (offset + at) as u64,
            }),
            None => Scanned::TornTail,
        };
    }
    let end = FRAME_HEADER_LEN + size;
    let payload = &rest[FRAME_HEADER_LEN..end];
    if crc32_of(&[&rest[..4], &[kind], payload]) != checksum {
        return if only_zeros(&rest[end..]) {
            Scanned::TornTail
        } else {
            Scanned::Corrupt(Damage::Checksum)
        };
    }
    if kind != KIND_APPEND {
        return Scanned::Corrupt(Damage::UnknownKind { kind });
    }
    Scanned::Frame {
        payload,
        end: offset + end,
    }
}
// ANCHOR_END: scan

/// Whether `bytes` start with a frame of a known kind whose length check
/// and checksum both pass. The cheap tests come first: a length's top byte
/// is zero (lengths are at most 2^20), and no payload holds a zero byte.
fn is_whole_frame(bytes: &[u8]) -> bool {
    let Some(header) = bytes.get(..FRAME_HEADER_LEN) else {
        return false;
    };
    if header[3] != 0 || header[12] != KIND_APPEND {
        return false;
    }
    let length = [header[0], header[1], header[2], header[3]];
    if crc32(&length).to_le_bytes() != header[4..8] {
        return false;
    }
    let size = u32::from_le_bytes(length) as usize;
    if size == 0 || size > MAX_PAYLOAD {
        return false;
    }
    bytes
        .get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + size)
        .is_some_and(|payload| {
            crc32_of(&[&length, &[header[12]], payload]).to_le_bytes() == header[8..12]
        })
}

fn only_zeros(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

/// What one append wrote: the stream, the stream's version and the log's
/// last position after it, when, the command that caused it, and the
/// records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Batch {
    pub(super) stream: StreamId,
    pub(super) version: Version,
    pub(super) position: Position,
    pub(super) recorded_at: Timestamp,
    pub(super) command: Option<(CommandId, Fingerprint)>,
    pub(super) records: Vec<EventRecord>,
}

// ANCHOR: batch
/// The payload of an append frame, as `key=value` lines (lesson 10's
/// encoding): the batch's fields, then `type`, `schema` and `data` for each
/// record, `data` holding the record's own payload as one escaped value.
pub(super) fn encode_batch(batch: &Batch) -> Vec<u8> {
    let numbers = [
        batch.version.0.to_string(),
        batch.position.0.to_string(),
        batch.recorded_at.0.to_string(),
    ];
    let mut fields: Vec<(&str, &str)> = vec![
        ("stream", batch.stream.as_str()),
        ("version", &numbers[0]),
        ("position", &numbers[1]),
        ("recorded_at", &numbers[2]),
    ];
    if let Some((id, fingerprint)) = &batch.command {
        fields.push(("command", id.as_str()));
        fields.push(("fingerprint", fingerprint.as_str()));
    }
    let schemas: Vec<String> = batch
        .records
        .iter()
        .map(|record| record.schema_version.to_string())
        .collect();
    for (record, schema) in batch.records.iter().zip(&schemas) {
        fields.push(("type", &record.event_type));
        fields.push(("schema", schema));
        fields.push(("data", &record.payload));
    }
    encode_fields(&fields).into_bytes()
}
// ANCHOR_END: batch

/// Reads an append frame's payload back, strictly: exactly the fields
/// [`encode_batch`] writes, in its order.
pub(super) fn decode_batch(payload: &[u8]) -> Result<Batch, DecodeError> {
    let mut fields = Fields {
        list: parse_fields(payload)?,
        at: 0,
    };
    let stream = StreamId::new(fields.take("stream")?);
    let version = Version(decode_u64("version", fields.take("version")?)?);
    let position = Position(decode_u64("position", fields.take("position")?)?);
    let recorded_at = Timestamp(decode_u64("recorded_at", fields.take("recorded_at")?)?);
    let command = if fields.next_is("command") {
        let id = CommandId::new(fields.take("command")?);
        Some((id, Fingerprint::from_stored(fields.take("fingerprint")?)))
    } else {
        None
    };
    let mut records = Vec::new();
    while fields.at < fields.list.len() {
        let event_type = fields.take("type")?.to_string();
        let schema = fields.take("schema")?;
        let schema_version = decode_u64("schema", schema)
            .ok()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| DecodeError::BadValue {
                field: "schema".to_string(),
                value: schema.to_string(),
            })?;
        let payload = fields.take("data")?.to_string();
        records.push(EventRecord {
            event_type,
            schema_version,
            payload,
        });
    }
    Ok(Batch {
        stream,
        version,
        position,
        recorded_at,
        command,
        records,
    })
}

/// Parsed fields, read one by one in their stored order.
struct Fields {
    list: Vec<(String, String)>,
    at: usize,
}

impl Fields {
    fn next_is(&self, name: &str) -> bool {
        self.list.get(self.at).is_some_and(|(key, _)| key == name)
    }

    fn take(&mut self, name: &'static str) -> Result<&str, DecodeError> {
        let found = self.list.get(self.at);
        self.at += 1;
        match found {
            Some((key, value)) if key == name => Ok(value),
            other => Err(DecodeError::UnexpectedField {
                expected: name,
                found: other.map(|(key, _)| key.clone()),
            }),
        }
    }
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::LengthCheck => f.write_str("the length does not match its check"),
            Damage::BadLength { length } => {
                write!(f, "a length of {length}, outside 1..={MAX_PAYLOAD}")
            }
            Damage::SwallowsFrames { frame_at } => write!(
                f,
                "the length runs past the end of the file, over a whole frame at byte {frame_at}"
            ),
            Damage::Checksum => f.write_str("the checksum does not match"),
            Damage::UnknownKind { kind } => write!(f, "unknown frame kind {kind}"),
            Damage::Payload(error) => write!(f, "the payload does not decode: {error}"),
            Damage::OutOfSequence => f.write_str("the frame does not follow the frames before it"),
            Damage::EmptyFrame => f.write_str("the frame holds no events and no command"),
            Damage::Truncated => f.write_str("the frame runs past the end of the file"),
            Damage::NotInMemory => f.write_str("the frame differs from what the store holds"),
        }
    }
}

impl fmt::Display for HeaderProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderProblem::NotAnEventLog => f.write_str("the file is not an event log"),
            HeaderProblem::Checksum => f.write_str("the header's checksum does not match"),
            HeaderProblem::UnsupportedVersion(version) => {
                write!(f, "format version {version} is not supported")
            }
        }
    }
}

impl std::error::Error for HeaderProblem {}

impl std::error::Error for Damage {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Damage::Payload(error) => Some(error),
            _ => None,
        }
    }
}
