//! Lesson 6 — aggregates, end to end.
//!
//! Run it: `cargo run --example l06_aggregates`.

#![allow(
    clippy::inconsistent_digit_grouping,
    reason = "amounts in cents are written as units_cents: 100_00 is 100.00"
)]

use std::error::Error;
use std::io::Write;

use es_workbook::l06_aggregates::{
    Account, AccountCommand, AccountEvent, AccountState, Cents, CommandError, Decider, EmailEvent,
    EmailReservation, Event, Position, Registration, Repository, StreamId, Timestamp, decide,
    evolve, initial_state, register,
};

fn main() -> Result<(), Box<dyn Error>> {
    run(&mut std::io::stdout().lock())
}

/// Runs the account decider on its own, then through a repository, then
/// opens accounts whose emails must be unique.
pub fn run(out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    decider_on_its_own(out)?;
    writeln!(out)?;
    through_a_repository(out)?;
    writeln!(out)?;
    unique_emails(out)?;
    Ok(())
}

fn decider_on_its_own(out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    writeln!(out, "1. The decider on its own: no store, just functions")?;
    let commands = [
        open("Ada Lovelace", "ada@example.com"),
        AccountCommand::DepositMoney {
            amount: Cents(100_00),
        },
        AccountCommand::WithdrawMoney {
            amount: Cents(30_00),
        },
        AccountCommand::WithdrawMoney {
            amount: Cents(100_00),
        },
        AccountCommand::DepositMoney { amount: Cents(0) },
        AccountCommand::CloseAccount,
    ];
    let mut state = initial_state();
    let mut history = Vec::new();
    for command in &commands {
        match decide(command, &state) {
            Ok(events) => {
                for event in &events {
                    state = evolve(state, event);
                }
                let names: Vec<&str> = events.iter().map(Event::event_type).collect();
                writeln!(
                    out,
                    "  {:<22} -> {:<15} now {}",
                    describe_command(command),
                    names.join(", "),
                    describe_state(&state)
                )?;
                history.extend(events);
            }
            Err(error) => writeln!(
                out,
                "  {:<22} -> refused: {error}",
                describe_command(command)
            )?,
        }
    }
    let replayed = history.iter().fold(initial_state(), evolve);
    writeln!(
        out,
        "  replaying the {} recorded events from the start: {}",
        history.len(),
        describe_state(&replayed)
    )?;
    Ok(())
}

