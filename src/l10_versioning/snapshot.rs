//! Snapshots, carried forward from lesson 9 and now versioned like events: a
//! snapshot in the previous schema is upcast, one in any other is discarded.

use std::fmt;

use super::account::{AccountState, Cents, Currency};
use super::codec::{
    DecodeError, Excerpt, decode_currency, decode_u64, fields, next_field, write_fields,
};
use super::store::Version;

/// The schema of the snapshot payloads this code writes.
pub const SNAPSHOT_SCHEMA: u32 = 2;

/// A cached state: the fold of the first `version` records of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The stream version the state is the fold of.
    pub version: Version,
    /// The schema of `payload`.
    pub schema: u32,
    /// The state as `key=value` lines, like an event payload.
    pub payload: Vec<u8>,
}

/// Why a stored snapshot cannot be used. Never an error to the caller of a
/// load: the state is rebuilt from the events instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotRejected {
    /// Written in a schema this code has no upcaster for.
    UnknownSchema {
        /// The schema it was written in.
        found: u32,
    },
    /// The schema is known but the payload does not decode.
    Undecodable {
        /// The schema it was written in.
        schema: u32,
        /// What is wrong with the payload, as read in that schema.
        error: DecodeError,
    },
    /// The snapshot claims a version its stream has not reached, as after
    /// the events were restored from an older backup than the snapshots.
    AheadOfStream {
        /// The version the stream is at.
        stream_version: Version,
    },
}

// ANCHOR: snapshot
impl Snapshot {
    /// A snapshot of `state` at `version`, in the current schema:
    /// `status=open`, `balance=…`, `currency=…`, or only `status=closed` or
    /// `status=not-opened`.
    pub fn of(state: &AccountState, version: Version) -> Snapshot {
        let payload = match state {
            AccountState::NotOpened => write_fields(&[("status", "not-opened")]),
            AccountState::Closed => write_fields(&[("status", "closed")]),
            AccountState::Open { balance, currency } => write_fields(&[
                ("status", "open"),
                ("balance", &balance.0.to_string()),
                ("currency", currency.code()),
            ]),
        };
        Snapshot {
            version,
            schema: SNAPSHOT_SCHEMA,
            payload,
        }
    }

    /// The state this snapshot holds. Schema 1, written by release 1 before
    /// accounts had a currency, is upcast: its open accounts were in euros,
    /// as for events. Any other schema is refused before anything is decoded.
    ///
    /// # Errors
    ///
    /// [`SnapshotRejected::UnknownSchema`], or
    /// [`SnapshotRejected::Undecodable`] naming what is wrong with the payload.
    pub fn restore(&self) -> Result<AccountState, SnapshotRejected> {
        let schema = self.schema;
        if schema != 1 && schema != SNAPSHOT_SCHEMA {
            return Err(SnapshotRejected::UnknownSchema { found: schema });
        }
        decode_state(&self.payload, schema)
            .map_err(|error| SnapshotRejected::Undecodable { schema, error })
    }
}

/// Reads exactly the fields [`Snapshot::of`] writes in `schema`, one at a
/// time, each one only if the fields before it call for it.
fn decode_state(payload: &[u8], schema: u32) -> Result<AccountState, DecodeError> {
    let mut lines = fields(payload);
    let state = match next_field(&mut lines, Some("status"))?.as_str() {
        "not-opened" => AccountState::NotOpened,
        "closed" => AccountState::Closed,
        "open" => AccountState::Open {
            balance: Cents(decode_u64(
                "balance",
                &next_field(&mut lines, Some("balance"))?,
            )?),
            currency: match schema {
                1 => Currency::Eur,
                _ => decode_currency("currency", &next_field(&mut lines, Some("currency"))?)?,
            },
        },
        other => {
            return Err(DecodeError::BadValue {
                field: "status".into(),
                value: Excerpt::of(other),
                expected: "open, closed or not-opened",
            });
        }
    };
    next_field(&mut lines, None)?;
    Ok(state)
}
// ANCHOR_END: snapshot

impl fmt::Display for SnapshotRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotRejected::UnknownSchema { found } => write!(
                f,
                "schema {found}, and this code upcasts only schema 1 to {SNAPSHOT_SCHEMA}"
            ),
            SnapshotRejected::Undecodable { schema, error } => {
                write!(f, "the schema {schema} payload does not decode: {error}")
            }
            SnapshotRejected::AheadOfStream { stream_version } => {
                write!(f, "the stream is only at {stream_version}")
            }
        }
    }
}

impl std::error::Error for SnapshotRejected {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SnapshotRejected::UnknownSchema { .. } | SnapshotRejected::AheadOfStream { .. } => None,
            SnapshotRejected::Undecodable { error, .. } => Some(error),
        }
    }
}
