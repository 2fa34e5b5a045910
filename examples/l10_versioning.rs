//! Lesson 10 — versioning events, end to end.
//!
//! Run it: `cargo run --example l10_versioning`. What it prints on stdout is
//! the golden output and never changes; after that, `main` times replaying
//! the same 100,000-event history stored by release 1 and by release 3, and
//! prints the timings on stderr, which vary from run to run. For timings
//! worth quoting: `cargo run --release --example l10_versioning`.

use std::error::Error;
use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use es_workbook::l10_versioning::{
    AccountEvent, AccountRepository, Cents, Currency, EventRecord, RawEvent, RecordedEvent,
    Snapshot, StreamId, Timestamp, Version, decode, encode,
};

/// How many events the timed history has, and how many timed replays of
/// each log `main` takes the median of.
const TIMED_EVENTS: u64 = 100_000;
const TIMED_REPLAYS: usize = 11;

fn main() -> Result<(), Box<dyn Error>> {
    run(&mut std::io::stdout().lock())?;
    time_replays(&mut std::io::stderr().lock())
}

/// Reads a log left by two older releases through the upcasters, appends to
/// it in the current format, compares it with the same history written
/// today (law 7), shows awkward strings and bad bytes, and loads from
/// snapshots in three schemas.
pub fn run(out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let mut repo = AccountRepository::new();
    let account = StreamId::new("account-1");
    let old_records = [
        (
            1_600_000_000,
            RawEvent::new(
                "AccountOpened",
                1,
                &[
                    ("owner", "Ada Lovelace"),
                    ("email", "ada@example.com"),
                    ("initial_deposit", "10000"),
                ],
            ),
        ),
        (
            1_600_086_400,
            RawEvent::new("MoneyWithdrawn", 1, &[("cents", "3000")]),
        ),
        (
            1_650_000_000,
            RawEvent::new("MoneyDeposited", 2, &[("amount", "500")]),
        ),
    ];
    for (at, raw) in &old_records {
        let expected = repo.store.stream_version(&account);
        repo.store
            .append(&account, expected, vec![raw.to_record()?], Timestamp(*at))?;
    }

    writeln!(out, "Releases 1 and 2 left {account} in the store:")?;
    let stored: Vec<RecordedEvent> = repo
        .store
        .read_stream(&account)
        .into_iter()
        .cloned()
        .collect();
    for recorded in &stored {
        writeln!(out, "  {}", show_record(recorded.version, &recorded.record))?;
    }

    writeln!(out)?;
    writeln!(out, "Release 3 reads every record through the upcasters:")?;
    for recorded in &stored {
        let events = decode(&recorded.record)?;
        for (i, event) in events.iter().enumerate() {
            let from = if i == 0 {
                format!("{} ->", recorded.version)
            } else {
                String::new()
            };
            writeln!(out, "  {from:<6} {}", describe(event))?;
        }
    }
    let loaded = repo.load(&account)?;
    writeln!(out, "  load: {loaded}")?;

    writeln!(out)?;
    writeln!(
        out,
        "Release 3 appends a withdrawal of 25.00, in the current schema:"
    )?;
    let withdrawal = AccountEvent::MoneyWithdrawn {
        amount: Cents(2_500),
    };
    let version = repo.append(
        &account,
        loaded.version,
        &[withdrawal],
        Timestamp(1_700_000_000),
    )?;
    let after = repo.store.read_stream(&account);
    if let Some(last) = after.last() {
        writeln!(out, "  {}", show_record(last.version, &last.record))?;
    }
    let unchanged = after.iter().zip(&stored).all(|(now, then)| *now == then);
    writeln!(
        out,
        "  the three old records are unchanged, byte for byte: {unchanged}"
    )?;
    let current = repo.load(&account)?;
    writeln!(out, "  load: {current}")?;

    writeln!(out)?;
    writeln!(out, "Law 7: the same history, written by release 3 alone:")?;
    let mut today = AccountRepository::new();
    let history = repo.events_after(&account, Version(0))?;
    today.append(&account, Version(0), &history, Timestamp(1_700_000_000))?;
    for recorded in today.store.read_stream(&account) {
        writeln!(out, "  {}", show_record(recorded.version, &recorded.record))?;
    }
    let replayed = today.replay(&account)?;
    writeln!(out, "  replay: {replayed}")?;
    writeln!(
        out,
        "  same state: {}; {} records instead of {}, since one old record upcasts to two events",
        replayed.state == current.state,
        replayed.version.0,
        current.version.0
    )?;

    writeln!(out)?;
    writeln!(out, "Awkward strings survive the encoding:")?;
    let awkward = AccountEvent::AccountOpened {
        owner: "Zoë \"=\\n\"\nO'Neil".into(),
        email: "a=b@example.com".into(),
        currency: Currency::Gbp,
    };
    let record = encode(&awkward);
    writeln!(out, "  {}", describe(&awkward))?;
    writeln!(out, "  {}", show_record(Version(1), &record))?;
    writeln!(
        out,
        "  decodes to the same event: {}",
        decode(&record)? == [awkward]
    )?;

    writeln!(out)?;
    writeln!(out, "Bad bytes get a typed error, never a panic:")?;
    let bad = [
        record_of("MoneyDeposited", 2, b"amount=5"),
        record_of("MoneyDeposited", 2, b"amount=007\n"),
        record_of("MoneyDeposited", 2, b"amount=\xFF\n"),
        record_of("MoneyDeposited", 2, b"cents=5\n"),
        record_of(
            "AccountOpened",
            3,
            b"owner=Ada\\tL\nemail=a@b\ncurrency=EUR\n",
        ),
        record_of("MoneyDeposited", 3, b"amount=5\n"),
        record_of("AccountFrozen", 1, b""),
    ];
    for record in &bad {
        let outcome = match decode(record) {
            Ok(events) => format!("decoded {events:?}"),
            Err(error) => error.to_string(),
        };
        writeln!(
            out,
            "  {} v{} {}\n      -> {outcome}",
            record.event_type,
            record.schema_version,
            show_payload(&record.payload)
        )?;
    }

    writeln!(out)?;
    writeln!(out, "Snapshots of {account}, in three schemas:")?;
    let old_snapshots = [
        (
            "written by release 1, before currencies",
            Snapshot {
                version: Version(2),
                schema: 1,
                payload: b"status=open\nbalance=7000\n".to_vec(),
            },
        ),
        (
            "left by a release 4 that was rolled back",
            Snapshot {
                version,
                schema: 3,
                payload: b"status=open\nbalance=5000\ncurrency=EUR\noverdraft=0\n".to_vec(),
            },
        ),
    ];
    for (written_by, snapshot) in old_snapshots {
        writeln!(out, "  {}", show_snapshot(&snapshot, written_by))?;
        repo.snapshots.insert(account.clone(), snapshot);
        writeln!(out, "      load: {}", repo.load(&account)?)?;
    }
    repo.snapshot_now(&account)?;
    if let Some(snapshot) = repo.snapshots.get(&account) {
        writeln!(
            out,
            "  {}",
            show_snapshot(snapshot, "taken by snapshot_now")
        )?;
    }
    writeln!(out, "      load: {}", repo.load(&account)?)?;
    Ok(())
}