fn through_a_repository(out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    writeln!(out, "2. Through a repository: load, decide, save")?;
    let mut accounts = Repository::<Account>::new();
    let id = StreamId::new("account-1");
    let commands = [
        open("Ada Lovelace", "ada@example.com"),
        AccountCommand::DepositMoney {
            amount: Cents(100_00),
        },
        AccountCommand::WithdrawMoney {
            amount: Cents(30_00),
        },
    ];
    for (second, command) in (0..).zip(&commands) {
        let version = accounts.execute(&id, command, Timestamp(second))?;
        writeln!(
            out,
            "  {:<22} -> {id} is at {version}",
            describe_command(command)
        )?;
    }

    // A clerk loads the account, and before the clerk saves, the owner
    // withdraws at a cash machine.
    let clerk = accounts.load(&id);
    writeln!(
        out,
        "  a clerk loads {id} at {}: {}",
        clerk.version,
        describe_state(&clerk.state)
    )?;
    let cash_machine = AccountCommand::WithdrawMoney {
        amount: Cents(50_00),
    };
    let version = accounts.execute(&id, &cash_machine, Timestamp(10))?;
    writeln!(
        out,
        "  meanwhile, {} at a cash machine -> {id} is at {version}",
        describe_command(&cash_machine)
    )?;
    let clerks_command = AccountCommand::WithdrawMoney {
        amount: Cents(60_00),
    };
    let events = Account::decide(&clerks_command, &clerk.state)?;
    writeln!(
        out,
        "  the clerk decides {} on the old state: accepted",
        describe_command(&clerks_command)
    )?;
    match accounts.save(&id, clerk.version, events, Timestamp(11)) {
        Ok(version) => writeln!(out, "  the clerk saves -> {id} is at {version}")?,
        Err(error) => writeln!(out, "  the clerk saves -> refused: {error}")?,
    }
    match accounts.execute(&id, &clerks_command, Timestamp(12)) {
        Ok(version) => writeln!(out, "  retried on a fresh load -> {id} is at {version}")?,
        Err(error) => writeln!(out, "  retried on a fresh load -> refused: {error}")?,
    }

    let closing = [
        AccountCommand::CloseAccount,
        AccountCommand::WithdrawMoney {
            amount: Cents(20_00),
        },
        AccountCommand::CloseAccount,
        AccountCommand::DepositMoney { amount: Cents(5) },
        open("Ada Lovelace", "ada@example.com"),
    ];
    for (second, command) in (20..).zip(&closing) {
        match accounts.execute(&id, command, Timestamp(second)) {
            Ok(version) => writeln!(
                out,
                "  {:<22} -> {id} is at {version}",
                describe_command(command)
            )?,
            Err(CommandError::Rejected(error)) => writeln!(
                out,
                "  {:<22} -> refused: {error}",
                describe_command(command)
            )?,
            Err(error) => return Err(error.into()),
        }
    }

    writeln!(out, "  the stream {id}:")?;
    for recorded in accounts.store().read_stream(&id) {
        writeln!(
            out,
            "    {} {}",
            recorded.version,
            describe_event(&recorded.event)
        )?;
    }
    Ok(())
}

