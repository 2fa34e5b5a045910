//! Lesson 9 — snapshots, end to end.
//!
//! Run it: `cargo run --example l09_snapshots`. What it prints on stdout is
//! the golden output and never changes; after that, `main` times the W2
//! benchmark workload and prints the timings on stderr, which vary from run
//! to run. For timings worth quoting: `cargo run --release --example l09_snapshots`.

use std::error::Error;
use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use es_workbook::l09_snapshots::{
    AccountCommand, AccountEvent, AccountRepository, AccountState, Cents, Loaded, Snapshot,
    SnapshotPolicy, StreamId, Timestamp, Version, decode_state,
};

/// W2 of the benchmark workload: one account with 100,000 events, a snapshot
/// at version 99,000, and the balance every harness checks.
const W2_EVENTS: u64 = 100_000;
const W2_SNAPSHOT_AT: u64 = 99_000;
const W2_BALANCE: Cents = Cents(7_483_234);
/// How many timed loads of each kind `main` takes the median of.
const TIMED_LOADS: usize = 11;

fn main() -> Result<(), Box<dyn Error>> {
    run(&mut std::io::stdout().lock())?;
    time_w2(&mut std::io::stderr().lock())
}

/// Runs commands against one account with a snapshot every 3 events, loads it
/// with and without snapshots, asks as-of questions, plants snapshots the code
/// must not trust, and loads the 100,000-event W2 account both ways.
pub fn run(out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let mut repo = AccountRepository::new(SnapshotPolicy::Every(3));
    let account = StreamId::new("account-1");
    let commands = [
        AccountCommand::OpenAccount {
            owner: "Ada Lovelace".into(),
            email: "ada@example.com".into(),
        },
        AccountCommand::DepositMoney {
            amount: Cents(10_000),
        },
        AccountCommand::DepositMoney {
            amount: Cents(5_000),
        },
        AccountCommand::WithdrawMoney {
            amount: Cents(3_000),
        },
        AccountCommand::WithdrawMoney {
            amount: Cents(50_000),
        },
        AccountCommand::DepositMoney { amount: Cents(500) },
        AccountCommand::WithdrawMoney {
            amount: Cents(2_500),
        },
        AccountCommand::DepositMoney {
            amount: Cents(1_250),
        },
    ];

    writeln!(
        out,
        "Commands on {account}, snapshot policy: every 3 events"
    )?;
    for (second, command) in (0..).zip(&commands) {
        let what = describe(command);
        match repo.execute(&account, command, Timestamp(1_772_442_000 + second)) {
            Ok(version) => {
                let taken = repo.snapshots.latest(&account).map(|s| s.version) == Some(version);
                let note = if taken { "  snapshot taken" } else { "" };
                writeln!(out, "  {what:<24} -> {version}{note}")?;
            }
            Err(error) => writeln!(out, "  {what:<24} -> {error}")?,
        }
    }

    writeln!(out)?;
    writeln!(out, "Loading {account}:")?;
    writeln!(out, "  full replay:     {}", repo.replay(&account))?;
    writeln!(out, "  snapshot + tail: {}", repo.load(&account))?;

    writeln!(out)?;
    writeln!(
        out,
        "As-of queries start from the newest snapshot at or below their version:"
    )?;
    for at in [2, 5, 6] {
        writeln!(
            out,
            "  as of v{at}: {}",
            repo.load_as_of(&account, Version(at))
        )?;
    }

    let current = repo.store.stream_version(&account);
    let old = Snapshot {
        version: current,
        schema: 0,
        payload: "open:112".into(),
    };
    writeln!(out)?;
    writeln!(
        out,
        "An older release left a snapshot at {current}, schema 0 (balance in whole units): {:?}",
        old.payload
    )?;
    let misread = decode_state(&old.payload)?;
    writeln!(
        out,
        "  the payload still parses, and read as schema 1 would say: {misread}"
    )?;
    repo.snapshots.save(&account, old);
    writeln!(out, "  load: {}", repo.load(&account))?;

    let damaged = Snapshot {
        version: current,
        schema: 1,
        payload: "open:11x50".into(),
    };
    writeln!(
        out,
        "A damaged snapshot at {current}: {:?}",
        damaged.payload
    )?;
    repo.snapshots.save(&account, damaged);
    writeln!(out, "  load: {}", repo.load(&account))?;
    let version = repo.snapshot_now(&account);
    writeln!(out, "A fresh snapshot at {version} replaces it:")?;
    writeln!(out, "  load: {}", repo.load(&account))?;

    let (w2, stream) = w2_account()?;
    let full = w2.replay(&stream);
    let fast = w2.load(&stream);
    writeln!(out)?;
    writeln!(
        out,
        "W2: {stream} with {W2_EVENTS} generated events, snapshot at v{W2_SNAPSHOT_AT}:"
    )?;
    writeln!(out, "  full replay:     {full}")?;
    writeln!(out, "  snapshot + tail: {fast}")?;
    let expected = AccountState::Open {
        balance: W2_BALANCE,
    };
    if full.state != expected || fast.state != full.state || fast.version != full.version {
        return Err(format!("W2 loads disagree: {full} / {fast}").into());
    }
    writeln!(
        out,
        "  both give the expected balance {W2_BALANCE}, and the snapshot load replays {}x fewer events",
        full.events_replayed / fast.events_replayed.max(1)
    )?;
    writeln!(
        out,
        "  (the wall-clock times of both loads go to stderr: they differ on every run)"
    )?;
    Ok(())
}