fn show_snapshot(snapshot: &Snapshot, written_by: &str) -> String {
    format!(
        "schema {} at {} ({written_by}): {}",
        snapshot.schema,
        snapshot.version,
        show_payload(&snapshot.payload)
    )
}

fn record_of(event_type: &str, schema_version: u32, payload: &[u8]) -> EventRecord {
    EventRecord {
        event_type: event_type.to_string(),
        schema_version,
        payload: payload.to_vec(),
    }
}

fn show_record(version: Version, record: &EventRecord) -> String {
    format!(
        "{version} {} v{}  {}",
        record.event_type,
        record.schema_version,
        show_payload(&record.payload)
    )
}

/// A payload as a quoted string, its newlines and backslashes escaped; bytes
/// that are not UTF-8 are shown as `\xNN`.
fn show_payload(payload: &[u8]) -> String {
    match std::str::from_utf8(payload) {
        Ok(text) => format!("{text:?}"),
        Err(_) => format!("b\"{}\"", payload.escape_ascii()),
    }
}

fn describe(event: &AccountEvent) -> String {
    match event {
        AccountEvent::AccountOpened {
            owner,
            email,
            currency,
        } => format!(
            "AccountOpened {{ owner: {owner:?}, email: {email:?}, currency: {} }}",
            currency.code()
        ),
        AccountEvent::MoneyDeposited { amount } => format!("MoneyDeposited {{ amount: {amount} }}"),
        AccountEvent::MoneyWithdrawn { amount } => format!("MoneyWithdrawn {{ amount: {amount} }}"),
        AccountEvent::AccountClosed => "AccountClosed".to_string(),
    }
}

/// Times a full replay of one history stored twice: as release 1 wrote it
/// (every record upcast on read) and as release 3 writes it.
fn time_replays(err: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let stream = StreamId::new("account-0");
    let mut old = AccountRepository::new();
    let mut new = AccountRepository::new();
    let opened = RawEvent::new(
        "AccountOpened",
        1,
        &[
            ("owner", "acct-0"),
            ("email", "acct-0@example.com"),
            ("initial_deposit", "0"),
        ],
    );
    old.store
        .append(&stream, Version(0), vec![opened.to_record()?], Timestamp(0))?;
    let mut history = decode(&opened.to_record()?)?;
    for k in 1..TIMED_EVENTS {
        // The events of benchmark account 0, as lesson 9's W2 workload has them.
        let (event_type, amount) = if k % 3 == 0 {
            ("MoneyWithdrawn", Cents(k % 50))
        } else {
            ("MoneyDeposited", Cents(100 + k % 50))
        };
        let record = RawEvent::new(event_type, 1, &[("cents", &amount.0.to_string())]);
        old.store
            .append(&stream, Version(k), vec![record.to_record()?], Timestamp(k))?;
        history.push(if k % 3 == 0 {
            AccountEvent::MoneyWithdrawn { amount }
        } else {
            AccountEvent::MoneyDeposited { amount }
        });
    }
    new.append(&stream, Version(0), &history, Timestamp(0))?;
    if old.replay(&stream)?.state != new.replay(&stream)?.state {
        return Err("the two logs disagree".into());
    }
    let upcast = median_ms(|| old.replay(&stream).map(|loaded| loaded.version))?;
    let current = median_ms(|| new.replay(&stream).map(|loaded| loaded.version))?;
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    writeln!(err)?;
    writeln!(
        err,
        "replaying {TIMED_EVENTS} events: {upcast:.1} ms from release 1 records (upcast), \
         {current:.1} ms from release 3 records ({build} build, median of {TIMED_REPLAYS})"
    )?;
    Ok(())
}

fn median_ms<T, E: Error + 'static>(
    replay: impl Fn() -> Result<T, E>,
) -> Result<f64, Box<dyn Error>> {
    let mut samples: Vec<Duration> = Vec::new();
    for _ in 0..TIMED_REPLAYS {
        let start = Instant::now();
        black_box(replay()?);
        samples.push(start.elapsed());
    }
    samples.sort();
    Ok(samples[TIMED_REPLAYS / 2].as_secs_f64() * 1000.0)
}
