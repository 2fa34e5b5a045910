//! Lesson 10's encoding, carried forward and condensed: a record is an event
//! type, a schema version and a payload of `key=value` lines, read back
//! strictly. This lesson writes the same lines to disk, for the events and
//! for the frame that holds them.

use std::fmt;

/// One event as it is stored: its type name, the version of that type's
/// schema it was written in, and the payload bytes. The store never looks
/// inside the payload; only the mapper (`account.rs`) reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventRecord {
    /// The event type name, such as `AccountOpened`.
    pub event_type: String,
    /// Which shape of that event type the payload has, from 1.
    pub schema_version: u32,
    /// The fields, encoded as `key=value` lines by [`encode_fields`]. Text,
    /// where lesson 10 kept bytes: the frame holds it as one escaped value.
    pub payload: String,
}

/// Writes each field as a `key=value` line ending in `\n`. In a value, a
/// backslash is written `\\`, a newline `\n` and a NUL byte `\0`; every
/// other character is written as it is. Keys never contain `=`, a newline
/// or a NUL. So an encoded payload never holds a zero byte, and the frame
/// around it can rely on that: every frame's length field holds one (see
/// `format.rs`), so no data a user stores can pass for a frame.
pub fn encode_fields(fields: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (key, value) in fields {
        out.push_str(key);
        out.push('=');
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\0' => out.push_str("\\0"),
                c => out.push(c),
            }
        }
        out.push('\n');
    }
    out
}

/// Reads back what [`encode_fields`] writes, and nothing else: UTF-8, every
/// line ended by `\n`, a key up to the first `=`, only the three escapes,
/// and no NUL byte anywhere (the encoder never writes one).
/// What it allocates grows with the payload, never with a number read from
/// it.
///
/// # Errors
///
/// A [`DecodeError`] with the byte offset of the first thing that is wrong.
pub fn parse_fields(payload: &[u8]) -> Result<Vec<(String, String)>, DecodeError> {
    let text = std::str::from_utf8(payload).map_err(|error| DecodeError::NotUtf8 {
        offset: error.valid_up_to(),
    })?;
    let mut fields = Vec::new();
    let mut offset = 0;
    while offset < text.len() {
        let rest = &text[offset..];
        let end = rest
            .find('\n')
            .ok_or(DecodeError::Unterminated { offset })?;
        if rest[..end].contains('\0') {
            return Err(DecodeError::RawNul { offset });
        }
        let (key, value) = rest[..end]
            .split_once('=')
            .ok_or(DecodeError::MissingEquals { offset })?;
        let value = unescape(value).ok_or(DecodeError::BadEscape { offset })?;
        fields.push((key.to_string(), value));
        offset += end + 1;
    }
    Ok(fields)
}

fn unescape(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('0') => out.push('\0'),
            _ => return None,
        }
    }
    Some(out)
}

/// Checks that `fields` are exactly `names`, in order, and returns their
/// values.
///
/// # Errors
///
/// [`DecodeError::WrongFields`] naming what was expected and what was found.
pub fn expect_fields<'f>(
    fields: &'f [(String, String)],
    names: &'static [&'static str],
) -> Result<Vec<&'f str>, DecodeError> {
    if !fields
        .iter()
        .map(|(key, _)| key.as_str())
        .eq(names.iter().copied())
    {
        return Err(DecodeError::WrongFields {
            expected: names,
            found: fields.iter().map(|(key, _)| key.clone()).collect(),
        });
    }
    Ok(fields.iter().map(|(_, value)| value.as_str()).collect())
}

/// Reads `text` as a `u64` written the way `u64`'s `Display` writes it:
/// ASCII digits, no sign, no leading zero unless it is `0`.
///
/// # Errors
///
/// [`DecodeError::BadValue`] for anything else, including numbers too big.
pub fn decode_u64(field: &str, text: &str) -> Result<u64, DecodeError> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    match text.parse() {
        Ok(number) if canonical => Ok(number),
        _ => Err(DecodeError::BadValue {
            field: field.to_string(),
            value: text.to_string(),
        }),
    }
}

/// Why bytes could not be read as fields, an event or a frame's payload.
/// Offsets count bytes from the start of the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The payload is not UTF-8 from this offset on.
    NotUtf8 {
        /// The first byte that is not part of valid UTF-8.
        offset: usize,
    },
    /// The line starting here has no `\n` at its end.
    Unterminated {
        /// Where the unfinished line starts.
        offset: usize,
    },
    /// The line starting here has no `=`.
    MissingEquals {
        /// Where the line starts.
        offset: usize,
    },
    /// The line starting here holds a NUL byte, which the encoder always
    /// escapes.
    RawNul {
        /// Where the line starts.
        offset: usize,
    },
    /// The line starting here has a backslash followed by none of `\`, `n`
    /// and `0`.
    BadEscape {
        /// Where the line starts.
        offset: usize,
    },
    /// No event type of this name is known.
    UnknownEventType {
        /// The name as stored.
        event_type: String,
    },
    /// The event type is known, but not this schema version of it (this
    /// lesson reads current versions only; lesson 10 upcasts older ones).
    UnknownSchemaVersion {
        /// The event type.
        event_type: String,
        /// The version as stored.
        schema_version: u32,
    },
    /// The fields are not exactly the expected ones, in order.
    WrongFields {
        /// The fields expected.
        expected: &'static [&'static str],
        /// The fields found.
        found: Vec<String>,
    },
    /// A frame's payload has another field, or none, where this one belongs.
    UnexpectedField {
        /// The field that belongs here.
        expected: &'static str,
        /// The field found instead, if any.
        found: Option<String>,
    },
    /// A field's value is not of the kind the field holds.
    BadValue {
        /// The field.
        field: String,
        /// The value as stored.
        value: String,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::NotUtf8 { offset } => write!(f, "byte {offset} is not valid UTF-8"),
            DecodeError::Unterminated { offset } => {
                write!(f, "the line at byte {offset} has no newline at its end")
            }
            DecodeError::MissingEquals { offset } => {
                write!(f, "the line at byte {offset} has no `=`")
            }
            DecodeError::RawNul { offset } => {
                write!(f, "the line at byte {offset} holds an unescaped NUL byte")
            }
            DecodeError::BadEscape { offset } => {
                write!(f, "the line at byte {offset} has a bad escape")
            }
            DecodeError::UnknownEventType { event_type } => {
                write!(f, "unknown event type {event_type:?}")
            }
            DecodeError::UnknownSchemaVersion {
                event_type,
                schema_version,
            } => write!(f, "{event_type} has no schema version {schema_version}"),
            DecodeError::WrongFields { expected, found } => {
                write!(f, "expected the fields {expected:?}, found {found:?}")
            }
            DecodeError::UnexpectedField { expected, found } => match found {
                Some(found) => write!(f, "expected the field {expected:?}, found {found:?}"),
                None => write!(f, "expected the field {expected:?}, found the end"),
            },
            DecodeError::BadValue { field, value } => {
                write!(f, "{field} has the value {value:?}, which it cannot hold")
            }
        }
    }
}

impl std::error::Error for DecodeError {}
