//! The mapper: domain events to records and back. Writing always uses the
//! current schema; reading accepts every schema version ever written, and
//! upcasts it, step by step, to the current one.

use super::account::{AccountEvent, Cents, Currency};
use super::codec::{DecodeError, Excerpt, RawEvent, decode_currency, decode_u64, write_fields};
use super::store::EventRecord;

/// An upcaster: reads one raw event in one schema version and returns what
/// it is in the next: usually one event, sometimes several, sometimes none.
pub type Upcast = fn(&RawEvent) -> Result<Vec<RawEvent>, DecodeError>;

/// One schema version of one event type: the fields it has, in order, and
/// how to read it as the next version (`None` for the current version).
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// The event type name.
    pub event_type: &'static str,
    /// The schema version.
    pub version: u32,
    /// Exactly the fields of this version, in their stored order.
    pub fields: &'static [&'static str],
    /// The step to the next version, or `None` if this is the current one.
    pub upcast: Option<Upcast>,
}

// ANCHOR: schemas
/// Every shape the account events have ever been stored in. Release 1 wrote
/// the v1 shapes; release 2 added a currency and renamed `cents` to
/// `amount`; release 3 (this code) splits the first deposit out of
/// `AccountOpened`. Rows are never removed: the log still holds v1 records.
#[rustfmt::skip]
pub const SCHEMAS: &[Schema] = &[
    Schema { event_type: "AccountOpened", version: 1,
             fields: &["owner", "email", "initial_deposit"], upcast: Some(opened_v1_to_v2) },
    Schema { event_type: "AccountOpened", version: 2,
             fields: &["owner", "email", "currency", "initial_deposit"], upcast: Some(opened_v2_to_v3) },
    Schema { event_type: "AccountOpened", version: 3,
             fields: &["owner", "email", "currency"], upcast: None },
    Schema { event_type: "MoneyDeposited", version: 1, fields: &["cents"], upcast: Some(cents_to_amount) },
    Schema { event_type: "MoneyDeposited", version: 2, fields: &["amount"], upcast: None },
    Schema { event_type: "MoneyWithdrawn", version: 1, fields: &["cents"], upcast: Some(cents_to_amount) },
    Schema { event_type: "MoneyWithdrawn", version: 2, fields: &["amount"], upcast: None },
    Schema { event_type: "AccountClosed", version: 1, fields: &[], upcast: None },
];
// ANCHOR_END: schemas

// ANCHOR: upcasters
/// `AccountOpened` v1 → v2, a field added. Release 1 opened euro accounts
/// only, so `EUR` is what every v1 account was: derived, not invented.
fn opened_v1_to_v2(v1: &RawEvent) -> Result<Vec<RawEvent>, DecodeError> {
    Ok(vec![RawEvent::new(
        "AccountOpened",
        2,
        &[
            ("owner", v1.get("owner")?),
            ("email", v1.get("email")?),
            ("currency", Currency::Eur.code()),
            ("initial_deposit", v1.get("initial_deposit")?),
        ],
    )])
}

/// `AccountOpened` v2 → v3, one event split in two. Release 3 records the
/// first deposit as a `MoneyDeposited` of its own, so an old opening becomes
/// an opening and a deposit, or only an opening when nothing was paid in
/// (release 3 never records a deposit of zero).
fn opened_v2_to_v3(v2: &RawEvent) -> Result<Vec<RawEvent>, DecodeError> {
    let opened = RawEvent::new(
        "AccountOpened",
        3,
        &[
            ("owner", v2.get("owner")?),
            ("email", v2.get("email")?),
            ("currency", v2.get("currency")?),
        ],
    );
    let deposit = v2.get("initial_deposit")?;
    if decode_u64("initial_deposit", deposit)? == 0 {
        return Ok(vec![opened]);
    }
    let deposited = RawEvent::new("MoneyDeposited", 2, &[("amount", deposit)]);
    Ok(vec![opened, deposited])
}

/// `MoneyDeposited` and `MoneyWithdrawn` v1 → v2, a field renamed: every
/// money field is called `amount` since release 2.
fn cents_to_amount(v1: &RawEvent) -> Result<Vec<RawEvent>, DecodeError> {
    Ok(vec![RawEvent::new(
        &v1.event_type,
        2,
        &[("amount", v1.get("cents")?)],
    )])
}
// ANCHOR_END: upcasters

// ANCHOR: encode
/// Maps an event to the record that stores it, always in the current schema.
pub fn encode(event: &AccountEvent) -> EventRecord {
    let (version, payload) = match event {
        AccountEvent::AccountOpened {
            owner,
            email,
            currency,
        } => {
            let fields = [
                ("owner", owner.as_str()),
                ("email", email),
                ("currency", currency.code()),
            ];
            (3, write_fields(&fields))
        }
        AccountEvent::MoneyDeposited { amount } | AccountEvent::MoneyWithdrawn { amount } => {
            (2, write_fields(&[("amount", &amount.0.to_string())]))
        }
        AccountEvent::AccountClosed => (1, Vec::new()),
    };
    EventRecord {
        event_type: event.event_type().to_string(),
        schema_version: version,
        payload,
    }
}
// ANCHOR_END: encode

