//! Tests for lesson 13 — a durable store: the format, recovery, and the
//! failure drills (law 9), then its exercises.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

use pretty_assertions::assert_eq;

use es_workbook::l13_durable_store::{
    AccountEvent, AppendError, Appended, Cents, CommandId, Currency, Damage, DecodeError,
    DurableStore, EventRecord, ExpectedVersion, FRAME_HEADER_LEN, Fingerprint, HEADER_LEN,
    HeaderProblem, LOG_FILE, MAGIC, MAX_PAYLOAD, OpenError, Position, REBOOT_MARKER, RecordedEvent,
    SideFileError, SimDisk, SimStorage, Storage, StreamId, Timestamp, TornTail, Version, crc32,
    crc32_of, decode, encode, encode_fields, parse_fields,
};

// ---------------------------------------------------------------------------
// Helpers: a counting allocator, a temporary directory, events, a fixed
// script of appends, and the model check.
// ---------------------------------------------------------------------------

/// Wraps the system allocator to remember, per thread, the largest single
/// allocation since the last reset: how the drills prove that no corrupted
/// length ever makes the store allocate what the length claims.
struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(layout.size())));
        // SAFETY: forwards the caller's layout unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(new_size)));
        // SAFETY: forwards the caller's arguments unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result with the largest allocation it made.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|largest| largest.set(0));
    let result = f();
    (result, LARGEST.with(Cell::get))
}

/// A directory of its own under the system's temporary directory, removed
/// when the test ends, pass or fail.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let unique = format!(
            "es-workbook-l13-{}-{}-{name}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&path).expect("the temporary directory can be created");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stream(id: &str) -> StreamId {
    StreamId::new(id)
}

fn opened(owner: &str) -> EventRecord {
    encode(&AccountEvent::AccountOpened {
        owner: owner.to_string(),
        email: format!("{}@example.com", owner.to_lowercase()),
        currency: Currency::Eur,
    })
}

fn deposited(cents: u64) -> EventRecord {
    encode(&AccountEvent::MoneyDeposited {
        amount: Cents(cents),
    })
}

fn withdrawn(cents: u64) -> EventRecord {
    encode(&AccountEvent::MoneyWithdrawn {
        amount: Cents(cents),
    })
}

/// One append of the script.
#[derive(Debug, Clone)]
struct Step {
    stream: StreamId,
    expected: ExpectedVersion,
    records: Vec<EventRecord>,
    command: Option<(CommandId, Fingerprint)>,
}

fn command(id: &str, name: &str) -> Option<(CommandId, Fingerprint)> {
    Some((
        CommandId::new(id),
        Fingerprint::of(name, &[("request", id)]),
    ))
}

/// Five appends over two accounts: with and without command ids, one event
/// and several, the last one a single small frame.
fn script() -> Vec<Step> {
    vec![
        Step {
            stream: stream("account-1"),
            expected: ExpectedVersion::NoStream,
            records: vec![opened("Ada"), deposited(10_000)],
            command: command("c-1", "OpenAccount"),
        },
        Step {
            stream: stream("account-2"),
            expected: ExpectedVersion::NoStream,
            records: vec![opened("Bob")],
            command: command("c-2", "OpenAccount"),
        },
        Step {
            stream: stream("account-1"),
            expected: ExpectedVersion::Exact(Version(2)),
            records: vec![withdrawn(3_000)],
            command: command("c-3", "WithdrawMoney"),
        },
        Step {
            stream: stream("account-2"),
            expected: ExpectedVersion::Exact(Version(1)),
            records: vec![deposited(5), deposited(6), deposited(7)],
            command: None,
        },
        Step {
            stream: stream("account-1"),
            expected: ExpectedVersion::Exact(Version(3)),
            records: vec![encode(&AccountEvent::AccountClosed)],
            command: command("c-5", "CloseAccount"),
        },
    ]
}

fn apply<S: Storage>(store: &mut DurableStore<S>, step: &Step) -> Result<Appended, AppendError> {
    store.append(
        &step.stream,
        step.expected,
        step.records.clone(),
        Timestamp(1_700_000_000),
        step.command.clone(),
    )
}

/// The model: a plain list of what was acknowledged, as (stream, record).
type Model = Vec<(StreamId, EventRecord)>;

fn model_of(steps: &[Step]) -> Model {
    steps
        .iter()
        .flat_map(|step| {
            step.records
                .iter()
                .map(|record| (step.stream.clone(), record.clone()))
        })
        .collect()
}

fn contents<S: Storage>(store: &DurableStore<S>) -> Model {
    store
        .read_all(Position(0))
        .iter()
        .map(|recorded| (recorded.stream.clone(), recorded.record.clone()))
        .collect()
}

// ANCHOR: model_check
/// The model check after a reopen: the store holds exactly what was
/// acknowledged, or that and the whole of the one append whose outcome was
/// unknown (its frame reached the file before the failure). Never part of
/// an append, never anything else. Returns whether the unknown one is there.
fn check_against_model<S: Storage>(
    store: &DurableStore<S>,
    acknowledged: &Model,
    unknown: Option<&Step>,
    context: &str,
) -> bool {
    let found = contents(store);
    let mut with_unknown = acknowledged.clone();
    with_unknown.extend(
        unknown
            .map(|step| model_of(std::slice::from_ref(step)))
            .unwrap_or_default(),
    );
    assert!(
        found == *acknowledged || (unknown.is_some() && found == with_unknown),
        "{context}: the store holds {} events, the model {} acknowledged{}",
        found.len(),
        acknowledged.len(),
        if unknown.is_some() {
            " and one unknown append"
        } else {
            ""
        },
    );
    let positions: Vec<u64> = store
        .read_all(Position(0))
        .iter()
        .map(|e| e.position.0)
        .collect();
    assert_eq!(
        positions,
        (1..=found.len() as u64).collect::<Vec<_>>(),
        "{context}: dense positions"
    );
    found != *acknowledged
}
// ANCHOR_END: model_check

/// Reopens the disk left by a power loss and checks that it holds exactly
/// what `steps` acknowledged.
fn reopen_and_check_against_model(after: &SimDisk, steps: &[Step], context: &str) {
    let reopened = DurableStore::open(after.storage()).expect("reopens");
    check_against_model(&reopened, &model_of(steps), None, context);
}

/// A writer on a fresh disk that appended the script's first step and was
/// stopped by a failure at the sync of its second, whose frame is left in
/// the file. The fault is spent; the store is poisoned.
fn a_writer_stopped_at_the_sync_of_its_second_append()
-> (SimDisk, DurableStore<SimStorage>, Vec<Step>) {
    let disk = SimDisk::new();
    let mut store = DurableStore::open(disk.storage()).expect("opens");
    let steps = script();
    apply(&mut store, &steps[0]).expect("accepted");
    disk.fail_op(1, io::ErrorKind::Other, true);
    assert!(apply(&mut store, &steps[1]).is_err());
    (disk, store, steps)
}

/// Appends the opening of account `id` by `owner`, as its stream's first
/// event, at time `at`.
fn open_account<S: Storage>(
    store: &mut DurableStore<S>,
    id: &str,
    owner: &str,
    at: u64,
) -> Result<Appended, AppendError> {
    store.append(
        &stream(id),
        ExpectedVersion::NoStream,
        vec![opened(owner)],
        Timestamp(at),
        None,
    )
}

/// A store on a fresh disk with one event: "account-1" opened by Ada.
fn a_store_with_ada_opened() -> (SimDisk, DurableStore<SimStorage>) {
    let disk = SimDisk::new();
    let mut store = DurableStore::open(disk.storage()).expect("opens");
    open_account(&mut store, "account-1", "Ada", 1).expect("accepted");
    (disk, store)
}

/// What an open or a verify answers for damage of kind `damage` found at
/// byte `offset` of the log.
fn corrupt_at(offset: usize, damage: Damage) -> Option<OpenError> {
    Some(OpenError::Corrupt {
        offset: offset as u64,
        damage,
    })
}

/// Runs the whole script on a fresh simulated disk and returns the disk and
/// the length of the log file after each acknowledged append.
fn written_log() -> (SimDisk, Vec<usize>) {
    let disk = SimDisk::new();
    let mut store = DurableStore::open(disk.storage()).expect("a fresh disk opens");
    let mut ends = vec![HEADER_LEN];
    for step in script() {
        apply(&mut store, &step).expect("every step of the script is accepted");
        ends.push(disk.file(LOG_FILE).expect("the log exists").len());
    }
    (disk, ends)
}

fn open_bytes(bytes: &[u8]) -> Result<DurableStore<SimStorage>, OpenError> {
    let disk = SimDisk::new();
    disk.put_file(LOG_FILE, bytes);
    DurableStore::open(disk.storage())
}

/// A frame of kind 1 around `payload`, built from the format tables.
fn framed(payload: &[u8]) -> Vec<u8> {
    let length = (payload.len() as u32).to_le_bytes();
    let mut frame = Vec::new();
    frame.extend_from_slice(&length);
    frame.extend_from_slice(&crc32(&length).to_le_bytes());
    frame.extend_from_slice(&crc32_of(&[&length, &[1], payload]).to_le_bytes());
    frame.push(1);
    frame.extend_from_slice(payload);
    frame
}

/// The payload of an append of one deposit of 1 cent, written by hand.
fn batch_text(stream: &str, version: u64, position: u64, command: Option<&str>) -> Vec<u8> {
    let mut text =
        format!("stream={stream}\nversion={version}\nposition={position}\nrecorded_at=1\n");
    if let Some(id) = command {
        text.push_str(&format!("command={id}\nfingerprint=f\n"));
    }
    text.push_str("type=MoneyDeposited\nschema=2\ndata=amount=1\\n\n");
    text.into_bytes()
}

/// A log file: the header, then `frames`.
fn log_of(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut header = MAGIC.to_vec();
    header.extend_from_slice(&1u32.to_le_bytes());
    let check = crc32(&header);
    header.extend_from_slice(&check.to_le_bytes());
    [vec![header], frames.to_vec()].concat().concat()
}

// ---------------------------------------------------------------------------
// The checksum and the format.
// ---------------------------------------------------------------------------

#[test]
fn crc32_gives_the_catalogue_check_value_and_the_known_fixtures() {
    // given the CRC-32/ISO-HDLC fixtures of the CRC catalogue and zlib
    // when / then
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
    assert_eq!(
        crc32(b"The quick brown fox jumps over the lazy dog"),
        0x414F_A339
    );
    assert_eq!(crc32_of(&[b"1234", b"", b"56789"]), 0xCBF4_3926);
}

