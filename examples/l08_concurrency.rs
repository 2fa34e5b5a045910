//! Lesson 8 — optimistic concurrency, end to end.
//!
//! Run it: `cargo run --example l08_concurrency`.

// Amounts are cents, written `100_00` for 100.00, so clippy's digit-grouping
// rule would only get in the way.
#![allow(clippy::inconsistent_digit_grouping)]

use std::collections::BTreeMap;
use std::error::Error;
use std::io::Write;
use std::sync::{Barrier, RwLock};

use es_workbook::l08_concurrency::{
    AccountCommand, AccountEvent, AccountState, Appended, Cents, CommandError, CommandId,
    CommandKey, Event, EventStore, ExpectedVersion, Fingerprint, Outcome, SharedStore, StreamId,
    Timestamp, decide, execute, find_overdraft, load, transfer,
};

fn main() -> Result<(), Box<dyn Error>> {
    run(&mut std::io::stdout().lock())
}

/// Replays the lost update by hand, without and then with the version check,
/// then shows retries, duplicate commands, transfers and racing threads.
pub fn run(out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let account = StreamId::new("account-1");

    writeln!(
        out,
        "1. Two tellers withdraw at once; appends expect any version"
    )?;
    let mut store = funded_account(&account)?;
    two_tellers(out, &mut store, &account, |_| ExpectedVersion::Any)?;

    writeln!(out)?;
    writeln!(
        out,
        "2. The same interleaving; appends expect the version loaded"
    )?;
    let mut store = funded_account(&account)?;
    two_tellers(out, &mut store, &account, ExpectedVersion::Exact)?;

    writeln!(out)?;
    writeln!(out, "3. A client sends a command twice")?;
    let store = RwLock::new(store);
    let deposit = AccountCommand::DepositMoney {
        amount: Cents(25_00),
    };
    let req = CommandId::new("req-7");
    let first = execute(&store, &account, &req, &deposit, Timestamp(3))?;
    writeln!(
        out,
        "  {req}: deposit 25.00 into {account}: {}",
        outcome(first)
    )?;
    let again = execute(&store, &account, &req, &deposit, Timestamp(4))?;
    writeln!(
        out,
        "  the reply was lost, so the client sends {req} again: {}",
        outcome(again)
    )?;
    let other = AccountCommand::WithdrawMoney {
        amount: Cents(5_00),
    };
    if let Err(error) = execute(&store, &account, &req, &other, Timestamp(5)) {
        writeln!(out, "  {req} sent again for withdraw 5.00: {error}")?;
    }
    let greedy = AccountCommand::WithdrawMoney {
        amount: Cents(500_00),
    };
    let req = CommandId::new("req-8");
    match execute(&store, &account, &req, &greedy, Timestamp(5)) {
        Err(error) => writeln!(out, "  {req}: withdraw 500.00: {error}")?,
        Ok(other) => writeln!(out, "  {req}: withdraw 500.00: {}", outcome(other))?,
    }
    writeln!(out, "  {account} now reads:")?;
    for recorded in store
        .read()
        .map_err(|_| CommandError::StorePoisoned)?
        .read_stream(&account)
    {
        let by = recorded
            .command
            .as_ref()
            .map_or("-".to_string(), CommandKey::to_string);
        writeln!(
            out,
            "    {} {:<22} by {by}",
            recorded.version,
            describe(&recorded.event)
        )?;
    }

    writeln!(out)?;
    writeln!(out, "4. A transfer is two appends on two streams")?;
    let savings = StreamId::new("account-2");
    let open = AccountCommand::OpenAccount {
        owner: "Ada".into(),
        email: "ada@example.com".into(),
    };
    execute(
        &store,
        &savings,
        &CommandId::new("open-2"),
        &open,
        Timestamp(6),
    )?;
    let tx = CommandId::new("tx-1");
    for attempt in ["sent", "sent again"] {
        transfer(&store, &account, &savings, Cents(20_00), &tx, Timestamp(7))?;
        writeln!(
            out,
            "  {tx} (20.00 from {account} to {savings}) {attempt}: done"
        )?;
    }
    if let Err(error) = transfer(&store, &account, &savings, Cents(50_00), &tx, Timestamp(7)) {
        writeln!(out, "  {tx} sent again for 50.00: {error}")?;
    }
    let nowhere = StreamId::new("account-9");
    let tx = CommandId::new("tx-2");
    if let Err(error) = transfer(&store, &account, &nowhere, Cents(10_00), &tx, Timestamp(8)) {
        writeln!(out, "  {tx} (10.00 from {account} to {nowhere}): {error}")?;
    }
    let guard = store.read().map_err(|_| CommandError::StorePoisoned)?;
    writeln!(
        out,
        "  balances: {account} {}, {savings} {}: tx-1 moved once, tx-2's 10.00 is in flight",
        balance(&guard, &account),
        balance(&guard, &savings)
    )?;
    drop(guard);

    writeln!(out)?;
    race(out)
}

