//! Lesson 13 — a durable store, end to end.
//!
//! Run it: `cargo run --example l13_durable_store`. It writes a few
//! accounts' events to a directory of its own under the system's temporary
//! directory, shows the file byte by byte, tears the tail off the file by
//! hand, reopens, and shows the recovery. What it prints on stdout is the
//! golden output and never changes. After that, `main` measures synced
//! appends on this disk, one event per sync and a hundred per sync, and
//! prints the rates on stderr, which vary from machine to machine.

use std::error::Error;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use es_workbook::l13_durable_store::{
    AccountEvent, AccountState, Appended, Cents, CommandId, Currency, DurableStore, EventRecord,
    ExpectedVersion, FRAME_HEADER_LEN, Fingerprint, HEADER_LEN, LOG_FILE, Position, Storage,
    StreamId, Timestamp, Version, decode, encode, evolve, initial_state,
};

fn main() -> Result<(), Box<dyn Error>> {
    run(&mut std::io::stdout().lock())?;
    measure(&mut std::io::stderr().lock())
}

/// A directory of the example's own under the system's temporary
/// directory, removed when it goes out of scope, whatever happened.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Result<Scratch, Box<dyn Error>> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let unique = format!(
            "es-workbook-l13-example-{}-{}-{name}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(unique);
        fs::create_dir_all(&path)?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Opens accounts, appends, shows the file, tears its tail, reopens, retries
