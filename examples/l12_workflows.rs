//! Lesson 12 — a transfer as a process manager, end to end.
//!
//! Run it: `cargo run --example l12_workflows`.

use std::collections::BTreeMap;
use std::error::Error;
use std::io::Write;
use std::sync::RwLockReadGuard;

use es_workbook::l12_workflows::{
    AccountCommand, AccountEvent, AccountId, AccountState, Cents, Clock, CommandId, CommandKey,
    Event, EventStore, ManualClock, MessageId, Notifier, Position, ProcessManager, RecordedEvent,
    SharedStore, TRANSFER_TIMEOUT, Timestamp, Transfer, TransferEvent, TransferState, execute,
    load, load_transfer, submit,
};

fn main() -> Result<(), Box<dyn Error>> {
    run(&mut std::io::stdout().lock())
}

/// What the clients do: set up accounts, then submit transfers.
struct Scenario {
    start: Timestamp,
    accounts: Vec<(AccountId, Vec<(CommandId, AccountCommand)>)>,
    transfers: Vec<(CommandId, Transfer)>,
}

/// The accounts of the story: Ada's with 100.00, Grace's, an account that
/// was opened and closed, one that was never opened, and Alan's with 5.00.
fn scenario() -> Scenario {
    let account = |id: &str| AccountId::new(id);
    let open = |owner: &str| AccountCommand::OpenAccount {
        owner: owner.into(),
        email: format!("{}@example.com", owner.to_lowercase()),
    };
    let deposit = |cents| AccountCommand::DepositMoney {
        amount: Cents(cents),
    };
    let cmd = |id: &str, command| (CommandId::new(id), command);
    let transfer = |id: &str, from: &str, to: &str, cents| {
        let (from, to, amount) = (account(from), account(to), Cents(cents));
        (CommandId::new(id), Transfer { from, to, amount })
    };
    Scenario {
        start: Timestamp(1_000),
        accounts: vec![
            (
                account("account-1"),
                vec![cmd("open-1", open("Ada")), cmd("dep-1", deposit(10_000))],
            ),
            (account("account-2"), vec![cmd("open-2", open("Grace"))]),
            (
                account("account-3"),
                vec![
                    cmd("open-3", open("Linus")),
                    cmd("close-3", AccountCommand::CloseAccount),
                ],
            ),
            (
                account("account-5"),
                vec![cmd("open-5", open("Alan")), cmd("dep-5", deposit(5_00))],
            ),
        ],
        transfers: vec![
            transfer("tx-1", "account-1", "account-2", 30_00),
            transfer("tx-2", "account-1", "account-3", 20_00),
            transfer("tx-3", "account-1", "account-4", 10_00),
            transfer("tx-4", "account-5", "account-2", 50_000),
        ],
    }
}

/// The store, read-locked; a poisoned lock is an error, as anywhere else.
fn read(store: &SharedStore) -> Result<RwLockReadGuard<'_, EventStore>, Box<dyn Error>> {
    store
        .read()
        .map_err(|_| "the store's lock is poisoned".into())
}

fn balances(out: &mut impl Write, store: &EventStore, ids: &[&str]) -> Result<(), Box<dyn Error>> {
    let shown: Vec<String> = (ids.iter())
        .map(|id| match load(store, &AccountId::new(*id)).0 {
            AccountState::Open { balance } => format!("{id} {balance}"),
            AccountState::Closed => format!("{id} closed"),
            AccountState::NotOpened => format!("{id} not opened"),
        })
        .collect();
    writeln!(out, "  balances: {}", shown.join(", "))?;
    Ok(())
}

fn states(
    out: &mut impl Write,
    store: &EventStore,
    scenario: &Scenario,
) -> Result<(), Box<dyn Error>> {
    for (id, _) in &scenario.transfers {
        let shown = match load_transfer(store, id).state {
            TransferState::Finished { outcome, .. } => outcome.to_string(),
            TransferState::Active {
                step,
                issued,
                retry_at,
                ..
            } => {
                format!(
                    "at the {step} step, issued: {issued}, next try at {}",
                    retry_at.0
                )
            }
            TransferState::NotRequested => "not requested".to_string(),
        };
        writeln!(out, "  {id}: {shown}")?;
    }
    Ok(())
}