/// A store in which `account` is open and holds 100.00, at v2.
fn funded_account(account: &StreamId) -> Result<EventStore<AccountEvent>, Box<dyn Error>> {
    let mut store = EventStore::new();
    let opened = AccountEvent::AccountOpened {
        owner: "Ada".into(),
        email: "ada@example.com".into(),
    };
    let funded = AccountEvent::MoneyDeposited {
        amount: Cents(100_00),
    };
    let by = |id: &str| {
        let key = CommandKey::Client(CommandId::new(id));
        Some((key, Fingerprint::of(&id)))
    };
    store.append(
        account,
        ExpectedVersion::NoStream,
        vec![opened],
        Timestamp(0),
        by("open-1"),
    )?;
    store.append(
        account,
        ExpectedVersion::Any,
        vec![funded],
        Timestamp(1),
        by("fund-1"),
    )?;
    Ok(store)
}

/// Two tellers load the account, both decide, then both append with the
/// expectation `expect` makes of the version each loaded. Steps are
/// interleaved by hand, so the outcome is the same on every run.
fn two_tellers(
    out: &mut impl Write,
    store: &mut EventStore<AccountEvent>,
    account: &StreamId,
    expect: fn(es_workbook::l08_concurrency::Version) -> ExpectedVersion,
) -> Result<(), Box<dyn Error>> {
    let tellers = [
        ("A", "teller-a", Cents(70_00)),
        ("B", "teller-b", Cents(60_00)),
    ];
    let mut decisions = Vec::new();
    for (name, _, _) in tellers {
        let loaded = load(store, account);
        writeln!(
            out,
            "  teller {name} loads {account}: {}, balance {}",
            loaded.version,
            balance_in(&loaded.state)
        )?;
        decisions.push(loaded);
    }
    let mut events = Vec::new();
    for ((name, _, amount), loaded) in tellers.iter().zip(&decisions) {
        let decided = decide(
            &AccountCommand::WithdrawMoney { amount: *amount },
            &loaded.state,
        )?;
        let shown: Vec<String> = decided.iter().map(describe).collect();
        writeln!(
            out,
            "  teller {name} decides to withdraw {amount}: {}",
            shown.join(", ")
        )?;
        events.push(decided);
    }
    for (((name, id, amount), loaded), decided) in tellers.iter().zip(&decisions).zip(events) {
        let expected = expect(loaded.version);
        let command = AccountCommand::WithdrawMoney { amount: *amount };
        let key = CommandKey::Client(CommandId::new(*id));
        let tag = Some((key, Fingerprint::of(&command)));
        match store.append(account, expected, decided, Timestamp(2), tag) {
            Ok(Appended::Now(version) | Appended::AlreadyApplied(version)) => writeln!(
                out,
                "  teller {name} appends expecting {expected}: ok, {account} is at {version}"
            )?,
            Err(conflict) => {
                writeln!(
                    out,
                    "  teller {name} appends expecting {expected}: {conflict}"
                )?;
                let reloaded = load(store, account);
                writeln!(
                    out,
                    "  teller {name} reloads {account}: {}, balance {}",
                    reloaded.version,
                    balance_in(&reloaded.state)
                )?;
                match decide(&command, &reloaded.state) {
                    Err(rejection) => {
                        writeln!(out, "  teller {name} decides again: rejected, {rejection}")?
                    }
                    Ok(_) => writeln!(out, "  teller {name} decides again: accepted")?,
                }
            }
        }
    }
    match find_overdraft(&store.read_stream(account)) {
        Some(overdraft) => {
            writeln!(out, "  replaying {account}: {overdraft}")?;
            writeln!(
                out,
                "  yet its state says balance {}: evolve stops at zero, only a replay shows it",
                balance(store, account)
            )?;
        }
        None => writeln!(
            out,
            "  replaying {account}: no withdrawal overdrew it; balance {}",
            balance(store, account)
        )?,
    }
    Ok(())
}