// ANCHOR: decode
/// Reads a record written in any schema version of [`SCHEMAS`] as the events
/// it means today.
///
/// # Errors
///
/// A [`DecodeError`] naming what is wrong; a record is never half read.
pub fn decode(record: &EventRecord) -> Result<Vec<AccountEvent>, DecodeError> {
    decode_with(SCHEMAS, record)
}

/// [`decode`] with another schema table, such as [`SCHEMAS`] plus rows for
/// a format older than release 1.
///
/// # Errors
///
/// As [`decode`].
pub fn decode_with(
    schemas: &[Schema],
    record: &EventRecord,
) -> Result<Vec<AccountEvent>, DecodeError> {
    // The envelope first: an unknown type or version is refused as such,
    // before a byte of its payload is read. Then the payload is read against
    // that version's fields, and no further than the first one that differs.
    let schema = schema_of(schemas, &record.event_type, record.schema_version)?;
    upcast_with(schemas, RawEvent::parse(record, schema.fields)?)?
        .iter()
        .map(to_event)
        .collect()
}

/// Runs `raw` up the chain until every event it became is in its current
/// schema version. Each step first checks that the fields are exactly those
/// of the version it claims to be, so an upcaster never sees a surprise.
///
/// # Errors
///
/// A [`DecodeError`] for an unknown type or version, wrong fields, a bad
/// value an upcaster needs, or a chain that does not end.
pub fn upcast_with(schemas: &[Schema], raw: RawEvent) -> Result<Vec<RawEvent>, DecodeError> {
    let mut current = Vec::new();
    upcast_into(schemas, raw, 0, &mut current)?;
    Ok(current)
}

fn upcast_into(
    schemas: &[Schema],
    raw: RawEvent,
    steps: usize,
    out: &mut Vec<RawEvent>,
) -> Result<(), DecodeError> {
    let schema = schema_of(schemas, &raw.event_type, raw.schema_version)?;
    let names = raw.fields.iter().map(|(name, _)| *name);
    if !names.clone().eq(schema.fields.iter().copied()) {
        return Err(DecodeError::WrongFields {
            found: names.collect(),
            event_type: raw.event_type,
            schema_version: raw.schema_version,
            expected: schema.fields,
        });
    }
    let Some(upcast) = schema.upcast else {
        out.push(raw);
        return Ok(());
    };
    if steps >= schemas.len() {
        return Err(DecodeError::UpcastLoop {
            event_type: raw.event_type,
            schema_version: raw.schema_version,
        });
    }
    let upcast = upcast(&raw)?;
    drop(raw); // so that at most two copies of the values are alive at once
    for next in upcast {
        upcast_into(schemas, next, steps + 1, out)?;
    }
    Ok(())
}

fn schema_of<'s>(
    schemas: &'s [Schema],
    event_type: &str,
    version: u32,
) -> Result<&'s Schema, DecodeError> {
    let mut of_type = schemas
        .iter()
        .filter(|schema| schema.event_type == event_type)
        .peekable();
    if of_type.peek().is_none() {
        return Err(DecodeError::UnknownEventType {
            event_type: Excerpt::of(event_type),
        });
    }
    of_type
        .find(|schema| schema.version == version)
        .ok_or_else(|| DecodeError::UnknownSchemaVersion {
            event_type: event_type.to_string(),
            schema_version: version,
        })
}

/// Types a raw event in its current schema version.
fn to_event(raw: &RawEvent) -> Result<AccountEvent, DecodeError> {
    let cents =
        |field: &'static str| Ok::<_, DecodeError>(Cents(decode_u64(field, raw.get(field)?)?));
    match raw.event_type.as_str() {
        "AccountOpened" => Ok(AccountEvent::AccountOpened {
            owner: raw.get("owner")?.to_string(),
            email: raw.get("email")?.to_string(),
            currency: decode_currency("currency", raw.get("currency")?)?,
        }),
        "MoneyDeposited" => Ok(AccountEvent::MoneyDeposited {
            amount: cents("amount")?,
        }),
        "MoneyWithdrawn" => Ok(AccountEvent::MoneyWithdrawn {
            amount: cents("amount")?,
        }),
        "AccountClosed" => Ok(AccountEvent::AccountClosed),
        other => Err(DecodeError::UnknownEventType {
            event_type: Excerpt::of(other),
        }),
    }
}
// ANCHOR_END: decode
