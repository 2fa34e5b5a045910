//! Lesson 10 — versioning events.
//!
//! Events are stored for years, and the code that reads them changes. This
//! lesson stores each event as a record (its type name, a schema version, and
//! its fields as `key=value` lines), writes every event in the current shape,
//! and reads every shape ever written by upcasting it on read, one version at
//! a time: a field added with a default the old data implies, a field
//! renamed, and one event split into two. Stored bytes are never rewritten.
//! Snapshots are versioned too: one in the previous schema is upcast, any
//! other is discarded and the state replayed.
//!
//! The module has six parts: the store (`store`) and the account (`account`)
//! carried forward from lesson 9; the encoding (`codec`); the mapper and its
//! schema table with the upcasters (`mapper`); versioned snapshots
//! (`snapshot`); and the repository that reads through all of it
//! (`repository`). Everything is re-exported here.
//!
//! Chapter: `book/src/l10_versioning.md`.
//! Run it: `cargo run --example l10_versioning`.

mod account;
mod codec;
mod mapper;
mod repository;
mod snapshot;
mod store;

pub use account::{AccountEvent, AccountState, Cents, Currency, evolve, initial_state};
pub use codec::{
    DecodeError, EncodeError, Excerpt, Fields, RawEvent, decode_currency, decode_u64,
    encode_fields, fields, parse_fields,
};
pub use mapper::{SCHEMAS, Schema, Upcast, decode, decode_with, encode, upcast_with};
pub use repository::{AccountRepository, LoadError, Loaded, SnapshotUse};
pub use snapshot::{SNAPSHOT_SCHEMA, Snapshot, SnapshotRejected};
pub use store::{
    AppendError, EventRecord, EventStore, RecordedEvent, StreamId, Timestamp, Version,
};