/// Four threads withdraw from and deposit into one account at once, then
/// the account's history is checked. Only the checks are printed: which
/// commands win a race differs from run to run, the rules must not.
fn race(out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    const THREADS: u64 = 4;
    const COMMANDS: u64 = 100;
    let account = StreamId::new("account-3");
    let store = SharedStore::default();
    let open = AccountCommand::OpenAccount {
        owner: "Grace".into(),
        email: "grace@example.com".into(),
    };
    execute(
        &store,
        &account,
        &CommandId::new("open-3"),
        &open,
        Timestamp(0),
    )?;
    let start = Barrier::new(THREADS as usize);
    let acknowledged: BTreeMap<CommandKey, i64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (store, account, start) = (&store, &account, &start);
                scope.spawn(move || {
                    start.wait();
                    let mut acked = BTreeMap::new();
                    for n in 0..COMMANDS {
                        // Mostly withdrawals, so that many are refused.
                        let cents = 1_00 + (thread * 37 + n * 53) % 20_00;
                        let (command, signed) = if n % 3 == 0 {
                            (
                                AccountCommand::DepositMoney {
                                    amount: Cents(cents),
                                },
                                cents as i64,
                            )
                        } else {
                            (
                                AccountCommand::WithdrawMoney {
                                    amount: Cents(cents),
                                },
                                -(cents as i64),
                            )
                        };
                        let id = CommandId::new(format!("t{thread}-{n}"));
                        if let Ok(Outcome::Appended { .. }) =
                            execute(store, account, &id, &command, Timestamp(n))
                        {
                            acked.insert(CommandKey::Client(id), signed);
                        }
                    }
                    acked
                })
            })
            .collect();
        workers
            .into_iter()
            // A worker that panicked acknowledged nothing we can trust; the
            // checks below then fail and say so.
            .flat_map(|worker| worker.join().unwrap_or_default())
            .collect()
    });

    let store = store
        .into_inner()
        .map_err(|_| CommandError::StorePoisoned)?;
    let history = store.read_stream(&account);
    let stored: BTreeMap<CommandKey, i64> = history
        .iter()
        .filter_map(|recorded| {
            let signed = match recorded.event {
                AccountEvent::MoneyDeposited { amount } => amount.0 as i64,
                AccountEvent::MoneyWithdrawn { amount } => -(amount.0 as i64),
                _ => return None,
            };
            Some((recorded.command.clone()?, signed))
        })
        .collect();
    let dense = history
        .iter()
        .zip(1..)
        .all(|(recorded, n)| recorded.version.0 == n);
    let expected_balance: i64 = acknowledged.values().sum();
    let yes = |holds: bool| if holds { "yes" } else { "NO" };
    writeln!(
        out,
        "5. Four threads send {COMMANDS} deposits and withdrawals each to {account}"
    )?;
    writeln!(
        out,
        "  every acknowledged command is stored, and nothing else: {}",
        yes(stored == acknowledged && stored.len() + 1 == history.len())
    )?;
    writeln!(
        out,
        "  versions run 1, 2, 3, ... without a gap: {}",
        yes(dense)
    )?;
    writeln!(
        out,
        "  no withdrawal overdrew the account at any version: {}",
        yes(find_overdraft(&history).is_none())
    )?;
    writeln!(
        out,
        "  the balance is what the acknowledged commands add up to: {}",
        yes(i64::try_from(balance(&store, &account).0) == Ok(expected_balance))
    )?;
    Ok(())
}

fn outcome(outcome: Outcome) -> String {
    match outcome {
        Outcome::Appended { version, attempts } => {
            format!("appended, now at {version} (attempts: {attempts})")
        }
        Outcome::AlreadyApplied { version } => {
            format!("already applied at {version}, nothing appended")
        }
    }
}

fn describe(event: &AccountEvent) -> String {
    match event {
        AccountEvent::MoneyDeposited { amount } | AccountEvent::MoneyWithdrawn { amount } => {
            format!("{} {amount}", event.event_type())
        }
        _ => event.event_type().to_string(),
    }
}

fn balance(store: &EventStore<AccountEvent>, account: &StreamId) -> Cents {
    balance_in(&load(store, account).state)
}

fn balance_in(state: &AccountState) -> Cents {
    match state {
        AccountState::Open { balance } => *balance,
        AccountState::NotOpened | AccountState::Closed => Cents(0),
    }
}
