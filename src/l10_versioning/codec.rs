//! The payload encoding: a record's fields as `key=value` lines, and the
//! strict parser that reads back exactly what the encoder writes.

use std::fmt;

use super::account::Currency;
use super::store::EventRecord;

// ANCHOR: raw_event
/// A record whose payload has been parsed into named fields but not yet
/// typed: the form that upcasters read and write. Its keys are the names
/// in the schema table, never text read from a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    /// The event type name.
    pub event_type: String,
    /// The schema version the fields are in.
    pub schema_version: u32,
    /// The fields, in the order they are stored.
    pub fields: Vec<(&'static str, String)>,
}

impl RawEvent {
    /// A raw event from field names and borrowed values.
    pub fn new(event_type: &str, schema_version: u32, fields: &[(&'static str, &str)]) -> Self {
        let fields = fields.iter().map(|&(k, v)| (k, v.to_string())).collect();
        RawEvent {
            event_type: event_type.to_string(),
            schema_version,
            fields,
        }
    }

    /// The value of the field `name`.
    ///
    /// # Errors
    ///
    /// [`DecodeError::MissingField`] when there is no such field.
    pub fn get(&self, name: &'static str) -> Result<&str, DecodeError> {
        let found = self.fields.iter().find(|(key, _)| *key == name);
        found
            .map(|(_, value)| value.as_str())
            .ok_or(DecodeError::MissingField { field: name })
    }

    /// Parses a stored record's payload as exactly the fields `expected`.
    ///
    /// # Errors
    ///
    /// As [`parse_fields`].
    pub fn parse(record: &EventRecord, expected: &[&'static str]) -> Result<Self, DecodeError> {
        Ok(RawEvent {
            event_type: record.event_type.clone(),
            schema_version: record.schema_version,
            fields: parse_fields(&record.payload, expected)?,
        })
    }

    /// The record that stores this raw event, as [`encode_fields`] writes it.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BadKey`] as for [`encode_fields`].
    pub fn to_record(&self) -> Result<EventRecord, EncodeError> {
        let fields: Vec<(&str, &str)> = self.fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Ok(EventRecord {
            event_type: self.event_type.clone(),
            schema_version: self.schema_version,
            payload: encode_fields(&fields)?,
        })
    }
}
// ANCHOR_END: raw_event

// ANCHOR: encoding
/// Writes each field as a `key=value` line ending in `\n`. In a value, a
/// backslash is written `\\` and a newline `\n`; every other character,
/// `=` included, is written as it is.
///
/// # Errors
///
/// [`EncodeError::BadKey`] for a key that is empty or holds `=` or a
/// newline: it would not read back as itself.
pub fn encode_fields(fields: &[(&str, &str)]) -> Result<Vec<u8>, EncodeError> {
    let bad = fields
        .iter()
        .find(|(key, _)| key.is_empty() || key.contains(['=', '\n']));
    if let Some((key, _)) = bad {
        return Err(EncodeError::BadKey {
            key: key.to_string(),
        });
    }
    Ok(write_fields(fields))
}

/// [`encode_fields`] for keys this module wrote itself, from the schema.
pub(super) fn write_fields(fields: &[(&str, &str)]) -> Vec<u8> {
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
// ANCHOR_END: encoding

// ANCHOR: parsing
/// Reads back what [`encode_fields`] writes, and nothing else, one line at a
/// time: UTF-8, every line ended by `\n`, a key up to the first `=`, and
/// only the two escapes. It stops at the first error.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    payload: &'a [u8],
    offset: usize,
}

/// The fields of `payload`, read lazily: nothing past the line asked for
/// is looked at.
pub fn fields(payload: &[u8]) -> Fields<'_> {
    Fields { payload, offset: 0 }
}

impl<'a> Iterator for Fields<'a> {
    /// A field's key and value, or what is wrong with its line.
    type Item = Result<(&'a str, String), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let start = self.offset;
        let rest = self.payload.get(start..).filter(|rest| !rest.is_empty())?;
        self.offset = self.payload.len(); // after an error, nothing more
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            return Some(Err(DecodeError::Unterminated { offset: start }));
        };
        let line = read_line(&rest[..end], start);
        if line.is_ok() {
            self.offset = start + end + 1;
        }
        Some(line)
    }
}

/// One line without its `\n`, which starts at byte `start` of the payload.
fn read_line(line: &[u8], start: usize) -> Result<(&str, String), DecodeError> {
    let line = std::str::from_utf8(line).map_err(|e| DecodeError::NotUtf8 {
        offset: start + e.valid_up_to(),
    })?;
    let (key, value) = line
        .split_once('=')
        .ok_or(DecodeError::MissingEquals { offset: start })?;
    if key.is_empty() {
        return Err(DecodeError::EmptyKey { offset: start });
    }
    Ok((key, unescape(value, start + key.len() + 1)?))
}

/// Parses `payload` as exactly the fields `expected`, in order. It reads no
/// further than the first line that is not the next expected field, so it
/// keeps at most `expected.len()` values, each a copy of part of the payload.
///
/// # Errors
///
/// A [`DecodeError`] with the byte offset of the first thing that is wrong,
/// or [`DecodeError::MissingField`] when the payload ends too soon.
pub fn parse_fields(
    payload: &[u8],
    expected: &[&'static str],
) -> Result<Vec<(&'static str, String)>, DecodeError> {
    let mut lines = fields(payload);
    let values = expected
        .iter()
        .map(|&name| Ok((name, next_field(&mut lines, Some(name))?)));
    let values = values.collect::<Result<Vec<_>, DecodeError>>()?;
    next_field(&mut lines, None)?;
    Ok(values)
}

/// The value of the next field, which must be `expected`; with `None`,
/// checks that there is no next field.
pub(super) fn next_field(
    lines: &mut Fields<'_>,
    expected: Option<&'static str>,
) -> Result<String, DecodeError> {
    let offset = lines.offset;
    match (lines.next().transpose()?, expected) {
        (Some((key, value)), Some(name)) if key == name => Ok(value),
        (Some((key, _)), expected) => Err(DecodeError::UnexpectedField {
            offset,
            found: Excerpt::of(key),
            expected,
        }),
        (None, Some(field)) => Err(DecodeError::MissingField { field }),
        (None, None) => Ok(String::new()),
    }
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
// ANCHOR_END: parsing

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
            value: Excerpt::of(text),
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
        value: Excerpt::of(text),
        expected: "EUR, GBP or USD",
    })
}
// ANCHOR_END: decode_u64