// ANCHOR: format_test
#[test]
fn the_file_is_a_header_then_frames_exactly_as_the_chapter_draws_them() {
    // given a new store with one append
    let disk = SimDisk::new();
    let mut store = DurableStore::open(disk.storage()).expect("a fresh disk opens");
    let fingerprint = Fingerprint::of("DepositMoney", &[("amount", "2500")]);
    store
        .append(
            &stream("account-1"),
            ExpectedVersion::Any,
            vec![deposited(2500)],
            Timestamp(1_700_000_000),
            Some((CommandId::new("req-1"), fingerprint)),
        )
        .expect("the append is accepted");

    // when the file is read back
    let file = disk.file(LOG_FILE).expect("the log exists");

    // then it is the 16-byte header: magic, version 1, CRC-32 of both
    assert_eq!(&file[..8], b"ESWBLOG\0");
    assert_eq!(&file[8..12], &[1, 0, 0, 0]);
    assert_eq!(&file[12..16], &crc32(&file[..12]).to_le_bytes());
    // and one frame: length, CRC-32 of the length, CRC-32 of length + kind
    // + payload, kind 1, then the payload's `key=value` lines
    let payload = "stream=account-1\nversion=1\nposition=1\nrecorded_at=1700000000\n\
                   command=req-1\nfingerprint=command=DepositMoney\\namount=2500\\n\n\
                   type=MoneyDeposited\nschema=2\ndata=amount=2500\\n\n";
    let frame = &file[16..];
    let length = (payload.len() as u32).to_le_bytes();
    assert_eq!(&frame[0..4], &length);
    assert_eq!(&frame[4..8], &crc32(&length).to_le_bytes());
    assert_eq!(
        &frame[8..12],
        &crc32_of(&[&length, &[1], payload.as_bytes()]).to_le_bytes()
    );
    assert_eq!(frame[12], 1);
    assert_eq!(String::from_utf8_lossy(&frame[13..]), payload);
    assert_eq!(file.len(), HEADER_LEN + FRAME_HEADER_LEN + payload.len());
}
// ANCHOR_END: format_test

#[test]
fn a_header_that_is_not_ours_or_in_another_version_is_refused_by_name() {
    // given logs with a foreign magic, a damaged header, and version 2
    let foreign = b"SQLite format 3\0".to_vec();
    let mut damaged = es_workbook::l13_durable_store::file_header().to_vec();
    damaged[13] ^= 1;
    let mut version_2 = damaged.clone();
    version_2[13] ^= 1;
    version_2[8] = 2;
    let check = crc32(&version_2[..12]).to_le_bytes();
    version_2[12..16].copy_from_slice(&check);

    // when each is opened / then each gets its own typed error
    assert_eq!(
        open_bytes(&foreign).err(),
        Some(OpenError::Header(HeaderProblem::NotAnEventLog))
    );
    assert_eq!(
        open_bytes(&damaged).err(),
        Some(OpenError::Header(HeaderProblem::Checksum))
    );
    assert_eq!(
        open_bytes(&version_2).err(),
        Some(OpenError::Header(HeaderProblem::UnsupportedVersion(2)))
    );
    assert_eq!(MAGIC, *b"ESWBLOG\0");
}

// ---------------------------------------------------------------------------
// The store's API, on disk.
// ---------------------------------------------------------------------------

#[test]
fn a_reopened_store_reads_back_every_stream_and_position_as_appended() {
    // given a store in a real directory that ran the script
    let dir = TempDir::new("reopen");
    let mut store = DurableStore::open_dir(dir.path()).expect("the store opens");
    assert!(store.recovery().created);
    for step in script() {
        apply(&mut store, &step).expect("every step is accepted");
    }
    let before: Vec<RecordedEvent> = store.read_all(Position(0)).to_vec();
    drop(store);

    // when it is opened again
    let store = DurableStore::open_dir(dir.path()).expect("the store reopens");

    // then it holds the same events, streams, versions and positions
    assert_eq!(store.read_all(Position(0)), before.as_slice());
    assert_eq!(contents(&store), model_of(&script()));
    assert_eq!(store.stream_version(&stream("account-1")), Version(4));
    assert_eq!(store.stream_version(&stream("account-2")), Version(4));
    assert_eq!(store.last_position(), Position(8));
    assert_eq!(store.read_all(Position(6)).len(), 2);
    let versions: Vec<u64> = store
        .read_stream(&stream("account-2"))
        .iter()
        .map(|e| e.version.0)
        .collect();
    assert_eq!(versions, vec![1, 2, 3, 4]);
    let first = &store.read_stream(&stream("account-1"))[0];
    assert_eq!(first.command, Some(CommandId::new("c-1")));
    assert_eq!(
        decode(&first.record),
        Ok(AccountEvent::AccountOpened {
            owner: "Ada".into(),
            email: "ada@example.com".into(),
            currency: Currency::Eur,
        })
    );
    let recovery = store.recovery();
    assert_eq!(
        (recovery.created, recovery.frames, recovery.events),
        (false, 5, 8)
    );
    assert_eq!(recovery.torn_tail, None);
}

#[test]
fn an_append_against_the_wrong_version_or_too_large_writes_nothing_and_does_not_poison() {
    // given a store that ran the script
    let (disk, ends) = written_log();
    let mut store = DurableStore::open(disk.storage()).expect("the log opens");
    let ops = disk.ops();

    // when one append expects the wrong version and another is too large
    let conflict = store.append(
        &stream("account-1"),
        ExpectedVersion::Exact(Version(1)),
        vec![deposited(1)],
        Timestamp(0),
        None,
    );
    let huge = EventRecord {
        event_type: "MoneyDeposited".into(),
        schema_version: 2,
        payload: "x".repeat(MAX_PAYLOAD),
    };
    let too_large = store.append(
        &stream("account-3"),
        ExpectedVersion::Any,
        vec![huge],
        Timestamp(0),
        None,
    );

    // then both are refused without touching the disk, and the store goes on
    assert_eq!(
        conflict,
        Err(AppendError::VersionConflict {
            expected: ExpectedVersion::Exact(Version(1)),
            actual: Version(4),
        })
    );
    assert!(matches!(too_large, Err(AppendError::TooLarge { .. })));
    assert_eq!(disk.ops(), ops);
    assert_eq!(disk.file(LOG_FILE).map(|f| f.len()), ends.last().copied());
    assert_eq!(store.poisoned(), None);
    let next = open_account(&mut store, "account-3", "Cy", 0);
    assert_eq!(next, Ok(Appended::Now(Version(1))));
}

#[test]
fn a_command_repeated_after_a_restart_is_recognised_and_its_id_stays_bound_to_it() {
    // given a command that took effect, and a restart
    let dir = TempDir::new("idempotency");
    let account = stream("account-1");
    let deposit = || {
        Some((
            CommandId::new("req-42"),
            Fingerprint::of("DepositMoney", &[("amount", "2500")]),
        ))
    };
    let mut store = DurableStore::open_dir(dir.path()).expect("the store opens");
    let first = store.append(
        &account,
        ExpectedVersion::Any,
        vec![deposited(2500)],
        Timestamp(1),
        deposit(),
    );
    assert_eq!(first, Ok(Appended::Now(Version(1))));
    drop(store);
    let mut store = DurableStore::open_dir(dir.path()).expect("the store reopens");

    // when the same command arrives again, then another under the same id,
    // then the same one on another stream
    let again = store.append(
        &account,
        ExpectedVersion::Any,
        vec![deposited(2500)],
        Timestamp(2),
        deposit(),
    );
    let other_command = store.append(
        &account,
        ExpectedVersion::Any,
        vec![deposited(9900)],
        Timestamp(2),
        Some((
            CommandId::new("req-42"),
            Fingerprint::of("DepositMoney", &[("amount", "9900")]),
        )),
    );
    let other_stream = store.append(
        &stream("account-2"),
        ExpectedVersion::Any,
        vec![deposited(2500)],
        Timestamp(2),
        deposit(),
    );

    // then the repeat is recognised and the other two are refused; the
    // stream holds one deposit
    assert_eq!(again, Ok(Appended::AlreadyApplied(Version(1))));
    let reused = Err(AppendError::CommandIdReused {
        id: CommandId::new("req-42"),
    });
    assert_eq!(other_command, reused);
    assert_eq!(other_stream, reused);
    assert_eq!(store.read_stream(&account).len(), 1);
    assert_eq!(store.stream_version(&stream("account-2")), Version(0));
}

#[test]
fn a_command_that_appended_nothing_is_still_remembered_after_a_restart() {
    // given a command that decided no events, appended under its id
    let disk = SimDisk::new();
    let mut store = DurableStore::open(disk.storage()).expect("opens");
    let nothing = command("noop-1", "CloseAccount");
    let first = store.append(
        &stream("account-1"),
        ExpectedVersion::NoStream,
        Vec::new(),
        Timestamp(1),
        nothing.clone(),
    );
    assert_eq!(first, Ok(Appended::Now(Version(0))));
    drop(store);

    // when it is sent again after a restart
    let mut store = DurableStore::open(disk.storage()).expect("reopens");
    let again = store.append(
        &stream("account-1"),
        ExpectedVersion::NoStream,
        Vec::new(),
        Timestamp(2),
        nothing,
    );

    // then it is recognised, and the log holds one frame and no event
    assert_eq!(again, Ok(Appended::AlreadyApplied(Version(0))));
    assert_eq!((store.recovery().frames, store.recovery().events), (1, 0));
    assert_eq!(store.last_position(), Position(0));
}

#[test]
fn a_second_writer_on_the_same_directory_is_told_the_store_is_in_use() {
    // given a store open on a directory
    let dir = TempDir::new("lock");
    let first = DurableStore::open_dir(dir.path()).expect("the first writer opens");

    // when a second handle opens the same directory
    let second = DurableStore::open_dir(dir.path());

    // then it is refused as in use, until the first is closed
    assert_eq!(second.err(), Some(OpenError::InUse));
    assert_eq!(
        OpenError::InUse.to_string(),
        "the store is in use by another writer"
    );
    drop(first);
    assert!(DurableStore::open_dir(dir.path()).is_ok());
}

// ---------------------------------------------------------------------------
// Syncs: when, how many, and what the create and replace sequences are.
// ---------------------------------------------------------------------------

#[test]
fn creating_a_store_writes_a_temporary_file_syncs_it_renames_it_and_syncs_the_directory() {
    // given an empty disk
    let disk = SimDisk::new();

    // when a store is created on it, and the power fails right after
    let store = DurableStore::open(disk.storage()).expect("the store is created");
    let after_power_loss = disk.power_loss(7);
    drop(store);

    // then the creation went through a synced temporary file and a synced
    // directory, and the log survives the power loss
    assert_eq!(
        disk.trace(),
        vec![
            "lock .",
            "list .",
            "read events.log",
            "set_len events.log.tmp",
            "write events.log.tmp",
            "sync events.log.tmp",
            "rename events.log.tmp",
            "sync_dir .",
        ]
    );
    let reopened = DurableStore::open(after_power_loss.storage()).expect("the log survived");
    assert!(!reopened.recovery().created);
}

