//! Snapshots, carried forward from lesson 9 and now versioned like events: a
//! snapshot in the previous schema is upcast, one in any other is discarded.

use std::fmt;

use super::account::{AccountState, Cents, Currency};
use super::codec::{DecodeError, decode_currency, decode_u64, encode_fields, parse_fields};
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
    Undecodable(DecodeError),
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
        let fields: Vec<(String, String)> = match state {
            AccountState::NotOpened => vec![("status".into(), "not-opened".into())],
            AccountState::Closed => vec![("status".into(), "closed".into())],
            AccountState::Open { balance, currency } => vec![
                ("status".into(), "open".into()),
                ("balance".into(), balance.0.to_string()),
                ("currency".into(), currency.code().into()),
            ],
        };
        Snapshot {
            version,
            schema: SNAPSHOT_SCHEMA,
            payload: encode_fields(&fields),
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
        if self.schema != 1 && self.schema != SNAPSHOT_SCHEMA {
            return Err(SnapshotRejected::UnknownSchema { found: self.schema });
        }
        let mut fields = parse_fields(&self.payload).map_err(SnapshotRejected::Undecodable)?;
        let open = fields
            .first()
            .is_some_and(|(k, v)| k == "status" && v == "open");
        if self.schema == 1 && open {
            fields.push(("currency".into(), Currency::Eur.code().into()));
        }
        decode_state(fields).map_err(SnapshotRejected::Undecodable)
    }
}
// ANCHOR_END: snapshot

/// Reads exactly the fields [`Snapshot::of`] writes.
fn decode_state(fields: Vec<(String, String)>) -> Result<AccountState, DecodeError> {
    let names: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
    let values: Vec<&str> = fields.iter().map(|(_, value)| value.as_str()).collect();
    match (names.as_slice(), values.as_slice()) {
        (["status"], ["not-opened"]) => Ok(AccountState::NotOpened),
        (["status"], ["closed"]) => Ok(AccountState::Closed),
        (["status", "balance", "currency"], ["open", balance, code]) => Ok(AccountState::Open {
            balance: Cents(decode_u64("balance", balance)?),
            currency: decode_currency("currency", code)?,
        }),
        _ => Err(DecodeError::WrongFields {
            event_type: "AccountState".into(),
            schema_version: SNAPSHOT_SCHEMA,
            expected: &["status", "balance", "currency"],
            found: names.iter().map(|name| name.to_string()).collect(),
        }),
    }
}

impl fmt::Display for SnapshotRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotRejected::UnknownSchema { found } => write!(
                f,
                "schema {found}, and this code upcasts only schema 1 to {SNAPSHOT_SCHEMA}"
            ),
            SnapshotRejected::Undecodable(error) => {
                write!(f, "the payload does not decode: {error}")
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
            SnapshotRejected::Undecodable(error) => Some(error),
        }
    }
}
