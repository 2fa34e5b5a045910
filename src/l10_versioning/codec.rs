//! The payload encoding: a record's fields as `key=value` lines, and the
//! strict parser that reads back exactly what the encoder writes.

use std::fmt;

use super::account::Currency;
use super::store::EventRecord;

// ANCHOR: raw_event
/// A record whose payload has been parsed into named fields but not yet
/// typed: the form that upcasters read and write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    /// The event type name.
    pub event_type: String,
    /// The schema version the fields are in.
    pub schema_version: u32,
    /// The fields, in the order they are stored.
    pub fields: Vec<(String, String)>,
}

impl RawEvent {
    /// A raw event from borrowed names and values.
    pub fn new(event_type: &str, schema_version: u32, fields: &[(&str, &str)]) -> RawEvent {
        RawEvent {
            event_type: event_type.to_string(),
            schema_version,
            fields: fields
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
        }
    }

    /// The value of the field `name`.
    ///
    /// # Errors
    ///
    /// [`DecodeError::MissingField`] when there is no such field.
    pub fn get(&self, name: &str) -> Result<&str, DecodeError> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .ok_or_else(|| DecodeError::MissingField {
                field: name.to_string(),
            })
    }

    /// Parses a stored record's payload, strictly.
    ///
    /// # Errors
    ///
    /// A [`DecodeError`] naming the first thing wrong with the payload.
    pub fn parse(record: &EventRecord) -> Result<RawEvent, DecodeError> {
        Ok(RawEvent {
            event_type: record.event_type.clone(),
            schema_version: record.schema_version,
            fields: parse_fields(&record.payload)?,
        })
    }

    /// The record that stores this raw event.
    pub fn to_record(&self) -> EventRecord {
        EventRecord {
            event_type: self.event_type.clone(),
            schema_version: self.schema_version,
            payload: encode_fields(&self.fields),
        }
    }
}
// ANCHOR_END: raw_event

// ANCHOR: encoding
/// Writes each field as a `key=value` line ending in `\n`. In a value, a
/// backslash is written `\\` and a newline `\n`; every other character,
/// `=` included, is written as it is. Keys are names from the schema table
/// and never contain `=` or a newline.
pub fn encode_fields(fields: &[(String, String)]) -> Vec<u8> {
    let mut out = String::new();
    for (key, value) in fields {
        out.push_str(key);
        out.push('=');
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('\n');
    }
    out.into_bytes()
}

/// Reads back what [`encode_fields`] writes, and nothing else: UTF-8, every
/// line ended by `\n`, a key up to the first `=`, and only the two escapes.
/// Every string it builds is a copy of part of the payload and each line
/// adds one field, so what it allocates grows with the payload's length,
/// never with a number read from it.
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
        let (key, value) = rest[..end]
            .split_once('=')
            .ok_or(DecodeError::MissingEquals { offset })?;
        let value = unescape(value, offset + key.len() + 1)?;
        fields.push((key.to_string(), value));
        offset += end + 1;
    }
    Ok(fields)
}

fn unescape(value: &str, offset: usize) -> Result<String, DecodeError> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.char_indices();
    while let Some((at, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some((_, '\\')) => out.push('\\'),
            Some((_, 'n')) => out.push('\n'),
            _ => {
                return Err(DecodeError::BadEscape {
                    offset: offset + at,
                });
            }
        }
    }
    Ok(out)
}
// ANCHOR_END: encoding

// ANCHOR: decode_u64
/// Reads the value of `field` as a `u64` written the way `u64`'s `Display`
/// writes it: ASCII digits, no sign, no leading zero unless it is `0`.
/// `str::parse` alone would also take `+7` and `007`.
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
            expected: "a whole number without sign or leading zeros, at most 2^64 - 1",
        }),
    }
}

/// Reads the value of `field` as a currency code the bank keeps.
///
/// # Errors
///
/// [`DecodeError::BadValue`] for any other text.
pub fn decode_currency(field: &str, text: &str) -> Result<Currency, DecodeError> {
    Currency::from_code(text).ok_or_else(|| DecodeError::BadValue {
        field: field.to_string(),
        value: text.to_string(),
        expected: "EUR, GBP or USD",
    })
}
// ANCHOR_END: decode_u64

// ANCHOR: decode_error
/// Why a record could not be read. Each variant names what is wrong, and
/// where: offsets count bytes from the start of the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The payload is not UTF-8 from this offset on.
    NotUtf8 {
        /// The first byte that is not part of valid UTF-8.
        offset: usize,
    },
    /// The line starting here has no `\n` at its end: the payload was cut.
    Unterminated {
        /// Where the unfinished line starts.
        offset: usize,
    },
    /// The line starting here has no `=`.
    MissingEquals {
        /// Where the line starts.
        offset: usize,
    },
    /// A backslash here is followed by neither `\` nor `n`.
    BadEscape {
        /// Where the backslash is.
        offset: usize,
    },
    /// No event type of this name is known.
    UnknownEventType {
        /// The name as stored.
        event_type: String,
    },
    /// The event type is known, but not this schema version of it.
    UnknownSchemaVersion {
        /// The event type.
        event_type: String,
        /// The version as stored.
        schema_version: u32,
    },
    /// The fields are not exactly those of the schema version, in order.
    WrongFields {
        /// The event type.
        event_type: String,
        /// The schema version.
        schema_version: u32,
        /// The fields that version has.
        expected: &'static [&'static str],
        /// The fields the payload has.
        found: Vec<String>,
    },
    /// A field that an upcaster or the mapper needs is absent.
    MissingField {
        /// Its name.
        field: String,
    },
    /// A field's value is not of the kind the field holds.
    BadValue {
        /// The field.
        field: String,
        /// The value as stored.
        value: String,
        /// What the field holds.
        expected: &'static str,
    },
    /// Upcasting went on for more steps than the schema table has entries: an
    /// upcaster that never reaches a current version.
    UpcastLoop {
        /// The event type where the chain was stopped.
        event_type: String,
        /// Its schema version there.
        schema_version: u32,
    },
}
// ANCHOR_END: decode_error

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
            DecodeError::BadEscape { offset } => {
                write!(f, "the backslash at byte {offset} is not `\\\\` or `\\n`")
            }
            DecodeError::UnknownEventType { event_type } => {
                write!(f, "unknown event type {event_type:?}")
            }
            DecodeError::UnknownSchemaVersion {
                event_type,
                schema_version,
            } => write!(f, "{event_type} has no schema version {schema_version}"),
            DecodeError::WrongFields {
                event_type,
                schema_version,
                expected,
                found,
            } => write!(
                f,
                "{event_type} v{schema_version} has the fields {expected:?}, found {found:?}"
            ),
            DecodeError::MissingField { field } => write!(f, "the field {field:?} is missing"),
            DecodeError::BadValue {
                field,
                value,
                expected,
            } => write!(f, "{field} is {value:?}, expected {expected}"),
            DecodeError::UpcastLoop {
                event_type,
                schema_version,
            } => write!(
                f,
                "upcasting {event_type} v{schema_version} never reaches a current version"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}
