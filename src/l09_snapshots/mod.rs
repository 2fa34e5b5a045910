//! Lesson 9 — snapshots.
//!
//! Loading an aggregate folds its whole stream, and a long-lived stream makes
//! that slow. A snapshot caches the state at a version, with the schema of its
//! encoding; loading becomes "newest usable snapshot + the events after it".
//! A snapshot the code cannot trust is thrown away and the state rebuilt from
//! the events, and an as-of query never starts from a snapshot newer than the
//! version it asks for.
//!
//! The module is split in four: the event store (`store`) and the bank
//! account decider (`account`) carried forward from earlier lessons, and the
//! new parts, the snapshots (`snapshot`) and the repository that uses them
//! (`repository`). Everything is re-exported here.
//!
//! Chapter: `book/src/l09_snapshots.md`.
//! Run it: `cargo run --example l09_snapshots` (add `--release` for honest
//! timings, which it prints on stderr).

mod account;
mod repository;
mod snapshot;
mod store;

pub use account::{
    AccountCommand, AccountError, AccountEvent, AccountState, Cents, decide, evolve, initial_state,
};
pub use repository::{AccountRepository, CommandError, Loaded, SnapshotUse};
pub use snapshot::{
    DecodeError, SNAPSHOT_SCHEMA, Snapshot, SnapshotPolicy, SnapshotRejected, SnapshotStore,
    decode_state, encode_state,
};
pub use store::{
    AppendError, Appended, CommandId, EventStore, Fingerprint, RecordedEvent, StreamId, Timestamp,
    Version,
};
