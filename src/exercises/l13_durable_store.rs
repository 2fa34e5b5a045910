//! Exercises for lesson 13 — a durable store.
//!
//! Each function below is a stub. Replace the `todo!()` at each `// TODO:` and
//! check your work with `cargo test --test l13_durable_store -- --ignored`.

use std::collections::BTreeMap;

use crate::l13_durable_store::{
    AccountState, AppendError, CommandId, DecodeError, DurableStore, EventRecord, ExpectedVersion,
    Fingerprint, OpenError, Position, SideFileError, Storage, StreamId, Timestamp, Version,
};

/// Exercise 13.1: CRC-32C (Castagnoli), the checksum Kafka's record batches
/// and LevelDB's log records carry: reflected polynomial `0x82F63B78`,
/// register starting at all ones, result inverted. `crc32c(b"123456789")`
/// is `0xE3069283`.
pub fn crc32c(bytes: &[u8]) -> u32 {
    // TODO: the same shape as `crc32`, with another polynomial.
    let _ = bytes;
    todo!("exercise 13.1: CRC-32C")
}

/// One event as [`read_log`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    /// The offset of the frame that holds it.
    pub frame: u64,
    /// The stream it belongs to.
    pub stream: String,
    /// The event as stored.
    pub record: EventRecord,
}

/// Why [`read_log`] stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The file does not start with a good version 1 header.
    NotALog,
    /// The frame at this offset is damaged, cut short, of an unknown kind,
    /// or has a payload that does not read.
    BadFrame {
        /// Where the frame starts.
        offset: u64,
    },
}

/// Exercise 13.2: a reader of the log file written from the chapter's
/// description of the format alone, as a program in another language would
/// be. It checks the header, then each frame's length check and checksum,
/// and returns every event in file order, or stops at the first frame that
/// is not whole and good. It never allocates according to a length it has
/// not checked against the bytes that remain. It may use `crc32` and
/// `parse_fields`, but not the store.
///
/// # Errors
///
/// [`ReadError::NotALog`] for a bad header, [`ReadError::BadFrame`] naming
/// the first bad frame.
pub fn read_log(file: &[u8]) -> Result<Vec<LoggedEvent>, ReadError> {
    // TODO: header, then frames: length, length check, checksum, kind, payload.
    let _ = file;
    todo!("exercise 13.2: a reader from the format description")
}

/// One append, as [`append_exactly_once`] sends it, with the command id
/// that makes sending it again safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendRequest {
    /// The stream to append to.
    pub stream: StreamId,
    /// Where the caller believes the stream is.
    pub expected: ExpectedVersion,
    /// The events.
    pub records: Vec<EventRecord>,
    /// When.
    pub recorded_at: Timestamp,
    /// The command's id and fingerprint.
    pub command: (CommandId, Fingerprint),
}

/// Exercise 13.3: sends `request`, and when the append fails because
/// storage failed (the store answers [`AppendError::Io`] or
/// [`AppendError::Poisoned`]), reopens the store with `reopen` and sends it
/// again under the same command id, making at most `attempts` tries in all
/// (at least one). Any other refusal is returned at once, without
/// reopening. Returns the store in use at the end and the version the
/// command's append reached, whether this try or an earlier one wrote it.
///
/// # Errors
///
/// [`RetryError::Refused`] for a refusal that is not a storage failure,
/// [`RetryError::GaveUp`] with the last failure when every try failed, and
/// [`RetryError::Reopen`] when reopening fails.
pub fn append_exactly_once<S: Storage>(
    store: DurableStore<S>,
    reopen: &mut dyn FnMut() -> Result<DurableStore<S>, OpenError>,
    request: &AppendRequest,
    attempts: u32,
) -> Result<(DurableStore<S>, Version), RetryError> {
    // TODO: retry storage failures after a reopen; never retry anything else.
    let _ = (store, reopen, request, attempts);
    todo!("exercise 13.3: exactly once across a storage failure")
}

/// Why [`append_exactly_once`] gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryError {
    /// The store refused the append for a reason retrying cannot change.
    Refused(AppendError),
    /// Every try failed; the last failure.
    GaveUp(AppendError),
    /// The store could not be reopened.
    Reopen(OpenError),
}

/// Why [`load_balances`] could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BalancesError {
    /// The checkpoint could not be read at all.
    File(SideFileError),
    /// An event after the checkpoint does not decode; skipping it would
    /// give a wrong balance.
    Undecodable {
        /// The event's position.
        position: Position,
        /// Why it does not decode.
        error: DecodeError,
    },
}

/// The side file [`save_balances`] writes.
pub const CHECKPOINT_FILE: &str = "balances.checkpoint";

/// Every account's state after the events up to `position`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balances {
    /// The last position folded in.
    pub position: Position,
    /// Each stream's state.
    pub accounts: BTreeMap<StreamId, AccountState>,
}

/// Exercise 13.4 (stretch): saves `balances` as the side file
/// [`CHECKPOINT_FILE`], in a format of your choice that lets
/// [`load_balances`] tell a whole checkpoint from a damaged one.
///
/// # Errors
///
/// The store's [`SideFileError`].
pub fn save_balances<S: Storage>(
    store: &mut DurableStore<S>,
    balances: &Balances,
) -> Result<(), SideFileError> {
    // TODO: encode, protect, and write by atomic replace.
    let _ = (store, balances);
    todo!("exercise 13.4: a checkpoint that survives any crash")
}

/// Exercise 13.4 (stretch): the balances as of the store's last position:
/// the checkpoint, if there is one and it is whole and not ahead of the
/// log, then every event after its position. A missing, damaged or
/// impossible checkpoint is ignored and every event folded from the start:
/// it costs time, never a wrong balance.
///
/// # Errors
///
/// [`BalancesError::File`] when the checkpoint cannot be read, and
/// [`BalancesError::Undecodable`] for an event that does not decode.
pub fn load_balances<S: Storage>(store: &mut DurableStore<S>) -> Result<Balances, BalancesError> {
    // TODO: read and check the checkpoint, fall back to zero, fold the rest.
    let _ = store;
    todo!("exercise 13.4: a checkpoint that survives any crash")
}
