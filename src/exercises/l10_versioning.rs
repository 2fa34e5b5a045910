//! Exercises for lesson 10 — versioning events.
//!
//! Each function below is a stub. Replace the `todo!()` at each `// TODO:` and
//! check your work with `cargo test --test l10_versioning -- --ignored`.

use std::collections::BTreeMap;
use std::fmt;

use crate::l10_versioning::{
    AppendError, Cents, DecodeError, EventStore, LoadError, RawEvent, SCHEMAS, Schema, StreamId,
    Version,
};
// The stubs do not use these yet; your solutions will: `decode` and
// `AccountEvent` in 10.2, `decode_u64` in 10.3, `decode` and `encode` in 10.4.
#[allow(unused_imports)]
use crate::l10_versioning::{AccountEvent, decode, decode_u64, encode};

/// Exercise 10.1: reads the value of `field` as an `i64` written exactly as
/// `i64`'s `Display` writes it (`0`, `42`, `-42`; never `+42`, `-0`, `042`
/// or ` 42`), for a future event that records a correction which may be
/// negative.
///
/// # Errors
///
/// [`DecodeError::BadValue`] naming `field` and the text, for anything else.
pub fn decode_i64(field: &str, text: &str) -> Result<i64, DecodeError> {
    // TODO: accept exactly what `i64::to_string` writes, and nothing else.
    let _ = (field, text);
    todo!("exercise 10.1: strict decoding of a signed number")
}

/// What [`deposits_report`] found in one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositReport {
    /// The sum of the deposits this code knows how to read: every
    /// `MoneyDeposited`, first deposits of old openings included. Money paid
    /// in by an event type it does not know is not in it.
    pub total: Cents,
    /// The records left out because their event type is unknown to this
    /// code: their version in the stream and their type name, in order. A
    /// report with any is incomplete, and whoever reads it must be told.
    pub skipped: Vec<(Version, String)>,
}

/// Exercise 10.2: a reporting read model that sums the deposits of a stream
/// and keeps working when a newer release has added event types it does not
/// know: such records are left out of the total and listed in the report.
/// Every other record that does not decode (a known type in an unknown
/// schema version, bad bytes) still stops it.
///
/// # Errors
///
/// [`LoadError::Undecodable`] naming the stream and version of the first
/// record that does not decode for any reason but an unknown event type.
pub fn deposits_report(store: &EventStore, stream: &StreamId) -> Result<DepositReport, LoadError> {
    // TODO: decode each record; leave out and list only unknown event types.
    let _ = (store, stream);
    todo!("exercise 10.2: a read model that skips unknown event types")
}

/// Exercise 10.3: `AccountOpened` version 0, written by the import from the
/// bank's previous system before release 1, has the fields `customer`,
/// `mail` and `opening_balance`, the last in whole euros. Upcasts it to
/// version 1 (`owner`, `email`, `initial_deposit` in cents).
///
/// # Errors
///
/// [`DecodeError::BadValue`] for the field `opening_balance` when it is not
/// a canonical whole number, or when it is too large to hold in cents.
pub fn account_opened_v0_to_v1(v0: &RawEvent) -> Result<Vec<RawEvent>, DecodeError> {
    // TODO: rename two fields and turn whole euros into cents, without overflow.
    let _ = v0;
    todo!("exercise 10.3: an upcaster for the imported version 0")
}

/// The schema table that also reads the import's version 0: its row, then
/// every row of [`SCHEMAS`].
pub fn schemas_with_import() -> Vec<Schema> {
    let import = Schema {
        event_type: "AccountOpened",
        version: 0,
        fields: &["customer", "mail", "opening_balance"],
        upcast: Some(account_opened_v0_to_v1),
    };
    std::iter::once(import)
        .chain(SCHEMAS.iter().copied())
        .collect()
}

/// Why [`migrate`] gave up. Either way no new store is returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationError {
    /// A record of the old store does not decode.
    Undecodable(LoadError),
    /// The stream is listed more than once: it is refused, never copied twice.
    ListedTwice(StreamId),
    /// The new store refused an append. With each stream listed once this
    /// cannot happen in memory; a real target store can fail.
    Append(AppendError),
}

/// A migrated store, and how its versions relate to the old one's.
#[derive(Debug)]
pub struct Migrated {
    /// The new store: every listed stream, each event in the current schema.
    pub store: EventStore,
    /// For every listed stream, each old record's version mapped to the
    /// version of the new stream whose state equals the old stream's state
    /// after that record: what a snapshot or checkpoint must be moved to.
    pub versions: BTreeMap<StreamId, BTreeMap<Version, Version>>,
}

impl fmt::Display for MigrationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MigrationError::Undecodable(error) => write!(f, "cannot migrate: {error}"),
            MigrationError::ListedTwice(stream) => {
                write!(f, "cannot migrate: {stream} is listed twice")
            }
            MigrationError::Append(error) => write!(f, "cannot migrate: {error}"),
        }
    }
}

impl std::error::Error for MigrationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MigrationError::Undecodable(error) => Some(error),
            MigrationError::ListedTwice(_) => None,
            MigrationError::Append(error) => Some(error),
        }
    }
}

/// Exercise 10.4: copy-and-replace migration. Builds a new store holding
/// every stream in `streams` as the current code understands it: each
/// record of the old store decoded and upcast, and the events it became
/// written in the current schema, in order, with the `recorded_at` of the
/// record they came from. Returns it with, for each stream, the map from
/// every old record version to the matching new version. The old store is
/// only read.
///
/// # Errors
///
/// [`MigrationError::Undecodable`] naming the stream and version of the
/// first record that does not decode, and [`MigrationError::ListedTwice`]
/// when a stream is listed more than once, even an empty or unknown one.
pub fn migrate(old: &EventStore, streams: &[StreamId]) -> Result<Migrated, MigrationError> {
    // TODO: read every stream through the mapper, write it again with the
    // encoder, and keep track of where each old record ended up.
    let _ = (old, streams);
    todo!("exercise 10.4: copy-and-replace migration")
}