fn unique_emails(out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    writeln!(out, "3. Unique emails: one reservation stream per email")?;
    let mut accounts = Repository::<Account>::new();
    let mut emails = Repository::<EmailReservation>::new();
    let customers = [
        ("account-1", "Ada Lovelace", "ada@example.com"),
        ("account-2", "Ada Byron", "  ADA@Example.com"),
        ("account-3", "Grace Hopper", "grace@example.com"),
        ("account-4", "  ", "nobody@example.com"),
    ];
    for (second, (account, owner, email)) in (0..).zip(customers) {
        let account = StreamId::new(account);
        let outcome = match register(
            &mut accounts,
            &mut emails,
            &account,
            owner,
            email,
            Timestamp(second),
        ) {
            Ok(version) => format!("opened at {version}"),
            Err(error) => format!("refused: {error}"),
        };
        writeln!(out, "  register {account} with {email:?} -> {outcome}")?;
    }

    writeln!(
        out,
        "  two registrations for alan@example.com, interleaved:"
    )?;
    let (five, six) = (StreamId::new("account-5"), StreamId::new("account-6"));
    let first =
        Registration::prepare(&accounts, &emails, &five, "Alan Turing", "alan@example.com")?;
    let second = Registration::prepare(&accounts, &emails, &six, "Alan Kay", "Alan@example.com")?;
    writeln!(
        out,
        "    both prepared: each saw the email free and decided to claim it"
    )?;
    for (account, registration) in [(&five, first), (&six, second)] {
        let committed = registration
            .claim(&mut emails, Timestamp(10))
            .and_then(|claimed| claimed.open(&mut accounts, &mut emails, Timestamp(10)));
        let outcome = match committed {
            Ok(version) => format!("opened at {version}"),
            Err(error) => format!("refused: {error}"),
        };
        writeln!(out, "    claim and open {account} -> {outcome}")?;
    }

    writeln!(
        out,
        "  a registration whose account is opened behind its back:"
    )?;
    let seven = StreamId::new("account-7");
    let pending = Registration::prepare(
        &accounts,
        &emails,
        &seven,
        "Edsger Dijkstra",
        "edsger@example.com",
    )?;
    accounts.execute(
        &seven,
        &open("Edsger W. Dijkstra", "ewd@example.com"),
        Timestamp(20),
    )?;
    writeln!(out, "    meanwhile {seven} is opened with ewd@example.com")?;
    let committed = pending
        .claim(&mut emails, Timestamp(21))
        .and_then(|claimed| claimed.open(&mut accounts, &mut emails, Timestamp(21)));
    match committed {
        Ok(version) => writeln!(out, "    claim and open {seven} -> opened at {version}")?,
        Err(error) => writeln!(out, "    claim and open {seven} -> refused: {error}")?,
    }

    writeln!(
        out,
        "  a retried registration, interleaved with a slow first attempt:"
    )?;
    let eight = StreamId::new("account-8");
    let barbara = ("Barbara Liskov", "barbara@example.com");
    let first = Registration::prepare(&accounts, &emails, &eight, barbara.0, barbara.1)?
        .claim(&mut emails, Timestamp(30))?;
    writeln!(out, "    the first attempt claims the email for {eight}")?;
    let retry = Registration::prepare(&accounts, &emails, &eight, barbara.0, barbara.1)?
        .claim(&mut emails, Timestamp(31))?;
    writeln!(
        out,
        "    the retry finds the claim its own: its claim changes nothing"
    )?;
    let version = first.open(&mut accounts, &mut emails, Timestamp(32))?;
    writeln!(out, "    the first attempt opens {eight} at {version}")?;
    if let Err(error) = retry.open(&mut accounts, &mut emails, Timestamp(33)) {
        writeln!(out, "    the retry opens {eight} -> refused: {error}")?;
    }
    let nine = StreamId::new("account-9");
    if let Err(error) = register(
        &mut accounts,
        &mut emails,
        &nine,
        "Barbara Huberman",
        barbara.1,
        Timestamp(34),
    ) {
        writeln!(
            out,
            "    register {nine} with {:?} -> refused: {error}",
            barbara.1
        )?;
    }

    writeln!(out, "  the reservation streams, in global order:")?;
    for recorded in emails.store().read_all(Position(0)) {
        let (what, account) = match &recorded.event {
            EmailEvent::EmailClaimed { account } => ("claimed by", account),
            EmailEvent::EmailReleased { account } => ("released by", account),
        };
        writeln!(
            out,
            "    {} {:<27} {} {what} {account}",
            recorded.position, recorded.stream, recorded.version
        )?;
    }
    writeln!(out, "  the accounts:")?;
    for n in 1..=9 {
        let account = StreamId::new(format!("account-{n}"));
        let loaded = accounts.load(&account);
        writeln!(
            out,
            "    {account} at {}: {}",
            loaded.version,
            describe_state(&loaded.state)
        )?;
    }
    Ok(())
}

fn open(owner: &str, email: &str) -> AccountCommand {
    AccountCommand::OpenAccount {
        owner: owner.into(),
        email: email.into(),
    }
}

fn describe_command(command: &AccountCommand) -> String {
    match command {
        AccountCommand::OpenAccount { owner, .. } => format!("open for {owner}"),
        AccountCommand::DepositMoney { amount } => format!("deposit {amount}"),
        AccountCommand::WithdrawMoney { amount } => format!("withdraw {amount}"),
        AccountCommand::CloseAccount => "close".to_string(),
    }
}

fn describe_event(event: &AccountEvent) -> String {
    match event {
        AccountEvent::AccountOpened { owner, email } => {
            format!("AccountOpened {owner} <{email}>")
        }
        AccountEvent::MoneyDeposited { amount } => format!("MoneyDeposited {amount}"),
        AccountEvent::MoneyWithdrawn { amount } => format!("MoneyWithdrawn {amount}"),
        AccountEvent::AccountClosed => "AccountClosed".to_string(),
    }
}

fn describe_state(state: &AccountState) -> String {
    match state {
        AccountState::NotOpened => "not opened".to_string(),
        AccountState::Open { balance } => format!("open, balance {balance}"),
        AccountState::Closed => "closed".to_string(),
    }
}
