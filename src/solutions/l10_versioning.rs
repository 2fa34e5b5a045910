//! Reference solutions for the lesson 10 exercises.

use crate::l10_versioning::{
    AccountEvent, AppendError, Cents, DecodeError, EventStore, LoadError, RawEvent, SCHEMAS,
    Schema, StreamId, Version, decode, decode_u64, encode,
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
            value: text.to_string(),
            expected: "a whole number as i64 Display writes it",
        }),
    }
}

/// What [`deposits_report`] found in one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositReport {
    /// The sum of every deposit, first deposits of old openings included.
    pub total: Cents,
    /// The records skipped because their event type is unknown to this
    /// code: their version in the stream and their type name, in order.
    pub skipped: Vec<(Version, String)>,
}

/// Exercise 10.2: a read model that skips unknown event types.
pub fn deposits_report(store: &EventStore, stream: &StreamId) -> Result<DepositReport, LoadError> {
    // Skipping is safe only for a read model whose answer cannot depend on
    // the unknown type, and only for a new *type*: a known type in a newer
    // version may carry a deposit this code would misread, so it stops the
    // report. The write side never skips anything (lesson 10's `load`): a
    // state folded without some of its events is wrong, not partial.
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
            Err(DecodeError::UnknownEventType { event_type }) => {
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
            value: text.to_string(),
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
    /// The new store refused an append: a stream was listed twice.
    Append(AppendError),
}

/// Exercise 10.4: copy-and-replace migration.
pub fn migrate(old: &EventStore, streams: &[StreamId]) -> Result<EventStore, MigrationError> {
    // Each stream is written from version 0 with the expected version the
    // previous append returned, so a stream listed twice conflicts instead
    // of being doubled. The whole new store is built before anything is
    // returned: a record that does not decode leaves no half-migrated copy.
    //
    // What the copy changes, and why upcasting on read is usually kinder:
    // versions are renumbered (a split adds records), so snapshots, read
    // model checkpoints and any expected version a client holds refer to
    // the old numbering and must be rebuilt or translated; positions change
    // too, and a hash chain (lesson 14) over the old bytes no longer
    // matches. In production the copy runs while writers keep appending to
    // the old store, so it ends with a catch-up pass and a switch-over.
    let mut new = EventStore::new();
    for stream in streams {
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
            expected = new
                .append(stream, expected, records, recorded.recorded_at)
                .map_err(MigrationError::Append)?;
        }
    }
    Ok(new)
}