/// Runs the story on one thread, narrated; stops and restarts a driver in
/// the middle of a transfer; prints a causal tree.
pub fn run(out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let scenario = scenario();
    let store = SharedStore::default();
    let clock = ManualClock::new(scenario.start);
    for (account, commands) in &scenario.accounts {
        for (id, command) in commands {
            execute(&store, account, command, id)?;
        }
    }
    let all = [
        "account-1",
        "account-2",
        "account-3",
        "account-4",
        "account-5",
    ];
    writeln!(out, "Accounts at time {}:", clock.now().0)?;
    balances(out, &*read(&store)?, &all)?;

    writeln!(out, "\nClients submit four transfers, and send tx-1 twice:")?;
    for (id, transfer) in scenario.transfers.iter().chain(&scenario.transfers[..1]) {
        let submitted = submit(&store, &clock, id, transfer)?;
        writeln!(
            out,
            "  {id}: {} from {} to {} -> {submitted:?}",
            transfer.amount, transfer.from, transfer.to
        )?;
    }
    let (id, mut other) = scenario.transfers[0].clone();
    other.amount = Cents(99_00);
    let reused = submit(&store, &clock, &id, &other);
    writeln!(
        out,
        "  {id} again, for 99.00 -> {}",
        match reused {
            Ok(submitted) => format!("{submitted:?}"),
            Err(error) => format!("refused: {error}"),
        }
    )?;

    writeln!(
        out,
        "\nThe process manager runs until it has nothing to do:"
    )?;
    let mut manager = ProcessManager::new(&store, &clock);
    manager.run_until_idle()?;
    states(out, &*read(&store)?, &scenario)?;
    balances(out, &*read(&store)?, &all)?;

    clock.advance(TRANSFER_TIMEOUT);
    writeln!(
        out,
        "\nThe clock moves to {}, past every deadline:",
        clock.now().0
    )?;
    manager.run_until_idle()?;
    states(out, &*read(&store)?, &scenario)?;
    balances(out, &*read(&store)?, &all)?;

    writeln!(
        out,
        "\nA driver stops after two writes of tx-5 (its claim and the debit):"
    )?;
    let (tx5, transfer) = (
        CommandId::new("tx-5"),
        Transfer {
            from: AccountId::new("account-1"),
            to: AccountId::new("account-2"),
            amount: Cents(15_00),
        },
    );
    submit(&store, &clock, &tx5, &transfer)?;
    let stopped = ProcessManager::new(&store, &clock)
        .stop_after(2)
        .run_until_idle();
    writeln!(
        out,
        "  the driver: {}",
        match stopped {
            Ok(()) => "finished".to_string(),
            Err(error) => error.to_string(),
        }
    )?;
    let stuck = load_transfer(&*read(&store)?, &tx5).state;
    if let TransferState::Active { step, issued, .. } = stuck {
        writeln!(out, "  tx-5 is at the {step} step, issued: {issued}")?;
    }
    balances(out, &*read(&store)?, &["account-1", "account-2"])?;
    writeln!(out, "  a new driver starts and recovers:")?;
    ProcessManager::new(&store, &clock).recover()?;
    let done = load_transfer(&*read(&store)?, &tx5).state;
    if let TransferState::Finished { outcome, .. } = done {
        writeln!(out, "  tx-5: {outcome}")?;
    }
    balances(out, &*read(&store)?, &["account-1", "account-2"])?;

    let mut notifier = Notifier::default();
    notifier.catch_up(&store)?;
    writeln!(out, "\nThe notifications reactor follows the log:")?;
    for notification in notifier.sent.values() {
        writeln!(out, "  to {}: {}", notification.to, notification.text)?;
    }
    let again = notifier.catch_up(&store)?;
    writeln!(out, "  caught up again: {again} new notifications")?;

    let guard = read(&store)?;
    writeln!(out, "\nThe causal tree of tx-3:")?;
    for line in causal_tree(&guard, &notifier, &CommandId::new("tx-3")) {
        writeln!(out, "  {line}")?;
    }
    drop(guard);

    Ok(())
}

// ANCHOR: tree
/// The causal tree of one story: every event whose correlation is `id`,
/// each under the message that caused it, and the notification under the
/// event that caused it.
pub fn causal_tree(store: &EventStore, notifier: &Notifier, id: &CommandId) -> Vec<String> {
    let mut children: BTreeMap<MessageId, Vec<(Option<MessageId>, String)>> = BTreeMap::new();
    let events = store.read_all(Position(0)).iter();
    for recorded in events.filter(|r| &r.metadata.correlation == id) {
        let cause = recorded.metadata.causation.clone();
        let child = (Some(recorded.id()), describe(recorded));
        children.entry(cause).or_default().push(child);
    }
    if let Some(sent) = notifier.sent.get(id) {
        let line = format!("notification to {}: {}", sent.to, sent.text);
        let cause = sent.metadata.causation.clone();
        children.entry(cause).or_default().push((None, line));
    }
    let root = MessageId::Command(CommandKey::Client(id.clone()));
    let mut lines = vec![format!("{root}: the client's request")];
    print_children(&children, &root, "", &mut lines);
    lines
}

fn print_children(
    children: &BTreeMap<MessageId, Vec<(Option<MessageId>, String)>>,
    node: &MessageId,
    indent: &str,
    lines: &mut Vec<String>,
) {
    let Some(below) = children.get(node) else {
        return;
    };
    for (index, (child, line)) in below.iter().enumerate() {
        let last = index + 1 == below.len();
        lines.push(format!(
            "{indent}{}{line}",
            if last { "└─ " } else { "├─ " }
        ));
        let deeper = format!("{indent}{}", if last { "   " } else { "│  " });
        if let Some(child) = child {
            print_children(children, child, &deeper, lines);
        }
    }
}

fn describe(recorded: &RecordedEvent) -> String {
    let what = match &recorded.event {
        Event::Account(AccountEvent::AccountOpened { owner, .. }) => {
            format!("AccountOpened for {owner}")
        }
        Event::Account(AccountEvent::MoneyDeposited { amount }) => {
            format!("MoneyDeposited {amount}")
        }
        Event::Account(AccountEvent::MoneyWithdrawn { amount }) => {
            format!("MoneyWithdrawn {amount}")
        }
        Event::Account(AccountEvent::AccountClosed) => "AccountClosed".to_string(),
        Event::Transfer(event) => describe_transfer(event),
    };
    format!("{} {}: {what}", recorded.stream, recorded.version)
}
fn describe_transfer(event: &TransferEvent) -> String {
    match event {
        TransferEvent::TransferRequested { transfer, deadline } => format!(
            "TransferRequested {} from {} to {}, deadline {}",
            transfer.amount, transfer.from, transfer.to, deadline.0
        ),
        TransferEvent::CommandIssued { step } => format!("CommandIssued {step}"),
        TransferEvent::StepSucceeded { step } => format!("StepSucceeded {step}"),
        TransferEvent::StepRefused { step, refusal, at } => {
            format!("StepRefused {step} at {}: {refusal}", at.0)
        }
        TransferEvent::TransferTimedOut { at } => format!("TransferTimedOut at {}", at.0),
        TransferEvent::TransferCancelled => "TransferCancelled".to_string(),
    }
}
// ANCHOR_END: tree
