//! Lesson 13 — a durable store.
//!
//! The stores of lessons 1 to 12 forget everything when the process ends.
//! This one keeps its events in a file, the way a database you could trust
//! does, with std alone: a documented format (a header, then frames of
//! length, checksums, kind and payload), a sync before every
//! acknowledgement, recovery on open that cuts off a torn tail and refuses
//! damage in the middle, a single-writer lock, atomic replace for side
//! files, and a handle that stops accepting appends after an I/O error.
//!
//! The module has nine parts: the encoding (`codec`) and the account events
//! (`account`) carried forward from lesson 10; the identities and values of
//! the store's API (`ids`) and its errors (`errors`), carried forward from
//! lesson 8; the CRC-32 (`crc`); the file format (`format`); the storage
//! trait and its real implementation (`storage`); the store (`store`); and a
//! simulated disk that fails on demand and loses power (`sim`), for the
//! drills. Everything is re-exported here.
//!
//! Chapter: `book/src/l13_durable_store.md`.
//! Run it: `cargo run --example l13_durable_store` (it prints timings of
//! synced appends on stderr).

mod account;
mod codec;
mod crc;
mod errors;
mod format;
mod ids;
mod sim;
mod storage;
mod store;

pub use account::{
    AccountEvent, AccountState, Cents, Currency, decode, encode, evolve, initial_state,
};
pub use codec::{DecodeError, EventRecord, decode_u64, encode_fields, parse_fields};
pub use crc::{crc32, crc32_of};
pub use errors::{AppendError, IoFailure, OpenError, SideFileError};
pub use format::{
    Damage, FORMAT_VERSION, FRAME_HEADER_LEN, HEADER_LEN, HeaderProblem, KIND_APPEND, LOG_FILE,
    MAGIC, MAX_PAYLOAD, file_header,
};
pub use ids::{
    Appended, CommandId, ExpectedVersion, Fingerprint, Position, RecordedEvent, StreamId,
    Timestamp, Version,
};
pub use sim::{SimDisk, SimStorage};
pub use storage::{FsStorage, LOCK_FILE, Storage};
pub use store::{DurableStore, REBOOT_MARKER, Recovery, TornTail, Verified};
