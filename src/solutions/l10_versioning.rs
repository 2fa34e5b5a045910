//! Reference solutions for the lesson 10 exercises.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::l10_versioning::{
    AccountEvent, AppendError, Cents, DecodeError, EventStore, Excerpt, LoadError, RawEvent,
    SCHEMAS, Schema, StreamId, Version, decode, decode_u64, encode,
};

/// Exercise 10.1: strict decoding of a signed number.
pub fn decode_i64(field: &str, text: &str) -> Result<i64, DecodeError> {
    // Parse, then write the number back and compare: whatever `i64::from_str`
    // is lenient about (`+5`, `-0`, `007`) writes back differently and is
    // refused. It costs one small allocation per value; a hand-written
    // check (an optional `-`, then digits with no leading zero, and never
    // `-0`) avoids it, at the price of more code to get right.
    match text.parse::<i64>() {
        Ok(number) if number.to_string() == text => Ok(number),
        _ => Err(DecodeError::BadValue {
            field: field.to_string(),
            value: Excerpt::of(text),
            expected: "a whole number as i64 Display writes it",
        }),
    }
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

/// Exercise 10.2: a read model that skips unknown event types.
pub fn deposits_report(store: &EventStore, stream: &StreamId) -> Result<DepositReport, LoadError> {
    // Skipping is a business decision, not a technical one. It is right only
    // for a read model whose meaning is defined by the types it knows ("the
    // deposits this release can read"), and only if what it skipped is shown:
    // a `ChequeDeposited` from a newer release is money paid in, and a total
    // that leaves it out silently is simply wrong. When a new type changes
    // what a reader must answer, ship the reader that knows it first. A known
    // type in a newer version may carry a deposit this code would misread,
    // so it stops the report. The write side never skips anything (lesson
    // 10's `load`): a state folded without some of its events is wrong.
    // Reading through `decode` matters: the first deposit of a release 1
    // opening only exists as a `MoneyDeposited` after upcasting.
    let mut report = DepositReport {
        total: Cents(0),
        skipped: Vec::new(),
    };
    for recorded in store.read_stream(stream) {
        match decode(&recorded.record) {
            Ok(events) => {
                for event in events {
                    if let AccountEvent::MoneyDeposited { amount } = event {
                        report.total = Cents(report.total.0.saturating_add(amount.0));
                    }
                }
            }
            Err(DecodeError::UnknownEventType { .. }) => {
                let event_type = recorded.record.event_type.clone();
                report.skipped.push((recorded.version, event_type));
            }
            Err(error) => {
                return Err(LoadError::Undecodable {
                    stream: stream.clone(),
                    version: recorded.version,
                    error,
                });
            }
        }
    }
    Ok(report)
}

/// Exercise 10.3: an upcaster for the imported version 0.
pub fn account_opened_v0_to_v1(v0: &RawEvent) -> Result<Vec<RawEvent>, DecodeError> {
    // One step, to version 1 only: the chain then takes it on through the
    // upcasters that already exist, so this step never needs to know about
    // currencies or split deposits. Jumping straight to version 3 would
    // work today and silently skip whatever a future v1 → v2 fix changes.
    // Euros to cents is exact, so the value is derived, not invented; the
    // other direction would lose the cents and could not be an upcaster.
    let field = "opening_balance";
    let text = v0.get(field)?;
    let euros = decode_u64(field, text)?;
    let cents = euros
        .checked_mul(100)
        .ok_or_else(|| DecodeError::BadValue {
            field: field.to_string(),
            value: Excerpt::of(text),
            expected: "at most 184467440737095516 whole euros",
        })?;
    Ok(vec![RawEvent::new(
        "AccountOpened",
        1,
        &[
            ("owner", v0.get("customer")?),
            ("email", v0.get("mail")?),
            ("initial_deposit", &cents.to_string()),
        ],
    )])
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

/// Exercise 10.4: copy-and-replace migration.
pub fn migrate(old: &EventStore, streams: &[StreamId]) -> Result<Migrated, MigrationError> {
    // Duplicates are refused before anything is read: an empty or unknown
    // stream listed twice would append nothing, so no version conflict could
    // catch it. The whole new store is built before anything is returned: a
    // record that does not decode leaves no half-migrated copy.
    //
    // The version map is the hard part of a real migration. A split adds
    // records, so every snapshot, read-model checkpoint and expected version
    // a client holds refers to the old numbering. Old version v maps to the
    // new version after the *last* event record v became: only there is the
    // state the same. (A record that upcasts to no event maps to the version
    // before it.) Positions change too, and a hash chain (lesson 14) over the
    // old bytes no longer matches. In production the copy runs while writers
    // keep appending to the old store, so it ends with a catch-up pass and a
    // switch-over.
    let mut seen = BTreeSet::new();
    if let Some(twice) = streams.iter().find(|stream| !seen.insert(*stream)) {
        return Err(MigrationError::ListedTwice(twice.clone()));
    }
    let mut store = EventStore::new();
    let mut versions = BTreeMap::new();
    for stream in streams {
        let mut map = BTreeMap::new();
        let mut expected = Version(0);
        for recorded in old.read_stream(stream) {
            let events = decode(&recorded.record).map_err(|error| {
                MigrationError::Undecodable(LoadError::Undecodable {
                    stream: stream.clone(),
                    version: recorded.version,
                    error,
                })
            })?;
            let records = events.iter().map(encode).collect();
            expected = store
                .append(stream, expected, records, recorded.recorded_at)
                .map_err(MigrationError::Append)?;
            map.insert(recorded.version, expected);
        }
        versions.insert(stream.clone(), map);
    }
    Ok(Migrated { store, versions })
}