fn describe(command: &AccountCommand) -> String {
    match command {
        AccountCommand::OpenAccount { owner, .. } => format!("open for {owner}"),
        AccountCommand::DepositMoney { amount } => format!("deposit {amount}"),
        AccountCommand::WithdrawMoney { amount } => format!("withdraw {amount}"),
        AccountCommand::CloseAccount => "close".to_string(),
    }
}

/// Event `k` of benchmark account `i`, as `reference/benchmark-workload.md`
/// defines it. The events go straight into the store, as the benchmark's
/// setup does; a zero withdrawal is one of them, which `decide` would refuse
/// but `evolve` folds like any other fact.
fn w2_event(i: u64, k: u64) -> AccountEvent {
    match k {
        0 => AccountEvent::AccountOpened {
            owner: format!("acct-{i}"),
            email: format!("acct-{i}@example.com"),
        },
        k if k % 3 != 0 => AccountEvent::MoneyDeposited {
            amount: Cents(100 + (i + k) % 50),
        },
        k => AccountEvent::MoneyWithdrawn {
            amount: Cents((i + k) % 50),
        },
    }
}

/// The W2 account: 99,000 events, a snapshot, then 1,000 more events.
fn w2_account() -> Result<(AccountRepository, StreamId), Box<dyn Error>> {
    let mut repo = AccountRepository::new(SnapshotPolicy::Never);
    let stream = StreamId::new("account-0");
    for k in 0..W2_EVENTS {
        if k == W2_SNAPSHOT_AT {
            repo.snapshot_now(&stream);
        }
        repo.store.append(
            &stream,
            Version(k),
            vec![w2_event(0, k)],
            Timestamp(k),
            None,
        )?;
    }
    Ok((repo, stream))
}

/// Times both W2 loads and prints the medians in the benchmark's line format.
fn time_w2(err: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let (repo, stream) = w2_account()?;
    let full = median_ms(|| repo.replay(&stream));
    let fast = median_ms(|| repo.load(&stream));
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    writeln!(err)?;
    writeln!(err, "workbook-l09 W2.snapshot rebuild_full_ms {full:.3} ms")?;
    writeln!(
        err,
        "workbook-l09 W2.snapshot rebuild_from_snapshot_ms {fast:.4} ms"
    )?;
    writeln!(
        err,
        "({build} build, median of {TIMED_LOADS} loads each: the snapshot load is {:.0}x faster)",
        full / fast
    )?;
    Ok(())
}

fn median_ms(load: impl Fn() -> Loaded) -> f64 {
    let mut samples: Vec<Duration> = (0..TIMED_LOADS)
        .map(|_| {
            let start = Instant::now();
            black_box(load());
            start.elapsed()
        })
        .collect();
    samples.sort();
    samples[TIMED_LOADS / 2].as_secs_f64() * 1000.0
}
