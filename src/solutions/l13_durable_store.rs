//! Reference solutions for the lesson 13 exercises.

use std::collections::BTreeMap;

use crate::l13_durable_store::{
    AccountState, AppendError, Appended, Cents, CommandId, Currency, DecodeError, DurableStore,
    EventRecord, ExpectedVersion, Fingerprint, OpenError, Position, SideFileError, Storage,
    StreamId, Timestamp, Version, crc32, crc32_of, decode, decode_u64, encode_fields, evolve,
    initial_state, parse_fields,
};

/// Exercise 13.1: CRC-32C.
pub fn crc32c(bytes: &[u8]) -> u32 {
    // Bit by bit: eight shifts per byte. The lesson's `crc32` does the same
    // work with one lookup per byte in a 256-entry table built at compile
    // time, which is several times faster; production code goes further
    // (slicing-by-8, or the SSE 4.2 `crc32` instruction, which computes
    // exactly this polynomial in hardware).
    const POLYNOMIAL: u32 = 0x82F6_3B78;
    let mut crc = u32::MAX;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLYNOMIAL
            } else {
                crc >> 1
            };
        }
    }
    !crc
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

fn le(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Exercise 13.2: a reader from the format description.
pub fn read_log(file: &[u8]) -> Result<Vec<LoggedEvent>, ReadError> {
    // Written from the chapter's tables only: every number is little-endian,
    // every check is a CRC-32, and a length is compared with the bytes that
    // remain before anything is sliced. Unlike the store, this reader does
    // not decide between a torn tail and corruption; it stops at the first
    // bad frame and says where.
    let header = file.get(..16).ok_or(ReadError::NotALog)?;
    if header[..8] != *b"ESWBLOG\0"
        || le(&header[8..12]) != 1
        || crc32(&header[..12]) != le(&header[12..16])
    {
        return Err(ReadError::NotALog);
    }
    let mut events = Vec::new();
    let mut at = 16;
    while at < file.len() {
        let bad = ReadError::BadFrame { offset: at as u64 };
        let rest = &file[at..];
        if rest.len() < 13 || crc32(&rest[..4]) != le(&rest[4..8]) {
            return Err(bad);
        }
        let length = le(&rest[..4]) as usize;
        if length == 0 || length > rest.len() - 13 {
            return Err(bad);
        }
        let (kind, payload) = (rest[12], &rest[13..13 + length]);
        if kind != 1 || crc32_of(&[&rest[..4], &[kind], payload]) != le(&rest[8..12]) {
            return Err(bad);
        }
        let fields = parse_fields(payload).map_err(|_| bad.clone())?;
        // stream, version, position, recorded_at, then perhaps command and
        // fingerprint, then type, schema and data for each event.
        let names: Vec<&str> = fields.iter().map(|(key, _)| key.as_str()).collect();
        if names.get(..4) != Some(&["stream", "version", "position", "recorded_at"][..]) {
            return Err(bad);
        }
        let first_event = if names.get(4) == Some(&"command") {
            6
        } else {
            4
        };
        if names.get(5) != Some(&"fingerprint") && first_event == 6 {
            return Err(bad);
        }
        let triples = fields.get(first_event..).unwrap_or_default();
        if triples.len() % 3 != 0 {
            return Err(bad);
        }
        for triple in triples.chunks(3) {
            let schema_version = decode_u64("schema", &triple[1].1)
                .ok()
                .and_then(|n| u32::try_from(n).ok());
            let (["type", "schema", "data"], Some(schema_version)) = (
                [
                    triple[0].0.as_str(),
                    triple[1].0.as_str(),
                    triple[2].0.as_str(),
                ],
                schema_version,
            ) else {
                return Err(bad);
            };
            events.push(LoggedEvent {
                frame: at as u64,
                stream: fields[0].1.clone(),
                record: EventRecord {
                    event_type: triple[0].1.clone(),
                    schema_version,
                    payload: triple[2].1.clone(),
                },
            });
        }
        at += 13 + length;
    }
    Ok(events)
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

/// Exercise 13.3: exactly once across a storage failure.
pub fn append_exactly_once<S: Storage>(
    store: DurableStore<S>,
    reopen: &mut dyn FnMut() -> Result<DurableStore<S>, OpenError>,
    request: &AppendRequest,
    attempts: u32,
) -> Result<(DurableStore<S>, Version), RetryError> {
    // After a storage failure the outcome is unknown: the frame may be on
    // disk, whole, or not at all (the failed append has already cut off a
    // frame it could not make durable). Only a reopen reads back which, and only
    // the command id makes the second try safe: if the first one landed,
    // the store answers `AlreadyApplied` instead of appending it again.
    // The old store must be dropped before reopening, or its lock makes
    // the reopen fail with `InUse`. A conflict or a reused id would fail
    // the same way every time, so it is returned at once.
    let mut store = store;
    let mut tries = 0;
    loop {
        tries += 1;
        let result = store.append(
            &request.stream,
            request.expected,
            request.records.clone(),
            request.recorded_at,
            Some(request.command.clone()),
        );
        match result {
            Ok(Appended::Now(version) | Appended::AlreadyApplied(version)) => {
                return Ok((store, version));
            }
            Err(error @ (AppendError::Io { .. } | AppendError::Poisoned(_))) => {
                if tries >= attempts.max(1) {
                    return Err(RetryError::GaveUp(error));
                }
                drop(store);
                store = reopen().map_err(RetryError::Reopen)?;
            }
            Err(error) => return Err(RetryError::Refused(error)),
        }
    }
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

/// Exercise 13.4: save a checkpoint.
pub fn save_balances<S: Storage>(
    store: &mut DurableStore<S>,
    balances: &Balances,
) -> Result<(), SideFileError> {
    // The same two defences as the log: atomic replace (in
    // `write_side_file`), so a crash leaves the old checkpoint or the new
    // one, and a checksum, so a damaged one is recognised and ignored. The
    // body is `key=value` lines (a stream id may hold any character, and
    // the encoding escapes what matters); the last line is `crc=` and the
    // CRC-32 of everything before it, in hex.
    let position = balances.position.0.to_string();
    let states: Vec<(String, String)> = balances
        .accounts
        .iter()
        .map(|(stream, state)| (stream.as_str().to_string(), encode_state(*state)))
        .collect();
    let mut fields = vec![("position", position.as_str())];
    fields.extend(states.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let body = encode_fields(&fields);
    let text = format!("{body}crc={:08x}\n", crc32(body.as_bytes()));
    store.write_side_file(CHECKPOINT_FILE, text.as_bytes())
}

fn encode_state(state: AccountState) -> String {
    match state {
        AccountState::NotOpened => "not-opened".to_string(),
        AccountState::Open { balance, currency } => {
            format!("open {} {}", balance.0, currency.code())
        }
        AccountState::Closed => "closed".to_string(),
    }
}

fn decode_state(text: &str) -> Option<AccountState> {
    match text.split(' ').collect::<Vec<_>>()[..] {
        ["not-opened"] => Some(AccountState::NotOpened),
        ["closed"] => Some(AccountState::Closed),
        ["open", balance, code] => {
            let currency = [Currency::Eur, Currency::Gbp, Currency::Usd]
                .into_iter()
                .find(|currency| currency.code() == code)?;
            let balance = Cents(decode_u64("balance", balance).ok()?);
            Some(AccountState::Open { balance, currency })
        }
        _ => None,
    }
}

/// Reads a checkpoint, or `None` if it is not whole and well formed.
fn parse_checkpoint(bytes: &[u8]) -> Option<Balances> {
    let text = std::str::from_utf8(bytes).ok()?;
    let body_end = text.rfind("crc=")?;
    let (body, trailer) = text.split_at(body_end);
    if trailer != format!("crc={:08x}\n", crc32(body.as_bytes())) {
        return None;
    }
    let fields = parse_fields(body.as_bytes()).ok()?;
    let (first, rest) = fields.split_first()?;
    if first.0 != "position" {
        return None;
    }
    let position = Position(decode_u64("position", &first.1).ok()?);
    let mut accounts = BTreeMap::new();
    for (stream, state) in rest {
        accounts.insert(StreamId::new(stream.as_str()), decode_state(state)?);
    }
    Some(Balances { position, accounts })
}

/// Exercise 13.4: load from the checkpoint and the events after it.
pub fn load_balances<S: Storage>(store: &mut DurableStore<S>) -> Result<Balances, BalancesError> {
    // A checkpoint ahead of the log (the log was restored from an older
    // backup, or its torn tail cut off events the checkpoint had seen)
    // would count events the log no longer has, so it is ignored too.
    let saved = store
        .read_side_file(CHECKPOINT_FILE)
        .map_err(BalancesError::File)?;
    let mut balances = saved
        .as_deref()
        .and_then(parse_checkpoint)
        .filter(|balances| balances.position <= store.last_position())
        .unwrap_or(Balances {
            position: Position(0),
            accounts: BTreeMap::new(),
        });
    for recorded in store.read_all(balances.position) {
        let state = balances
            .accounts
            .entry(recorded.stream.clone())
            .or_insert_with(initial_state);
        let event = decode(&recorded.record).map_err(|error| BalancesError::Undecodable {
            position: recorded.position,
            error,
        })?;
        *state = evolve(*state, &event);
        balances.position = recorded.position;
    }
    Ok(balances)
}