#[test]
fn a_store_reopened_after_its_creation_was_cut_short_keeps_its_appends_through_a_power_loss() {
    // The creation takes 8 operations: lock, list, read, and the replace.
    for n in 0..8 {
        for seed in 0..4 {
            // given a creation that died at its n-th operation, and a restart
            let disk = SimDisk::new();
            disk.fail_op(n, io::ErrorKind::Other, true);
            assert!(DurableStore::open(disk.storage()).is_err(), "op {n}");
            disk.clear_fault();
            let mut store = DurableStore::open(disk.storage()).expect("the restart opens");

            // when an append is acknowledged and the power then fails
            let steps = script();
            apply(&mut store, &steps[0]).expect("accepted");
            let after = disk.power_loss(seed);
            drop(store);

            // then the acknowledged append is there
            reopen_and_check_against_model(&after, &steps[..1], &format!("op {n}, seed {seed}"));
        }
    }
}

#[test]
fn an_append_of_a_hundred_events_costs_one_write_and_one_sync() {
    // given an open store
    let disk = SimDisk::new();
    let mut store = DurableStore::open(disk.storage()).expect("a fresh disk opens");
    let before = disk.trace().len();

    // when a hundred events are appended in one call
    let events: Vec<EventRecord> = (1..=100).map(deposited).collect();
    let appended = store.append(
        &stream("account-1"),
        ExpectedVersion::NoStream,
        events,
        Timestamp(0),
        None,
    );

    // then they took one write and one sync, the sync before the answer
    assert_eq!(appended, Ok(Appended::Now(Version(100))));
    assert_eq!(
        disk.trace()[before..],
        ["write events.log", "sync events.log"]
    );
}

#[test]
fn an_acknowledged_append_survives_any_power_loss_that_follows_it() {
    // given appends, each acknowledged
    for seed in 0..20 {
        let disk = SimDisk::new();
        let mut store = DurableStore::open(disk.storage()).expect("a fresh disk opens");
        let steps = script();
        for step in &steps {
            apply(&mut store, step).expect("every step is accepted");
        }

        // when the power fails after the last acknowledgement
        let after = disk.power_loss(seed);

        // then every acknowledged event is there
        let reopened = DurableStore::open(after.storage()).expect("the disk reopens");
        check_against_model(&reopened, &model_of(&steps), None, &format!("seed {seed}"));
    }
}

#[test]
fn a_side_file_holds_its_old_or_its_new_content_after_a_power_loss_at_any_point() {
    // given a side file written once
    let count = {
        let disk = SimDisk::new();
        let mut store = DurableStore::open(disk.storage()).expect("opens");
        store.write_side_file("balances", b"old").expect("written");
        let before = disk.ops();
        store
            .write_side_file("balances", b"new content")
            .expect("written");
        disk.ops() - before
    };
    for n in 0..=count {
        for seed in 0..8 {
            let disk = SimDisk::new();
            let mut store = DurableStore::open(disk.storage()).expect("opens");
            store.write_side_file("balances", b"old").expect("written");

            // when the machine dies at the n-th operation of a replace
            disk.fail_op(n, io::ErrorKind::Other, true);
            let replaced = store.write_side_file("balances", b"new content");
            let after = disk.power_loss(seed);
            drop(store);

            // then the file is the old or the new content, whole, and a
            // leftover temporary file is removed at the next open
            let mut reopened = DurableStore::open(after.storage()).expect("reopens");
            let content = reopened.read_side_file("balances").expect("readable");
            let context = format!("failure at op {n}, seed {seed}");
            if n == count {
                assert_eq!(replaced, Ok(()), "{context}");
            } else {
                assert!(matches!(replaced, Err(SideFileError::Io(_))), "{context}");
            }
            assert!(
                content.as_deref() == Some(b"old".as_slice())
                    || content.as_deref() == Some(b"new content".as_slice()),
                "{context}: {content:?}"
            );
            assert_eq!(after.file("balances.tmp"), None, "{context}");
            assert_eq!(
                reopened.read_side_file("balances.tmp").err(),
                Some(SideFileError::BadName("balances.tmp".into()))
            );
        }
    }
}

#[test]
fn stale_temporary_files_are_removed_when_the_store_opens() {
    // given a log and a temporary file left by a replace that was cut short
    let (disk, _) = written_log();
    let old = disk.power_loss(0);
    old.put_file("balances.tmp", b"half");

    // when the store opens
    let store = DurableStore::open(old.storage()).expect("opens");

    // then the temporary file is gone, and reported
    assert_eq!(
        store.recovery().removed_temp_files,
        vec!["balances.tmp".to_string()]
    );
    assert_eq!(old.file("balances.tmp"), None);
    assert_eq!(
        old.trace().iter().filter(|op| *op == "sync_dir .").count(),
        1
    );
}