// ANCHOR: decode_error
/// Why a record could not be read. Each variant names what is wrong, and
/// where: offsets count bytes from the start of the payload. Text from the
/// payload is kept only as an [`Excerpt`], so an error stays small however
/// large the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The line starting here is not UTF-8 from this offset on.
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
    /// The line starting here has nothing before its `=`.
    EmptyKey {
        /// Where the line starts.
        offset: usize,
    },
    /// A backslash here is followed by neither `\` nor `n`.
    BadEscape {
        /// Where the backslash is.
        offset: usize,
    },
    /// The line starting here is not the field the schema version has next.
    UnexpectedField {
        /// Where the line starts.
        offset: usize,
        /// Its key.
        found: Excerpt,
        /// The field expected there, or `None` when there should be no more.
        expected: Option<&'static str>,
    },
    /// A field of the schema version, or one an upcaster needs, is absent.
    MissingField {
        /// Its name.
        field: &'static str,
    },
    /// A field's value is not of the kind the field holds.
    BadValue {
        /// The field.
        field: String,
        /// The value as stored.
        value: Excerpt,
        /// What the field holds.
        expected: &'static str,
    },
    /// No event type of this name is known.
    UnknownEventType {
        /// The name as stored.
        event_type: Excerpt,
    },
    /// The event type is known, but not this schema version of it.
    UnknownSchemaVersion {
        /// The event type.
        event_type: String,
        /// The version as stored.
        schema_version: u32,
    },
    /// An upcaster returned fields that are not exactly those of the
    /// schema version it claims, in order.
    WrongFields {
        /// The event type.
        event_type: String,
        /// The schema version.
        schema_version: u32,
        /// The fields that version has.
        expected: &'static [&'static str],
        /// The fields the upcaster wrote.
        found: Vec<&'static str>,
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

/// At most the first [`Excerpt::MAX`] bytes of a text read from a payload,
/// and the text's whole length: what an error keeps of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt {
    /// The start of the text, cut at a character boundary.
    pub start: String,
    /// The length of the whole text, in bytes.
    pub len: usize,
}

impl Excerpt {
    /// The most bytes of a text an excerpt keeps.
    pub const MAX: usize = 64;

    /// The excerpt of `text`.
    pub fn of(text: &str) -> Self {
        let mut cut = text.len().min(Self::MAX);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        Excerpt {
            start: text[..cut].to_string(),
            len: text.len(),
        }
    }
}
// ANCHOR_END: decode_error

/// Why [`encode_fields`] refused to write a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// The key is empty or holds `=` or a newline.
    BadKey {
        /// The key.
        key: String,
    },
}

impl fmt::Display for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.len - self.start.len() {
            0 => write!(f, "{:?}", self.start),
            _ => write!(f, "{:?}… ({} bytes)", self.start, self.len),
        }
    }
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
            DecodeError::EmptyKey { offset } => write!(f, "the line at byte {offset} has no key"),
            DecodeError::BadEscape { offset } => {
                write!(f, "the backslash at byte {offset} is not `\\\\` or `\\n`")
            }
            DecodeError::UnexpectedField {
                offset,
                found,
                expected,
            } => {
                write!(
                    f,
                    "the line at byte {offset} has the field {found}, expected "
                )?;
                match expected {
                    Some(field) => write!(f, "{field:?}"),
                    None => f.write_str("no more fields"),
                }
            }
            DecodeError::MissingField { field } => write!(f, "the field {field:?} is missing"),
            DecodeError::BadValue {
                field,
                value,
                expected,
            } => write!(f, "{field} is {value}, expected {expected}"),
            DecodeError::UnknownEventType { event_type } => {
                write!(f, "unknown event type {event_type}")
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
                "an upcaster wrote {event_type} v{schema_version} with the fields {found:?}, \
                 not {expected:?}"
            ),
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

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BadKey { key } => {
                write!(f, "the key {key:?} is empty or holds `=` or a newline")
            }
        }
    }
}

impl std::error::Error for EncodeError {}