/// the torn command, and shows what a flipped byte and a second writer get.
pub fn run(out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let scratch = Scratch::new("run")?;
    let dir = scratch.0.as_path();
    let mut store = DurableStore::open_dir(dir)?;
    writeln!(out, "A new store in an empty directory:")?;
    writeln!(
        out,
        "  created: {}; the log is {} bytes, its header",
        store.recovery().created,
        fs::metadata(dir.join(LOG_FILE))?.len()
    )?;

    writeln!(out)?;
    writeln!(out, "Appends, each synced before it is acknowledged:")?;
    let ada = StreamId::new("account-1");
    let bob = StreamId::new("account-2");
    let open = |owner: &str| AccountEvent::AccountOpened {
        owner: owner.to_string(),
        email: format!("{}@example.com", owner.to_lowercase()),
        currency: Currency::Eur,
    };
    let deposit = |cents| AccountEvent::MoneyDeposited {
        amount: Cents(cents),
    };
    let appends = [
        (
            &ada,
            "open-1",
            "OpenAccount",
            [("owner", "Ada"), ("first_deposit", "10000")],
            vec![open("Ada"), deposit(10_000)],
        ),
        (
            &bob,
            "open-2",
            "OpenAccount",
            [("owner", "Bob"), ("first_deposit", "0")],
            vec![open("Bob")],
        ),
        (
            &bob,
            "dep-3",
            "DepositMoney",
            [("account", "account-2"), ("amount", "2500")],
            vec![deposit(2_500)],
        ),
    ];
    for (at, (stream, id, name, fields, events)) in appends.into_iter().enumerate() {
        let records: Vec<EventRecord> = events.iter().map(encode).collect();
        let time = Timestamp(1_700_000_000 + at as u64);
        let command = command(id, name, &fields);
        let appended = store.append(stream, ExpectedVersion::Any, records, time, command)?;
        writeln!(
            out,
            "  {stream}  {} event(s) under command {id}: {}",
            events.len(),
            show(appended)
        )?;
    }

    writeln!(out)?;
    writeln!(out, "The file, byte by byte:")?;
    let file = fs::read(dir.join(LOG_FILE))?;
    dump(out, &file)?;

    writeln!(out)?;
    writeln!(out, "A second writer on the same directory:")?;
    match DurableStore::open_dir(dir) {
        Ok(_) => writeln!(out, "  opened (it should not have)")?,
        Err(error) => writeln!(out, "  refused: {error}")?,
    }

    writeln!(out)?;
    let withdrawal = [AccountEvent::MoneyWithdrawn {
        amount: Cents(4_000),
    }];
    let records: Vec<EventRecord> = withdrawal.iter().map(encode).collect();
    let wd_fields = [("account", "account-1"), ("amount", "4000")];
    let before = fs::metadata(dir.join(LOG_FILE))?.len();
    store.append(
        &ada,
        ExpectedVersion::Exact(Version(2)),
        records.clone(),
        Timestamp(1_700_000_100),
        command("wd-4", "WithdrawMoney", &wd_fields),
    )?;
    drop(store);
    let after = fs::metadata(dir.join(LOG_FILE))?.len();
    writeln!(
        out,
        "The power fails while command wd-4 is written: of its {}-byte frame only the first {} bytes reach the disk.",
        after - before,
        (after - before) / 2
    )?;
    // Done by hand: the machine dies before the append is acknowledged, and
    // only the start of its frame made it.
    OpenOptions::new()
        .write(true)
        .open(dir.join(LOG_FILE))?
        .set_len(before + (after - before) / 2)?;

    let mut store = DurableStore::open_dir(dir)?;
    let recovery = store.recovery();
    writeln!(out, "Reopening recovers:")?;
    writeln!(
        out,
        "  {} frames, {} events read; temporary files removed: {}",
        recovery.frames,
        recovery.events,
        recovery.removed_temp_files.len()
    )?;
    if let Some(torn) = recovery.torn_tail {
        writeln!(
            out,
            "  torn tail at byte {}: {} bytes cut off",
            torn.offset, torn.dropped
        )?;
    }
    writeln!(out, "  {ada}: {}", state(&store, &ada)?)?;
    writeln!(out, "  {bob}: {}", state(&store, &bob)?)?;

    writeln!(out)?;
    writeln!(
        out,
        "The client never got an answer for wd-4, so it sends it again, twice:"
    )?;
    for _ in 0..2 {
        let appended = store.append(
            &ada,
            ExpectedVersion::Exact(Version(2)),
            records.clone(),
            Timestamp(1_700_000_200),
            command("wd-4", "WithdrawMoney", &wd_fields),
        )?;
        writeln!(out, "  wd-4: {}", show(appended))?;
    }
    drop(store);
    let mut store = DurableStore::open_dir(dir)?;
    let again = store.append(
        &ada,
        ExpectedVersion::Exact(Version(2)),
        records,
        Timestamp(1_700_000_300),
        command("wd-4", "WithdrawMoney", &wd_fields),
    )?;
    writeln!(out, "  and once more after a restart: {}", show(again))?;
    writeln!(out, "  {ada}: {}", state(&store, &ada)?)?;
    let verified = store.verify()?;
    writeln!(
        out,
        "  verify: {} frames, {} events, {} bytes, every checksum good",
        verified.frames, verified.events, verified.bytes
    )?;
    drop(store);

    writeln!(out)?;
    let copy = Scratch::new("copy")?;
    let mut damaged = fs::read(dir.join(LOG_FILE))?;
    let second_frame = frame_starts(&damaged)[1];
    damaged[second_frame + FRAME_HEADER_LEN + 10] ^= 0x01;
    fs::write(copy.0.join(LOG_FILE), &damaged)?;
    writeln!(
        out,
        "A copy of the log with one bit flipped inside its second frame (byte {}):",
        second_frame + FRAME_HEADER_LEN + 10
    )?;
    match DurableStore::open_dir(&copy.0) {
        Ok(_) => writeln!(out, "  opened (it should not have)")?,
        Err(error) => writeln!(out, "  refused: {error}")?,
    }
    Ok(())
}

/// A command's id and its fingerprint: the command's name and fields.
fn command(id: &str, name: &str, fields: &[(&str, &str)]) -> Option<(CommandId, Fingerprint)> {
    Some((CommandId::new(id), Fingerprint::of(name, fields)))
}

fn show(appended: Appended) -> String {
    match appended {
        Appended::Now(version) => format!("appended, stream at {version}"),
        Appended::AlreadyApplied(version) => format!("already applied, at {version}"),
    }
}

fn state<S: Storage>(
    store: &DurableStore<S>,
    stream: &StreamId,
) -> Result<AccountState, Box<dyn Error>> {
    let mut state = initial_state();
    for recorded in store.read_stream(stream) {
        state = evolve(state, &decode(&recorded.record)?);
    }
    Ok(state)
}