#[test]
fn side_files_cannot_take_the_name_of_the_log_the_lock_or_a_temporary_file() {
    // given an open store
    let disk = SimDisk::new();
    let mut store = DurableStore::open(disk.storage()).expect("opens");

    // when / then every reserved or unsafe name is refused
    for name in ["events.log", "LOCK", "x.tmp", "", "a/b", "..", "."] {
        assert_eq!(
            store.write_side_file(name, b"x"),
            Err(SideFileError::BadName(name.to_string())),
            "{name:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Law 9 and the drills.
// ---------------------------------------------------------------------------

// ANCHOR: truncation_drill
#[test]
fn law_9_after_a_crash_at_any_byte_reopening_yields_exactly_the_acknowledged_prefix() {
    // given a log of five appends, and where each append's frame ends
    let (disk, ends) = written_log();
    let file = disk.file(LOG_FILE).expect("the log exists");
    let steps = script();

    for cut in 0..=file.len() {
        // when the file is cut at this byte and reopened
        let disk = SimDisk::new();
        disk.put_file(LOG_FILE, &file[..cut]);
        let reopened = DurableStore::open(disk.storage());

        // then inside the header it is refused; anywhere else exactly the
        // appends whose frames end at or before the cut are there, the rest
        // is cut off and reported, and appending works again
        if cut < HEADER_LEN {
            assert_eq!(
                reopened.err(),
                Some(OpenError::Header(HeaderProblem::NotAnEventLog)),
                "cut at {cut}"
            );
            continue;
        }
        let mut store = reopened.unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let whole = ends.iter().filter(|&&end| end <= cut).count() - 1;
        let acknowledged = model_of(&steps[..whole]);
        check_against_model(&store, &acknowledged, None, &format!("cut at {cut}"));
        let torn = (cut != ends[whole]).then(|| TornTail {
            offset: ends[whole] as u64,
            dropped: (cut - ends[whole]) as u64,
        });
        assert_eq!(store.recovery().torn_tail, torn, "cut at {cut}");
        let more = open_account(&mut store, "account-9", "Zed", 9);
        assert_eq!(more, Ok(Appended::Now(Version(1))), "cut at {cut}");
        let mut expected = acknowledged;
        expected.push((stream("account-9"), opened("Zed")));
        drop(store);
        let reopened = DurableStore::open(disk.storage()).expect("reopens");
        check_against_model(
            &reopened,
            &expected,
            None,
            &format!("cut at {cut}, then an append"),
        );
        assert_eq!(reopened.recovery().torn_tail, None, "cut at {cut}");
    }
}
// ANCHOR_END: truncation_drill

#[test]
fn a_torn_tail_is_cut_off_at_open_so_its_debris_never_ends_up_behind_a_new_frame() {
    // given a log whose last append, of a hundred events, was torn half way
    let disk = SimDisk::new();
    let mut store = DurableStore::open(disk.storage()).expect("opens");
    let first = open_account(&mut store, "account-1", "Ada", 1);
    assert_eq!(first, Ok(Appended::Now(Version(1))));
    let end = disk.file(LOG_FILE).expect("exists").len();
    let many: Vec<EventRecord> = (1..=100).map(deposited).collect();
    store
        .append(
            &stream("account-1"),
            ExpectedVersion::Any,
            many,
            Timestamp(2),
            None,
        )
        .expect("accepted");
    drop(store);
    let file = disk.file(LOG_FILE).expect("exists");
    let torn = SimDisk::new();
    torn.put_file(LOG_FILE, &file[..(end + file.len()) / 2]);

    // when the store reopens and appends one small event
    let mut store = DurableStore::open(torn.storage()).expect("recovers");
    let next = store.append(
        &stream("account-1"),
        ExpectedVersion::Exact(Version(1)),
        vec![deposited(7)],
        Timestamp(3),
        None,
    );
    drop(store);

    // then the file ends right after the new frame, and opens cleanly
    assert_eq!(next, Ok(Appended::Now(Version(2))));
    let reopened = DurableStore::open(torn.storage()).expect("no debris follows the new frame");
    let expected = vec![
        (stream("account-1"), opened("Ada")),
        (stream("account-1"), deposited(7)),
    ];
    check_against_model(&reopened, &expected, None, "after the torn tail");
    assert_eq!(reopened.recovery().torn_tail, None);
}

#[test]
fn every_single_bit_flip_is_refused_at_its_frame_or_cuts_off_only_the_last_frame() {
    // given a log of five appends
    let (disk, ends) = written_log();
    let file = disk.file(LOG_FILE).expect("the log exists");
    let steps = script();
    let last = ends[ends.len() - 2];

    for byte in 0..file.len() {
        for bit in 0..8 {
            // when one bit is flipped and the log opened
            let mut damaged = file.clone();
            damaged[byte] ^= 1 << bit;
            let (opened, largest) = largest_allocation(|| open_bytes(&damaged));

            // then: in the header, a header error; in a frame's length or
            // its check, or anywhere in a frame that has data after it, an
            // error naming that frame's offset; elsewhere in the last frame,
            // a clean cut of that frame alone. Never a panic, never other
            // data, never an allocation much larger than the file.
            let context = format!("bit {bit} of byte {byte}");
            assert!(
                largest <= 4 * file.len(),
                "{context}: allocated {largest} bytes"
            );
            let frame_start = ends
                .iter()
                .copied()
                .filter(|&end| end <= byte)
                .max()
                .unwrap_or(0);
            match opened {
                Err(OpenError::Header(_)) => assert!(byte < HEADER_LEN, "{context}"),
                Err(OpenError::Corrupt { offset, damage }) => {
                    assert_eq!(offset, frame_start as u64, "{context}: {damage}");
                    assert!(frame_start < last || byte < last + 8, "{context}: {damage}");
                }
                Ok(store) => {
                    assert!(byte >= last + 8, "{context}: opened");
                    check_against_model(&store, &model_of(&steps[..4]), None, &context);
                    let torn = TornTail {
                        offset: last as u64,
                        dropped: (file.len() - last) as u64,
                    };
                    assert_eq!(store.recovery().torn_tail, Some(torn), "{context}");
                }
                Err(other) => panic!("{context}: {other}"),
            }
        }
    }
}

#[test]
fn damage_in_the_middle_is_refused_with_the_offset_of_the_damaged_frame() {
    // given a log whose second frame has a changed byte in its payload
    let (disk, ends) = written_log();
    let mut file = disk.file(LOG_FILE).expect("the log exists");
    file[ends[1] + FRAME_HEADER_LEN + 3] ^= 0x20;

    // when it is opened
    let opened = open_bytes(&file);

    // then it is refused, naming where the second frame starts
    let error = opened.expect_err("a damaged middle is refused");
    assert_eq!(
        error,
        OpenError::Corrupt {
            offset: ends[1] as u64,
            damage: Damage::Checksum,
        }
    );
    assert_eq!(
        error.to_string(),
        format!(
            "the log is corrupt at byte {}: the checksum does not match",
            ends[1]
        )
    );
}

#[test]
fn a_corrupted_length_never_makes_the_store_allocate_what_it_claims() {
    // given the last frame's length set to 4 GiB and to just under the
    // maximum, each with a matching length check so only the size is wrong
    let (disk, ends) = written_log();
    let file = disk.file(LOG_FILE).expect("the log exists");
    let last = ends[ends.len() - 2];
    let with_length = |length: u32| {
        let mut damaged = file.clone();
        damaged[last..last + 4].copy_from_slice(&length.to_le_bytes());
        damaged[last + 4..last + 8].copy_from_slice(&crc32(&length.to_le_bytes()).to_le_bytes());
        damaged
    };
    let huge = with_length(u32::MAX - 15);
    let plausible = with_length(MAX_PAYLOAD as u32);

    // when each is opened
    let (huge_opened, huge_largest) = largest_allocation(|| open_bytes(&huge));
    let (plausible_opened, plausible_largest) = largest_allocation(|| open_bytes(&plausible));

    // then the first is refused as a bad length, the second is a frame that
    // runs past the end (a torn tail), and neither allocates more than a
    // few times the file
    assert_eq!(
        huge_opened.err(),
        Some(OpenError::Corrupt {
            offset: last as u64,
            damage: Damage::BadLength {
                length: u32::MAX - 15
            },
        })
    );
    let store = plausible_opened.expect("a frame cut short is a torn tail");
    assert_eq!(
        store.recovery().torn_tail.map(|t| t.offset),
        Some(last as u64)
    );
    assert!(huge_largest <= 4 * file.len(), "{huge_largest}");
    assert!(plausible_largest <= 4 * file.len(), "{plausible_largest}");
}

#[test]
fn a_length_rewritten_with_its_check_to_swallow_later_frames_is_refused_not_cut_off() {
    // given a log whose third frame's length, and the check of that length,
    // were both rewritten to run past the end of the file, over the whole
    // frames that follow it
    let (disk, ends) = written_log();
    let file = disk.file(LOG_FILE).expect("the log exists");
    let at = ends[2];
    let length = (file.len() - at + 100) as u32;
    let mut damaged = file.clone();
    damaged[at..at + 4].copy_from_slice(&length.to_le_bytes());
    damaged[at + 4..at + 8].copy_from_slice(&crc32(&length.to_le_bytes()).to_le_bytes());

    // when it is opened
    let opened = open_bytes(&damaged);

    // then it is refused at that frame, not read as a torn tail that drops
    // the acknowledged frames after it
    assert_eq!(
        opened.err(),
        Some(OpenError::Corrupt {
            offset: at as u64,
            damage: Damage::SwallowsFrames {
                frame_at: ends[3] as u64
            },
        })
    );
}

/// A string that is, byte for byte, a whole frame of kind 1 around a payload
/// of `len` bytes or a little more (length check and checksum both good),
/// ASCII with no `\n` and no `\`: what a hostile user could choose as an
/// owner's name.
fn a_whole_frame_as_text(len: usize) -> String {
    let plain = |bytes: &[u8]| bytes.iter().all(|&b| b < 0x80 && b != b'\n' && b != b'\\');
    let mut size = len as u32;
    while !(plain(&size.to_le_bytes()) && plain(&crc32(&size.to_le_bytes()).to_le_bytes())) {
        size += 1;
    }
    let length = size.to_le_bytes();
    let mut payload = vec![b'A'; size as usize];
    for tag in 0u64.. {
        payload[..8].copy_from_slice(format!("{tag:08}").as_bytes());
        let checksum = crc32_of(&[&length, &[1], &payload]).to_le_bytes();
        if plain(&checksum) {
            let mut frame = length.to_vec();
            frame.extend_from_slice(&crc32(&length).to_le_bytes());
            frame.extend_from_slice(&checksum);
            frame.push(1);
            frame.extend_from_slice(&payload);
            return String::from_utf8(frame).expect("every byte is ASCII");
        }
    }
    unreachable!("some tag gives a checksum of plain bytes")
}

#[test]
fn a_torn_append_whose_owner_name_is_a_whole_frame_opens_at_every_cut() {
    // given a log with one acknowledged append, and the bytes of a second
    // append, never synced, whose owner's name is itself a whole frame
    let owner = a_whole_frame_as_text(40);
    let disk = SimDisk::new();
    let mut store = DurableStore::open(disk.storage()).expect("a fresh disk opens");
    open_account(&mut store, "a", "Ann", 1).expect("the first append is acknowledged");
    let before = disk.file(LOG_FILE).expect("the log exists").len();
    disk.fail_op(1, io::ErrorKind::Other, true);
    let killed = store.append(
        &stream("b"),
        ExpectedVersion::NoStream,
        vec![opened(&owner)],
        Timestamp(2),
        None,
    );
    assert!(killed.is_err(), "the writer is killed at its sync");
    drop(store);
    let file = disk.file(LOG_FILE).expect("the log exists");

    for cut in before + 1..file.len() {
        // when the second append is cut short at any byte
        let opened = open_bytes(&file[..cut]);

        // then the store opens with the first append and drops the rest as
        // a torn tail
        let store = opened.unwrap_or_else(|error| panic!("cut at {cut}: {error}"));
        assert_eq!(
            store.recovery().torn_tail.map(|t| t.offset),
            Some(before as u64),
            "cut at {cut}"
        );
        assert_eq!(store.read_all(Position(0)).len(), 1, "cut at {cut}");
    }
}

#[test]
fn user_data_cannot_put_a_zero_byte_or_a_frame_header_into_the_log() {
    // given an owner's name made of thousands of frame headers, each with a
    // good length check and a valid kind, and a NUL of its own
    let plain = |bytes: &[u8]| bytes.iter().all(|&b| b < 0x80 && b != b'\n' && b != b'\\');
    let mut size: u32 = 400_000;
    while !(plain(&size.to_le_bytes()) && plain(&crc32(&size.to_le_bytes()).to_le_bytes())) {
        size += 1;
    }
    let mut header = size.to_le_bytes().to_vec();
    header.extend_from_slice(&crc32(&size.to_le_bytes()).to_le_bytes());
    header.extend_from_slice(b"AAAA");
    header.push(1);
    let mut owner = String::from_utf8(header.repeat(10_000)).expect("every byte is ASCII");
    owner.push('\0');

    // when it is appended and the log read back
    let dir = SimDisk::new();
    let mut store = DurableStore::open(dir.storage()).expect("a fresh disk opens");
    store
        .append(
            &stream("a"),
            ExpectedVersion::NoStream,
            vec![opened(&owner)],
            Timestamp(1),
            None,
        )
        .expect("the append is acknowledged");
    drop(store);
    let file = dir.file(LOG_FILE).expect("the log exists");

    // then no payload holds a zero byte, so the only offsets where a frame
    // header could start (a length of at most 2^20 has a zero top byte,
    // and passes its check) are the real frames'
    let mut starts = Vec::new();
    let mut at = HEADER_LEN;
    while at < file.len() {
        starts.push(at);
        let length = u32::from_le_bytes(file[at..at + 4].try_into().expect("4 bytes")) as usize;
        let payload = &file[at + FRAME_HEADER_LEN..at + FRAME_HEADER_LEN + length];
        assert!(
            !payload.contains(&0),
            "the payload at {at} holds a zero byte"
        );
        at += FRAME_HEADER_LEN + length;
    }
    let candidates: Vec<usize> = (HEADER_LEN..file.len() - FRAME_HEADER_LEN)
        .filter(|&at| {
            file[at + 3] == 0
                && file[at + 12] == 1
                && crc32(&file[at..at + 4]).to_le_bytes() == file[at + 4..at + 8]
        })
        .collect();
    assert_eq!(candidates, starts);
    // and the name, NUL and all, reads back as written
    let reopened = DurableStore::open(dir.storage()).expect("the log opens");
    assert_eq!(
        reopened.read_all(Position(0))[0].record,
        opened(&owner),
        "the owner's name round-trips"
    );
}

#[test]
fn a_nul_in_a_value_is_written_escaped_and_a_raw_nul_is_refused() {
    // given a value holding a NUL
    let fields = [("name", "a\0b")];

    // when it is encoded, and bytes with a raw NUL are read
    let encoded = encode_fields(&fields);
    let raw = parse_fields(b"name=a\0b\n");

    // then the NUL is written as `\0`, read back as NUL, and a raw one is
    // refused
    assert_eq!(encoded, "name=a\\0b\n");
    assert_eq!(
        parse_fields(encoded.as_bytes()),
        Ok(vec![("name".to_string(), "a\0b".to_string())])
    );
    assert_eq!(raw, Err(DecodeError::RawNul { offset: 0 }));
}

#[test]
fn a_frame_whose_version_position_or_command_id_does_not_follow_on_is_refused() {
    // given logs whose frames pass every checksum, one whole first frame
    // and then a second that does not follow it
    let first = framed(&batch_text("a", 1, 1, Some("c-1")));
    let second_at = (HEADER_LEN + first.len()) as u64;
    let cases = [
        ("a version that skips", batch_text("a", 3, 2, None)),
        ("a version that repeats", batch_text("a", 1, 2, None)),
        ("a position that skips", batch_text("a", 2, 5, None)),
        ("a position that repeats", batch_text("b", 1, 1, None)),
        (
            "a command id used twice",
            batch_text("b", 1, 2, Some("c-1")),
        ),
    ];
    for (name, second) in cases {
        // when each is opened
        let opened = open_bytes(&log_of(&[first.clone(), framed(&second)]));

        // then it is refused at the second frame
        assert_eq!(
            opened.err(),
            Some(OpenError::Corrupt {
                offset: second_at,
                damage: Damage::OutOfSequence,
            }),
            "{name}"
        );
    }
    // and a first frame that does not start at version 1 and position 1 is
    // refused too, while the same frame in order opens
    assert_eq!(
        open_bytes(&log_of(&[framed(&batch_text("a", 2, 2, None))])).err(),
        corrupt_at(HEADER_LEN, Damage::OutOfSequence)
    );
    let good = open_bytes(&log_of(&[first, framed(&batch_text("a", 2, 2, None))]))
        .expect("frames that follow on open");
    assert_eq!(good.last_position(), Position(2));
}

#[test]
fn a_length_of_zero_with_a_good_check_is_refused_as_a_bad_length() {
    // given a log whose first frame has a length of 0, with the right
    // length check and checksum, and a whole frame after it
    let mut empty = Vec::new();
    empty.extend_from_slice(&0u32.to_le_bytes());
    empty.extend_from_slice(&crc32(&0u32.to_le_bytes()).to_le_bytes());
    empty.extend_from_slice(&crc32_of(&[&0u32.to_le_bytes(), &[1]]).to_le_bytes());
    empty.push(1);
    let file = log_of(&[empty, framed(&batch_text("a", 1, 1, None))]);

    // when it is opened
    let opened = open_bytes(&file);

    // then it is refused as a bad length, naming the length
    assert_eq!(
        opened.err(),
        corrupt_at(HEADER_LEN, Damage::BadLength { length: 0 })
    );
}

#[test]
fn a_frame_with_neither_events_nor_a_command_is_refused() {
    // given a log whose only frame has good checksums, no events and no
    // command id, and one whose frame records a command that appended
    // nothing
    let empty = framed(b"stream=a\nversion=0\nposition=0\nrecorded_at=1\n");
    let command_only =
        framed(b"stream=a\nversion=0\nposition=0\nrecorded_at=1\ncommand=c-1\nfingerprint=f\n");

    // when each is opened
    let refused = open_bytes(&log_of(&[empty]));
    let opened = open_bytes(&log_of(&[command_only]));

    // then the first is refused, the second opens with no events
    assert_eq!(refused.err(), corrupt_at(HEADER_LEN, Damage::EmptyFrame));
    let opened = opened.expect("a command that appended nothing is a frame");
    assert_eq!(opened.last_position(), Position(0));
}

#[test]
fn a_tail_of_zeros_left_by_a_crash_is_cut_off_but_zeros_followed_by_data_are_refused() {
    // given a log with 100 zero bytes after its last frame, and one with a
    // frame's worth of zeros in place of its fourth frame
    let (disk, ends) = written_log();
    let file = disk.file(LOG_FILE).expect("the log exists");
    let mut zero_tail = file.clone();
    zero_tail.extend_from_slice(&[0; 100]);
    let mut zero_middle = file.clone();
    zero_middle[ends[3]..ends[4]].fill(0);

    // when each is opened
    let tail = open_bytes(&zero_tail).expect("zeros at the end are a torn tail");
    let middle = open_bytes(&zero_middle);

    // then the zeros at the end are cut off and everything is there, and
    // the zeros in the middle are refused where they start
    check_against_model(&tail, &model_of(&script()), None, "zero tail");
    assert_eq!(
        tail.recovery().torn_tail,
        Some(TornTail {
            offset: file.len() as u64,
            dropped: 100
        })
    );
    assert_eq!(middle.err(), corrupt_at(ends[3], Damage::LengthCheck));
}

#[test]
fn a_last_frame_whose_start_is_lost_but_whose_end_survived_is_refused_not_guessed() {
    // given a log whose last frame lost its first 13 bytes to zeros while
    // the rest of it reached the disk (a disk that reorders its writes)
    let (disk, ends) = written_log();
    let mut file = disk.file(LOG_FILE).expect("the log exists");
    let last = ends[ends.len() - 2];
    file[last..last + FRAME_HEADER_LEN].fill(0);

    // when it is opened
    let opened = open_bytes(&file);

    // then it is refused at that frame, for the operator to decide
    assert_eq!(opened.err(), corrupt_at(last, Damage::LengthCheck));
}

/// Runs the script on `disk` until an operation fails. Returns what was
/// acknowledged and the step that failed, if one did, with its error.
fn run_until_failure(disk: &SimDisk) -> (Model, Option<(Step, AppendError)>, bool) {
    let mut acknowledged = Vec::new();
    let Ok(mut store) = DurableStore::open(disk.storage()) else {
        return (acknowledged, None, false);
    };
    for step in script() {
        match apply(&mut store, &step) {
            Ok(_) => acknowledged.extend(model_of(std::slice::from_ref(&step))),
            Err(error) => {
                // A poisoned store refuses every later append, even one the
                // disk would take, and still serves reads.
                let later = store.append(
                    &stream("x"),
                    ExpectedVersion::Any,
                    vec![deposited(1)],
                    Timestamp(0),
                    None,
                );
                assert!(matches!(later, Err(AppendError::Poisoned(_))), "{later:?}");
                assert_eq!(contents(&store), acknowledged);
                return (acknowledged, Some((step, error)), true);
            }
        }
    }
    (acknowledged, None, true)
}

/// How the n-th operation of the fault drill fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// It and every later one: the process is killed there.
    Killed,
    /// Only it: an error the process sees and lives through.
    Once,
    /// It once, then the process is killed at the next operation: a
    /// write-back error followed by a kill before the cut-back.
    OnceThenKilled,
}

// ANCHOR: fault_drill
#[test]
fn failing_the_nth_storage_operation_for_every_n_loses_no_acknowledged_append() {
    let modes = [Fault::Killed, Fault::Once, Fault::OnceThenKilled];
    for (n, mode) in (0..).flat_map(|n| modes.map(|mode| (n, mode))) {
        // given a disk whose n-th operation fails: every one after it too,
        // as if the process was killed there; or only that one, as an
        // error the process sees and lives through; or only that one, and
        // then the process is killed at the next
        let disk = SimDisk::new();
        disk.fail_op(n, io::ErrorKind::Other, mode == Fault::Killed);
        if mode == Fault::OnceThenKilled {
            disk.also_fail_op(n + 1, io::ErrorKind::Other, true);
        }

        // when the script runs until the failure
        let (acknowledged, failed, opened) = run_until_failure(&disk);
        if opened && failed.is_none() {
            break; // n is past the last operation: every n has been tried
        }

        // then, on restart, the store holds every acknowledged append, and
        // the failed one either whole or not at all; retrying it under its
        // command id puts it there exactly once. A process killed after a
        // failed sync leaves nothing that says so, and a store that left
        // its marker asks for the same: the machine reboots (a power loss
        // here) before the restart, and the operator removes the marker
        disk.clear_fault();
        let disk = if mode == Fault::OnceThenKilled || disk.file(REBOOT_MARKER).is_some() {
            let rebooted = disk.power_loss(n);
            rebooted.remove_file(REBOOT_MARKER);
            rebooted
        } else {
            disk
        };
        let mut store = DurableStore::open(disk.storage()).expect("a restart opens");
        let context = format!("failure at op {n}, {mode:?}");
        let unknown = failed.as_ref().map(|(step, _)| step);
        let present = check_against_model(&store, &acknowledged, unknown, &context);
        if let Some((step, error)) = &failed {
            assert!(
                matches!(error, AppendError::Io { .. }),
                "{context}: {error}"
            );
            let mut expected = acknowledged.clone();
            expected.extend(model_of(std::slice::from_ref(step)));
            if step.command.is_some() || !present {
                let retried = apply(&mut store, step).expect("the retry is accepted");
                assert_eq!(
                    matches!(retried, Appended::AlreadyApplied(_)),
                    present,
                    "{context}"
                );
            }
            check_against_model(&store, &expected, None, &context);
            // and what the restart found and the retry acknowledged survives
            // a power loss right after
            let after = DurableStore::open(disk.power_loss(n).storage()).expect("reopens");
            check_against_model(&after, &expected, None, &format!("{context}, power loss"));
        }
    }
}
// ANCHOR_END: fault_drill

#[test]
fn a_power_loss_at_every_operation_keeps_every_acknowledged_append_whatever_unsynced_bytes_survive()
{
    for n in 0.. {
        // given a machine that loses power at its n-th operation
        let disk = SimDisk::new();
        disk.fail_op(n, io::ErrorKind::Other, true);
        let (acknowledged, failed, opened) = run_until_failure(&disk);
        if opened && failed.is_none() {
            break;
        }
        for seed in 0..8 {
            // when it restarts with a random prefix of the unsynced writes
            let after = disk.power_loss(n * 100 + seed);

            // then the acknowledged appends are all there, and the one in
            // flight whole or not at all
            let store = DurableStore::open(after.storage())
                .unwrap_or_else(|e| panic!("op {n}, seed {seed}: {e}"));
            let unknown = failed.as_ref().map(|(step, _)| step);
            check_against_model(
                &store,
                &acknowledged,
                unknown,
                &format!("op {n}, seed {seed}"),
            );
        }
    }
}

#[test]
fn a_failed_fsync_poisons_the_store_and_cuts_the_unacknowledged_frame_off_at_once() {
    // given a store with two acknowledged appends, whose next sync fails
    let disk = SimDisk::new();
    let mut store = DurableStore::open(disk.storage()).expect("opens");
    let steps = script();
    apply(&mut store, &steps[0]).expect("accepted");
    apply(&mut store, &steps[1]).expect("accepted");
    let end = disk.file(LOG_FILE).expect("exists").len();
    let before = disk.trace().len();
    disk.fail_op(1, io::ErrorKind::Other, false); // 0 is the write, 1 the sync

    // when the third append's sync fails
    let failed = apply(&mut store, &steps[2]);

    // then it is not acknowledged, the handle cuts the log back to the last
    // acknowledged end and syncs the cut before it answers, and the store
    // is poisoned, though the disk works again: appends fail, reads go on
    let Err(AppendError::Io { failure, .. }) = failed else {
        panic!("expected a failed sync, got {failed:?}")
    };
    assert_eq!(
        (failure.operation, failure.file.as_str()),
        ("sync", "events.log")
    );
    assert_eq!(
        disk.trace()[before..].to_vec(),
        [
            "write events.log",
            "sync events.log",
            "set_len events.log",
            "sync events.log"
        ]
    );
    assert_eq!(disk.file(LOG_FILE).map(|f| f.len()), Some(end));
    let later = apply(&mut store, &steps[3]);
    assert_eq!(later, Err(AppendError::Poisoned(failure.clone())));
    assert_eq!(contents(&store), model_of(&steps[..2]));
    drop(store);

    // and a reopen finds only the acknowledged appends, so the retry under
    // the same command id writes the third one, once
    let mut store = DurableStore::open(disk.storage()).expect("reopens");
    check_against_model(&store, &model_of(&steps[..2]), None, "after reopen");
    assert_eq!(apply(&mut store, &steps[2]), Ok(Appended::Now(Version(3))));
    assert_eq!(
        apply(&mut store, &steps[2]),
        Ok(Appended::AlreadyApplied(Version(3)))
    );
    assert_eq!(apply(&mut store, &steps[3]), Ok(Appended::Now(Version(4))));
}

#[test]
fn an_append_whose_sync_failed_is_not_reported_already_applied_by_a_reopen_before_a_reboot() {
    for seed in 0..8 {
        // given an append whose sync failed with a write-back error, so
        // its frame can never reach the disk though it is still visible
        let disk = SimDisk::new();
        let mut store = DurableStore::open(disk.storage()).expect("opens");
        let steps = script();
        apply(&mut store, &steps[0]).expect("accepted");
        disk.fail_op(1, io::ErrorKind::Other, false);
        assert!(apply(&mut store, &steps[1]).is_err());
        drop(store);

        // when the store is reopened before any reboot, the command is
        // retried, and the power fails right after
        let mut store = DurableStore::open(disk.storage()).expect("reopens");
        let retried = apply(&mut store, &steps[1]);
        let after = disk.power_loss(seed);
        drop(store);

        // then the retry was written again, not answered from the lost
        // frame, and it survives: an acknowledgement is a promise
        assert_eq!(retried, Ok(Appended::Now(Version(1))), "seed {seed}");
        reopen_and_check_against_model(&after, &steps[..2], &format!("seed {seed}"));
    }
}

#[test]
fn an_append_found_whole_on_reopen_is_synced_before_its_retry_is_acknowledged() {
    for seed in 0..8 {
        // given a writer killed at the sync of an append, so its frame sits
        // in the file unsynced, and a restart that finds it
        let (disk, store, steps) = a_writer_stopped_at_the_sync_of_its_second_append();
        drop(store);
        disk.clear_fault();
        let mut store = DurableStore::open(disk.storage()).expect("reopens");

        // when its retry is acknowledged as already applied, and the power
        // fails right after
        let retried = apply(&mut store, &steps[1]);
        assert_eq!(retried, Ok(Appended::AlreadyApplied(Version(1))));
        let after = disk.power_loss(seed);
        drop(store);

        // then the append is still there: an acknowledgement is a promise
        reopen_and_check_against_model(&after, &steps[..2], &format!("seed {seed}"));
    }
}

#[test]
fn a_failed_sync_at_open_leaves_a_marker_and_no_open_trusts_the_log_before_a_reboot() {
    for seed in 0..8 {
        // given a writer killed at the sync of its second append, so the
        // frame sits in the file unsynced, and a restart whose own sync of
        // the log fails once, as a write-back error
        let (disk, store, steps) = a_writer_stopped_at_the_sync_of_its_second_append();
        drop(store);
        disk.clear_fault();
        disk.fail_op(4, io::ErrorKind::Other, false); // lock, list, read, sync_dir, sync
        let first = DurableStore::open(disk.storage());
        let Err(OpenError::Io(failure)) = &first else {
            panic!("expected a failed sync, got {:?}", first.err())
        };
        assert_eq!(failure.operation, "sync");
        assert!(
            OpenError::Io(failure.clone())
                .to_string()
                .contains("reboot the machine"),
            "the error says what to do"
        );

        // when the store is opened again on the same running system
        let second = DurableStore::open(disk.storage());

        // then it refuses, because the frame it would read may be in pages
        // the failed sync marked clean without writing them
        assert_eq!(second.err(), Some(OpenError::RebootRequired));
        assert!(disk.file(REBOOT_MARKER).is_some());

        // and after a reboot, once the operator removes the marker, the
        // retry is acknowledged and survives a power loss
        let rebooted = disk.power_loss(seed);
        assert!(
            rebooted.file(REBOOT_MARKER).is_some(),
            "the marker is durable"
        );
        rebooted.remove_file(REBOOT_MARKER);
        let mut store = DurableStore::open(rebooted.storage()).expect("opens after the reboot");
        apply(&mut store, &steps[1]).expect("the retry is acknowledged");
        drop(store);
        let after = DurableStore::open(rebooted.power_loss(seed).storage()).expect("reopens");
        check_against_model(
            &after,
            &model_of(&steps[..2]),
            None,
            &format!("seed {seed}"),
        );
    }
}

#[test]
fn an_append_whose_cut_back_failed_says_reboot_and_no_open_trusts_the_log_before_one() {
    // the cut-back's set_len fails, or its sync does
    for (what, also_at) in [("set_len", 2), ("the cut's sync", 3)] {
        // given a store with one acknowledged append, whose next sync fails
        // with a write-back error, and then the cut-back fails too
        let disk = SimDisk::new();
        let mut store = DurableStore::open(disk.storage()).expect("opens");
        let steps = script();
        apply(&mut store, &steps[0]).expect("accepted");
        disk.fail_op(1, io::ErrorKind::Other, false); // 0 the write, 1 the sync
        disk.also_fail_op(also_at, io::ErrorKind::Other, false);

        // when the append fails and the store is opened again on the same
        // running system
        let failed = apply(&mut store, &steps[1]);
        drop(store);
        let reopened = DurableStore::open(disk.storage());

        // then the error says the log was not cut back and a reboot is
        // needed, and no open trusts the frame it may still show
        let Err(error @ AppendError::Io { cut_back, .. }) = &failed else {
            panic!("{what}: expected a failed sync, got {failed:?}")
        };
        assert!(!cut_back, "{what}");
        assert!(error.to_string().contains("reboot"), "{what}: {error}");
        assert_eq!(reopened.err(), Some(OpenError::RebootRequired), "{what}");

        // and after a reboot and the marker's removal, the retry is written
        // again and survives a power loss
        let rebooted = disk.power_loss(0);
        rebooted.remove_file(REBOOT_MARKER);
        let mut store = DurableStore::open(rebooted.storage()).expect("opens after the reboot");
        assert_eq!(
            apply(&mut store, &steps[1]),
            Ok(Appended::Now(Version(1))),
            "{what}"
        );
        drop(store);
        let after = DurableStore::open(rebooted.power_loss(1).storage()).expect("reopens");
        check_against_model(&after, &model_of(&steps[..2]), None, what);
    }
}

#[test]
fn an_append_whose_cut_back_succeeded_says_so_and_needs_no_reboot() {
    // given a store whose next sync fails once, as a write-back error
    let disk = SimDisk::new();
    let mut store = DurableStore::open(disk.storage()).expect("opens");
    let steps = script();
    apply(&mut store, &steps[0]).expect("accepted");
    disk.fail_op(1, io::ErrorKind::Other, false);

    // when the append fails
    let failed = apply(&mut store, &steps[1]);

    // then the log was cut back, the error says so, and no marker is left
    let Err(error @ AppendError::Io { cut_back, .. }) = &failed else {
        panic!("expected a failed sync, got {failed:?}")
    };
    assert!(cut_back);
    assert!(error.to_string().contains("cut back"), "{error}");
    assert_eq!(disk.file(REBOOT_MARKER), None);
}

#[test]
fn the_reboot_marker_cannot_be_written_as_a_side_file() {
    // given an open store
    let disk = SimDisk::new();
    let mut store = DurableStore::open(disk.storage()).expect("opens");

    // when a side file is given the marker's name
    let written = store.write_side_file(REBOOT_MARKER, b"x");

    // then it is refused
    assert_eq!(
        written,
        Err(SideFileError::BadName(REBOOT_MARKER.to_string()))
    );
}

#[test]
fn an_append_cut_back_after_a_failed_sync_that_wrote_its_frame_anyway_stays_gone_after_a_power_loss()
 {
    for seed in 0..16 {
        // given a store with one acknowledged append, whose next sync
        // makes the frame durable and then reports an error anyway
        let disk = SimDisk::new();
        let mut store = DurableStore::open(disk.storage()).expect("opens");
        let steps = script();
        apply(&mut store, &steps[0]).expect("accepted");
        disk.fail_sync_after_writing(1, io::ErrorKind::Other); // 0 the write, 1 the sync

        // when the append fails, the log is cut back, and the power fails
        let failed = apply(&mut store, &steps[1]);
        let after = disk.power_loss(seed);
        drop(store);

        // then the error says the log was cut back, and it was, on the disk
        // too: the frame does not come back with the power
        assert!(
            matches!(failed, Err(AppendError::Io { cut_back: true, .. })),
            "seed {seed}: {failed:?}"
        );
        reopen_and_check_against_model(&after, &steps[..1], &format!("seed {seed}"));
    }
}

#[test]
fn a_full_disk_refuses_the_append_keeps_serving_reads_and_the_half_frame_is_cut_off_at_once() {
    // given a store with four acknowledged appends on a disk that fills up
    let disk = SimDisk::new();
    let mut store = DurableStore::open(disk.storage()).expect("opens");
    let steps = script();
    for step in &steps[..4] {
        apply(&mut store, step).expect("accepted");
    }
    let end = disk.file(LOG_FILE).expect("exists").len();
    disk.fail_op(0, io::ErrorKind::StorageFull, false);

    // when the fifth append's write runs out of space half way
    let failed = apply(&mut store, &steps[4]);

    // then it is refused with the disk's error, reads go on, the half
    // frame is cut off before the append returns, and a reopen finds the
    // four appends and no torn tail
    let Err(AppendError::Io { failure, .. }) = failed else {
        panic!("expected a failed write, got {failed:?}")
    };
    assert_eq!(
        (failure.operation, failure.kind),
        ("write", io::ErrorKind::StorageFull)
    );
    assert_eq!(contents(&store), model_of(&steps[..4]));
    assert_eq!(disk.file(LOG_FILE).map(|f| f.len()), Some(end));
    drop(store);
    let store = DurableStore::open(disk.storage()).expect("reopens");
    check_against_model(&store, &model_of(&steps[..4]), None, "after reopen");
    assert_eq!(store.recovery().torn_tail, None);
}

#[test]
fn a_recovery_that_fails_part_way_is_finished_by_the_next_one() {
    // given a log whose last frame is torn, and how many operations a
    // recovery of it takes
    let (disk, ends) = written_log();
    let file = disk.file(LOG_FILE).expect("the log exists");
    let torn = &file[..file.len() - 5];
    let last = ends[ends.len() - 2];
    let steps = script();
    let recovery_ops = {
        let clean = SimDisk::new();
        clean.put_file(LOG_FILE, torn);
        DurableStore::open(clean.storage()).expect("recovers");
        clean.ops()
    };

    for n in 0..recovery_ops {
        // when the n-th operation of the recovery fails
        let broken = SimDisk::new();
        broken.put_file(LOG_FILE, torn);
        broken.fail_op(n, io::ErrorKind::Other, true);
        let first = DurableStore::open(broken.storage());
        assert!(
            matches!(first, Err(OpenError::Io(_))),
            "op {n}: {:?}",
            first.err()
        );

        // then a second recovery, after a restart or after a power loss,
        // ends with the same log: four appends, the torn one gone for good
        broken.clear_fault();
        for disk in [broken.clone(), broken.power_loss(n)] {
            let second = DurableStore::open(disk.storage()).expect("the second recovery succeeds");
            check_against_model(&second, &model_of(&steps[..4]), None, &format!("op {n}"));
            drop(second);
            let third = DurableStore::open(disk.storage()).expect("and the log stays recovered");
            assert_eq!(third.recovery().torn_tail, None, "op {n}");
            assert_eq!(disk.file(LOG_FILE).map(|f| f.len()), Some(last), "op {n}");
        }
    }
}

#[test]
fn verify_finds_a_byte_changed_at_rest_and_names_its_frame() {
    // given an open store that passes verify
    let (disk, ends) = written_log();
    let mut store = DurableStore::open(disk.storage()).expect("opens");
    let file = disk.file(LOG_FILE).expect("the log exists");
    let verified = store.verify().expect("an intact log verifies");
    assert_eq!(
        (verified.frames, verified.events, verified.bytes),
        (5, 8, file.len() as u64)
    );

    // when a byte of the third frame changes on the disk behind its back
    let mut damaged = file.clone();
    damaged[ends[2] + 20] ^= 0x01;
    disk.put_file(LOG_FILE, &damaged);

    // then verify names the third frame
    assert_eq!(store.verify().err(), corrupt_at(ends[2], Damage::Checksum));
}

#[test]
fn verify_finds_a_log_replaced_by_another_whose_checksums_are_all_good() {
    // given an open store that passes verify
    let (disk, _) = written_log();
    let mut store = DurableStore::open(disk.storage()).expect("opens");
    store.verify().expect("an intact log verifies");

    // when the file is replaced behind its back by a well-formed log that
    // holds other events
    disk.put_file(
        LOG_FILE,
        &log_of(&[framed(&batch_text("account-1", 1, 1, None))]),
    );

    // then verify names the first frame as not what the store holds
    assert_eq!(
        store.verify().err(),
        corrupt_at(HEADER_LEN, Damage::NotInMemory)
    );
}

#[test]
fn verify_on_a_poisoned_store_checks_what_was_acknowledged_and_not_the_failed_frame() {
    // given a store whose writer is stopped at an append's sync, so the
    // frame stays in the file and the cut back cannot run, and a disk that
    // answers again afterwards
    let (disk, mut store, _steps) = a_writer_stopped_at_the_sync_of_its_second_append();
    disk.clear_fault();
    assert!(disk.file(LOG_FILE).expect("exists").len() > HEADER_LEN + 1);

    // when the poisoned store verifies its log
    let verified = store.verify();

    // then it checks the acknowledged frames and reports no damage
    assert_eq!(verified.map(|v| (v.frames, v.events)), Ok((1, 2)),);
}

#[test]
fn in_the_simulator_a_killed_process_writes_nothing() {
    // given a file with four bytes, and a process killed at its next
    // operation
    let disk = SimDisk::new();
    let mut storage = disk.storage();
    storage.write_at("x", 0, b"abcd").expect("the disk works");
    disk.fail_op(0, io::ErrorKind::Other, true);

    // when it goes on writing, at the kill and after it
    let at_the_kill = storage.write_at("x", 4, b"EFGH");
    let after_it = storage.write_at("x", 8, b"IJKL");

    // then every write fails and none of them changes the file, for the
    // running system or for a power loss
    assert!(at_the_kill.is_err() && after_it.is_err());
    assert_eq!(disk.file("x"), Some(b"abcd".to_vec()));
    for seed in 0..8 {
        let content = disk.power_loss(seed).file("x").unwrap_or_default();
        assert!(b"abcd".starts_with(&content), "seed {seed}: {content:?}");
    }
}

#[test]
fn in_the_simulator_a_failed_sync_loses_its_writes_even_when_a_later_sync_succeeds() {
    for seed in 0..8 {
        // given a synced file, a write to it, and a sync of that write that
        // fails once, as a write-back error
        let disk = SimDisk::new();
        let mut storage = disk.storage();
        storage.write_at("x", 0, b"old").expect("the disk works");
        storage.sync("x").expect("the disk works");
        storage.sync_dir().expect("the disk works");
        storage.write_at("x", 3, b"new").expect("the disk works");
        disk.fail_op(0, io::ErrorKind::Other, false);
        assert!(storage.sync("x").is_err(), "the first sync fails");

        // when a second sync succeeds and the power fails
        storage.sync("x").expect("the second sync succeeds");
        let after = disk.power_loss(seed);

        // then the running system showed the write, but the disk never got
        // it: the second sync had nothing left to write
        assert_eq!(disk.file("x"), Some(b"oldnew".to_vec()));
        assert_eq!(after.file("x"), Some(b"old".to_vec()), "seed {seed}");
    }
}

#[test]
fn in_the_simulator_a_second_fault_can_follow_a_write_back_error() {
    // given a write-back error at the second operation, and a kill at the
    // third
    let disk = SimDisk::new();
    let mut storage = disk.storage();
    disk.fail_op(1, io::ErrorKind::Other, false);
    disk.also_fail_op(2, io::ErrorKind::Other, true);

    // when the process writes, syncs, and tries to cut and write again
    let written = storage.write_at("x", 0, b"abcd");
    let synced = storage.sync("x");
    let cut = storage.set_len("x", 0);
    let again = storage.write_at("x", 0, b"EFGH");

    // then the write landed in the running system, the sync failed and lost
    // it, and the killed process changed nothing after
    assert!(written.is_ok() && synced.is_err() && cut.is_err() && again.is_err());
    assert_eq!(disk.file("x"), Some(b"abcd".to_vec()));
}

// ---------------------------------------------------------------------------
// The real process kill.
// ---------------------------------------------------------------------------

/// The environment variable that turns this test binary into the writer
/// of the kill drill, naming the store's directory.
const KILL_DRILL_DIR: &str = "ES_WORKBOOK_L13_KILL_DRILL_DIR";

/// The writer the kill drill starts as a child process: it appends a
/// deposit of `v` cents as version `v`, one by one, and prints `acked v`
/// after each acknowledgement, until it is killed. Run normally, without
/// the environment variable, it does nothing.
#[test]
fn the_writer_process_of_the_kill_drill() {
    let Some(dir) = std::env::var_os(KILL_DRILL_DIR) else {
        return;
    };
    let mut store = DurableStore::open_dir(&dir).expect("the child opens the store");
    let account = stream("account-k");
    let mut out = io::stdout().lock();
    // Bounded, in case the parent never kills it.
    for _ in 0..100_000 {
        let version = store.stream_version(&account);
        let next = version.0 + 1;
        store
            .append(
                &account,
                ExpectedVersion::Exact(version),
                vec![deposited(next)],
                Timestamp(next),
                None,
            )
            .expect("the child's append is accepted");
        writeln!(out, "acked {next}").expect("the parent reads");
        out.flush().expect("the parent reads");
    }
}

/// The version in a line `acked v`. The test harness prints its own
/// `test name ... ` before the first one, on the same line.
fn acked(line: &str) -> Option<u64> {
    let (_, version) = line.rsplit_once("acked ")?;
    Some(version.parse().expect("a version after `acked `"))
}

// ANCHOR: kill_drill
#[test]
fn law_9_a_writer_process_killed_mid_stream_loses_no_acknowledged_event() {
    // given a store directory, and a model of every acknowledged deposit
    let dir = TempDir::new("kill");
    let mut acknowledged: Vec<u64> = Vec::new();
    for round in 1..=3 {
        // when a child process appends, printing each acknowledged version,
        // and is killed once the parent has read `10 * round` of them
        let mut child = Command::new(std::env::current_exe().expect("the test binary"))
            .args([
                "--exact",
                "the_writer_process_of_the_kill_drill",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(KILL_DRILL_DIR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the child starts");
        let stdout = child.stdout.take().expect("the child's stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = 0;
        while seen < 10 * round {
            let line = lines
                .next()
                .expect("the child writes until killed")
                .expect("utf-8");
            if let Some(version) = acked(&line) {
                acknowledged.push(version);
                seen += 1;
            }
        }
        child.kill().expect("the child is killed");
        // Whatever it printed before it died was acknowledged too.
        for line in lines.map_while(Result::ok) {
            if let Some(version) = acked(&line) {
                acknowledged.push(version);
            }
        }
        let status = child.wait().expect("the child is gone");
        assert!(
            !status.success(),
            "round {round}: the child was killed, not finished"
        );

        // then reopening finds every acknowledged deposit, in order, and
        // nothing but whole deposits after them
        let store = DurableStore::open_dir(dir.path()).expect("the store reopens");
        let found: Vec<u64> = store
            .read_stream(&stream("account-k"))
            .iter()
            .map(|recorded| match decode(&recorded.record) {
                Ok(AccountEvent::MoneyDeposited { amount }) => amount.0,
                other => panic!("round {round}: unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            found[..acknowledged.len()],
            acknowledged[..],
            "round {round}: the acknowledged prefix"
        );
        assert_eq!(
            found,
            (1..=found.len() as u64).collect::<Vec<_>>(),
            "round {round}"
        );
        acknowledged = found; // appends that finished unreported are now known
    }
}
// ANCHOR_END: kill_drill

// ---------------------------------------------------------------------------
// Exercises.
// ---------------------------------------------------------------------------

mod exercises {
    use super::{
        SimDisk, Storage, a_store_with_ada_opened, apply, check_against_model, deposited,
        largest_allocation, opened, script, stream, written_log,
    };
    use std::cell::Cell as Counter;
    use std::io;

    use pretty_assertions::assert_eq;
    use std::collections::BTreeMap;

    use es_workbook::exercises::l13_durable_store::{
        AppendRequest, Balances, BalancesError, CHECKPOINT_FILE, LoggedEvent, ReadError,
        RetryError, append_exactly_once, crc32c, load_balances, read_log, save_balances,
    };
    use es_workbook::l13_durable_store::{
        AccountState, AppendError, CommandId, DurableStore, EventRecord, ExpectedVersion,
        Fingerprint, HEADER_LEN, LOG_FILE, Position, StreamId, Timestamp, Version, crc32, crc32_of,
        decode, evolve, initial_state,
    };

    #[test]
    #[cfg_attr(not(feature = "solutions"), ignore = "exercise 13.1: CRC-32C")]
    fn exercise_13_1_crc32c_gives_the_catalogue_check_value_and_differs_from_crc32() {
        // given the CRC-32C/ISCSI fixtures
        // when / then
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        assert_eq!(
            crc32c(b"The quick brown fox jumps over the lazy dog"),
            0x2262_0404
        );
        // and every single-bit change of a frame-sized input changes it
        let message: Vec<u8> = (0..64u8).collect();
        let whole = crc32c(&message);
        for byte in 0..message.len() {
            for bit in 0..8 {
                let mut flipped = message.clone();
                flipped[byte] ^= 1 << bit;
                assert_ne!(crc32c(&flipped), whole, "bit {bit} of byte {byte}");
            }
        }
    }

    /// What the store itself reads from the script's log, in the reader's
    /// shape.
    fn as_the_store_reads_it(disk: &SimDisk, ends: &[usize]) -> Vec<LoggedEvent> {
        let store = DurableStore::open(disk.storage()).expect("opens");
        store
            .read_all(Position(0))
            .iter()
            .map(|recorded| LoggedEvent {
                frame: frame_of(ends, recorded.position.0),
                stream: recorded.stream.as_str().to_string(),
                record: recorded.record.clone(),
            })
            .collect()
    }

    /// The offset of the frame holding the event at `position`, in the
    /// script's log: the script's steps hold 2, 1, 1, 3 and 1 events.
    fn frame_of(ends: &[usize], position: u64) -> u64 {
        let step = match position {
            1 | 2 => 0,
            3 => 1,
            4 => 2,
            5..=7 => 3,
            _ => 4,
        };
        ends[step] as u64
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 13.2: a reader from the format description"
    )]
    fn exercise_13_2_the_reader_finds_what_the_store_wrote_and_stops_at_the_first_bad_frame() {
        // given the script's log, as the store itself reads it
        let (disk, ends) = written_log();
        let file = disk.file(LOG_FILE).expect("the log exists");
        let expected = as_the_store_reads_it(&disk, &ends);

        // when the reader reads it / then it finds the same events
        assert_eq!(read_log(&file), Ok(expected.clone()));
        assert_eq!(read_log(&file[..HEADER_LEN]), Ok(Vec::new()));

        // and a bad header is not a log
        assert_eq!(read_log(&file[..HEADER_LEN - 1]), Err(ReadError::NotALog));
        let mut version_2 = file.clone();
        version_2[8] = 2;
        let check = crc32(&version_2[..12]).to_le_bytes();
        version_2[12..16].copy_from_slice(&check);
        assert_eq!(read_log(&version_2), Err(ReadError::NotALog));
        let mut damaged_header = file.clone();
        damaged_header[13] ^= 1;
        assert_eq!(read_log(&damaged_header), Err(ReadError::NotALog));

        // and every cut or flipped bit in a frame stops it at that frame,
        // without an allocation anywhere near what a damaged length claims
        for cut in HEADER_LEN + 1..file.len() {
            let start = ends
                .iter()
                .copied()
                .filter(|&end| end <= cut)
                .max()
                .unwrap_or(0);
            let read = read_log(&file[..cut]);
            if ends.contains(&cut) {
                assert!(read.is_ok(), "cut at {cut}");
            } else {
                assert_eq!(
                    read,
                    Err(ReadError::BadFrame {
                        offset: start as u64
                    }),
                    "cut at {cut}"
                );
            }
        }
        for byte in HEADER_LEN..file.len() {
            for bit in 0..8 {
                let mut flipped = file.clone();
                flipped[byte] ^= 1 << bit;
                let start = ends
                    .iter()
                    .copied()
                    .filter(|&end| end <= byte)
                    .max()
                    .unwrap_or(0);
                let (read, largest) = largest_allocation(|| read_log(&flipped));
                let context = format!("bit {bit} of byte {byte}");
                assert_eq!(
                    read,
                    Err(ReadError::BadFrame {
                        offset: start as u64
                    }),
                    "{context}"
                );
                assert!(largest <= 4 * file.len(), "{context}: allocated {largest}");
            }
        }
        // and a length check that does not match stops it, even where the
        // checksum alone would pass
        let mut bad_check = file.clone();
        bad_check[ends[2] + 4..ends[2] + 8].copy_from_slice(&[0, 0, 0, 0]);
        assert_eq!(
            read_log(&bad_check),
            Err(ReadError::BadFrame {
                offset: ends[2] as u64
            })
        );
        // and a frame of an unknown kind, with good checksums, stops it too
        let last = ends[ends.len() - 2];
        let mut kind_2 = file.clone();
        kind_2[last + 12] = 2;
        let crc = crc32_of(&[&kind_2[last..last + 4], &[2], &kind_2[last + 13..]]);
        kind_2[last + 8..last + 12].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            read_log(&kind_2),
            Err(ReadError::BadFrame {
                offset: last as u64
            })
        );
    }

    fn request(id: &str, expected: ExpectedVersion) -> AppendRequest {
        AppendRequest {
            stream: stream("account-1"),
            expected,
            records: vec![deposited(2_500)],
            recorded_at: Timestamp(5),
            command: (
                CommandId::new(id),
                Fingerprint::of("DepositMoney", &[("amount", "2500")]),
            ),
        }
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 13.3: exactly once across a storage failure"
    )]
    fn exercise_13_3_a_retried_append_lands_exactly_once_whichever_operation_fails() {
        // An append is a write (op 0) and a sync (op 1); n = 2 fails nothing
        // the append does.
        for n in 0..3 {
            // given a store with one event, whose n-th operation from now
            // fails once
            let (disk, store) = a_store_with_ada_opened();
            disk.fail_op(n, io::ErrorKind::Other, false);
            let reopens = Counter::new(0);
            let mut reopen = || {
                reopens.set(reopens.get() + 1);
                DurableStore::open(disk.storage())
            };

            // when the deposit is sent with retries
            let sent = append_exactly_once(
                store,
                &mut reopen,
                &request("dep-1", ExpectedVersion::Exact(Version(1))),
                3,
            );

            // then it reached version 2, once, in the store that is returned
            let (store, version) = sent.unwrap_or_else(|e| panic!("op {n}: {e:?}"));
            assert_eq!(version, Version(2), "op {n}");
            let expected = vec![
                (stream("account-1"), opened("Ada")),
                (stream("account-1"), deposited(2_500)),
            ];
            check_against_model(&store, &expected, None, &format!("op {n}"));
            assert_eq!(reopens.get(), u32::from(n < 2), "op {n}: reopens");
            drop(store);
            disk.clear_fault();
            let reopened = DurableStore::open(disk.storage()).expect("reopens");
            check_against_model(&reopened, &expected, None, &format!("op {n}, on disk"));
            // and what was acknowledged survives a power loss
            drop(reopened);
            let after = DurableStore::open(disk.power_loss(n).storage()).expect("reopens");
            check_against_model(&after, &expected, None, &format!("op {n}, power loss"));
        }
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 13.3: exactly once across a storage failure"
    )]
    fn exercise_13_3_a_refusal_is_not_retried_and_failures_stop_after_the_given_tries() {
        // given a store with one event
        let (disk, store) = a_store_with_ada_opened();
        let reopens = Counter::new(0);
        // Every reopened store's first write fails again.
        let mut reopen = || {
            reopens.set(reopens.get() + 1);
            assert!(reopens.get() < 10, "far more tries than the three allowed");
            let store = DurableStore::open(disk.storage());
            disk.fail_op(0, io::ErrorKind::Other, false);
            store
        };

        // when a request expects the wrong version
        let conflict = append_exactly_once(
            store,
            &mut reopen,
            &request("dep-1", ExpectedVersion::Exact(Version(7))),
            3,
        );

        // then it is refused at once, without a reopen
        assert_eq!(
            conflict.err(),
            Some(RetryError::Refused(AppendError::VersionConflict {
                expected: ExpectedVersion::Exact(Version(7)),
                actual: Version(1),
            }))
        );
        assert_eq!(reopens.get(), 0);

        // and when every write fails, it gives up after three tries
        let store = DurableStore::open(disk.storage()).expect("opens");
        disk.fail_op(0, io::ErrorKind::Other, false);
        let failing = append_exactly_once(
            store,
            &mut reopen,
            &request("dep-2", ExpectedVersion::Any),
            3,
        );
        assert!(
            matches!(failing, Err(RetryError::GaveUp(AppendError::Io { .. }))),
            "{failing:?}"
        );
        assert_eq!(reopens.get(), 2, "three tries, two reopens");
    }

    /// Every account's state from a full replay of `store`.
    fn replayed<S: Storage>(store: &DurableStore<S>) -> Balances {
        let mut accounts: BTreeMap<StreamId, AccountState> = BTreeMap::new();
        for recorded in store.read_all(Position(0)) {
            let state = accounts
                .entry(recorded.stream.clone())
                .or_insert_with(initial_state);
            *state = evolve(*state, &decode(&recorded.record).expect("decodes"));
        }
        Balances {
            position: store.last_position(),
            accounts,
        }
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 13.4: a checkpoint that survives any crash"
    )]
    fn exercise_13_4_a_checkpoint_is_used_when_whole_and_ignored_when_damaged_or_ahead() {
        // given the script's log, checkpointed after its first three appends
        let steps = script();
        let disk = SimDisk::new();
        let mut store = DurableStore::open(disk.storage()).expect("opens");
        for step in &steps[..3] {
            apply(&mut store, step).expect("accepted");
        }
        assert_eq!(
            load_balances(&mut store),
            Ok(replayed(&store)),
            "no checkpoint yet"
        );
        let early = replayed(&store);
        save_balances(&mut store, &early).expect("saved");
        for step in &steps[3..] {
            apply(&mut store, step).expect("accepted");
        }

        // when balances are loaded / then the checkpoint plus the rest
        // equals a full replay
        assert_eq!(load_balances(&mut store), Ok(replayed(&store)));

        // and a checkpoint is really used: a made-up one shows through
        let mut made_up = replayed(&store);
        made_up
            .accounts
            .insert(stream("account-9"), AccountState::Closed);
        save_balances(&mut store, &made_up).expect("saved");
        assert_eq!(load_balances(&mut store), Ok(made_up.clone()));

        // and a checkpoint ahead of the log is ignored
        let mut ahead = made_up.clone();
        ahead.position = Position(store.last_position().0 + 1);
        save_balances(&mut store, &ahead).expect("saved");
        assert_eq!(load_balances(&mut store), Ok(replayed(&store)));

        // and an event that does not decode stops the load, naming it
        let mut other = DurableStore::open(SimDisk::new().storage()).expect("opens");
        let unknown = EventRecord {
            event_type: "InterestPaid".into(),
            schema_version: 1,
            payload: "amount=5\n".into(),
        };
        other
            .append(
                &stream("account-1"),
                ExpectedVersion::Any,
                vec![opened("Ada"), unknown],
                Timestamp(1),
                None,
            )
            .expect("accepted");
        assert!(
            matches!(
                load_balances(&mut other),
                Err(BalancesError::Undecodable {
                    position: Position(2),
                    ..
                })
            ),
            "an undecodable event is reported, not skipped"
        );

        // and every single changed byte of a checkpoint is noticed
        save_balances(&mut store, &made_up).expect("saved");
        let saved = disk.file(CHECKPOINT_FILE).expect("the checkpoint exists");
        for byte in 0..saved.len() {
            for bit in [0, 3, 6] {
                let mut damaged = saved.clone();
                damaged[byte] ^= 1 << bit;
                disk.put_file(CHECKPOINT_FILE, &damaged);
                assert_eq!(
                    load_balances(&mut store),
                    Ok(replayed(&store)),
                    "bit {bit} of byte {byte}"
                );
            }
        }
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 13.4: a checkpoint that survives any crash"
    )]
    fn exercise_13_4_a_power_loss_during_a_save_never_gives_a_wrong_balance() {
        let steps = script();
        for n in 0..6 {
            for seed in 0..6 {
                // given a checkpoint, then more events, and a machine that
                // dies at the n-th operation of the next save
                let disk = SimDisk::new();
                let mut store = DurableStore::open(disk.storage()).expect("opens");
                for step in &steps[..2] {
                    apply(&mut store, step).expect("accepted");
                }
                let balances = replayed(&store);
                save_balances(&mut store, &balances).expect("saved");
                for step in &steps[2..] {
                    apply(&mut store, step).expect("accepted");
                }
                disk.fail_op(n, io::ErrorKind::Other, true);
                let balances = replayed(&store);
                let _ = save_balances(&mut store, &balances);
                let after = disk.power_loss(seed);
                drop(store);

                // when the machine restarts and loads the balances
                let mut store = DurableStore::open(after.storage()).expect("reopens");
                let loaded = load_balances(&mut store);

                // then they equal a full replay
                assert_eq!(loaded, Ok(replayed(&store)), "op {n}, seed {seed}");
            }
        }
    }
}