/// Where each frame of a healthy log starts.
fn frame_starts(file: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = HEADER_LEN;
    while at + FRAME_HEADER_LEN <= file.len() {
        starts.push(at);
        let length = u32::from_le_bytes([file[at], file[at + 1], file[at + 2], file[at + 3]]);
        at += FRAME_HEADER_LEN + length as usize;
    }
    starts
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn le(bytes: &[u8]) -> u32 {
    u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Prints the header and each frame's fields with their offsets, and each
/// payload as the `key=value` lines it is.
fn dump(out: &mut impl Write, file: &[u8]) -> Result<(), Box<dyn Error>> {
    writeln!(out, "  offset  bytes                    meaning")?;
    writeln!(
        out,
        "  {:>6}  {:<23}  magic \"ESWBLOG\\0\"",
        0,
        hex(&file[..8])
    )?;
    writeln!(
        out,
        "  {:>6}  {:<23}  format version {}",
        8,
        hex(&file[8..12]),
        le(&file[8..12])
    )?;
    writeln!(
        out,
        "  {:>6}  {:<23}  CRC-32 of bytes 0..12",
        12,
        hex(&file[12..16])
    )?;
    for (number, start) in frame_starts(file).into_iter().enumerate() {
        let length = le(&file[start..]) as usize;
        writeln!(out, "  frame {}:", number + 1)?;
        writeln!(
            out,
            "  {:>6}  {:<23}  length {length}",
            start,
            hex(&file[start..start + 4])
        )?;
        writeln!(
            out,
            "  {:>6}  {:<23}  CRC-32 of the length",
            start + 4,
            hex(&file[start + 4..start + 8])
        )?;
        writeln!(
            out,
            "  {:>6}  {:<23}  CRC-32 of length, kind and payload",
            start + 8,
            hex(&file[start + 8..start + 12])
        )?;
        writeln!(
            out,
            "  {:>6}  {:<23}  kind {} (an append)",
            start + 12,
            hex(&file[start + 12..start + 13]),
            file[start + 12]
        )?;
        let payload = &file[start + FRAME_HEADER_LEN..start + FRAME_HEADER_LEN + length];
        writeln!(
            out,
            "  {:>6}  payload, {length} bytes:",
            start + FRAME_HEADER_LEN
        )?;
        for line in String::from_utf8_lossy(payload).lines() {
            writeln!(out, "            {line}")?;
        }
    }
    writeln!(out, "  {:>6}  end of file", file.len())?;
    Ok(())
}

/// Times synced appends in a directory of their own: `appends` calls of
/// `per_append` events each. Returns events per second.
fn rate(dir: &Path, appends: u64, per_append: u64) -> Result<f64, Box<dyn Error>> {
    let mut store = DurableStore::open_dir(dir)?;
    let stream = StreamId::new("account-timed");
    let started = Instant::now();
    for n in 0..appends {
        let records: Vec<EventRecord> = (0..per_append)
            .map(|k| {
                encode(&AccountEvent::MoneyDeposited {
                    amount: Cents(100 + (n * per_append + k) % 50),
                })
            })
            .collect();
        store.append(&stream, ExpectedVersion::Any, records, Timestamp(n), None)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    if store.read_all(Position(0)).len() as u64 != appends * per_append {
        return Err("the timed store lost events".into());
    }
    Ok((appends * per_append) as f64 / seconds)
}

/// Measures events per second with one event per sync and with a hundred,
/// on the disk that holds the system's temporary directory.
fn measure(err: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let one = Scratch::new("one-per-sync")?;
    let hundred = Scratch::new("hundred-per-sync")?;
    let single = rate(&one.0, 500, 1)?;
    let grouped = rate(&hundred.0, 200, 100)?;
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    writeln!(err, "Synced appends on this disk ({build} build):")?;
    writeln!(
        err,
        "  1 event per sync:    {single:>10.0} events/s (500 appends)"
    )?;
    writeln!(
        err,
        "  100 events per sync: {grouped:>10.0} events/s (200 appends of 100)"
    )?;
    writeln!(err, "  ratio: {:.0}x", grouped / single)?;
    Ok(())
}
