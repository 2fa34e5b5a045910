//! Lesson 11 — subscriptions, end to end.
//!
//! Run it: `cargo run --example l11_subscriptions`.

use std::error::Error;
use std::io::Write;
use std::time::Duration;

use es_workbook::l11_subscriptions::{
    AccountEvent, BalanceRow, Balances, Cents, EventLog, GapLog, HighWaterReader, MailServer,
    NaiveReader, PAGE_SIZE, Position, RecordedEvent, StartFrom, StreamId, Subscriber, Subscription,
    Timestamp, Version, ViewStore, WelcomeMailer,
};

/// Long enough that only a broken subscription ever reaches it.
const PATIENCE: Duration = Duration::from_secs(10);

fn main() -> Result<(), Box<dyn Error>> {
    run(&mut std::io::stdout().lock())
}

fn opened(owner: &str) -> AccountEvent {
    AccountEvent::AccountOpened {
        owner: owner.to_string(),
        email: format!("{}@example.com", owner.to_lowercase()),
    }
}

fn deposited(cents: u64) -> AccountEvent {
    AccountEvent::MoneyDeposited {
        amount: Cents(cents),
    }
}

fn describe(recorded: &RecordedEvent) -> String {
    let what = match &recorded.event {
        AccountEvent::AccountOpened { owner, .. } => format!("AccountOpened by {owner}"),
        AccountEvent::MoneyDeposited { amount } => format!("MoneyDeposited {amount}"),
        AccountEvent::MoneyWithdrawn { amount } => format!("MoneyWithdrawn {amount}"),
        AccountEvent::AccountClosed => "AccountClosed".to_string(),
    };
    format!("{} {} {}", recorded.position, recorded.stream, what)
}

fn show_balances(
    out: &mut impl Write,
    label: &str,
    view: &ViewStore<BalanceRow>,
) -> Result<(), Box<dyn Error>> {
    let (checkpoint, rows) = view.read();
    let checkpoint = checkpoint.unwrap_or_default();
    writeln!(out, "  {label} (checkpoint {checkpoint}):")?;
    for (account, row) in rows {
        writeln!(out, "    {account} {} {}", row.owner, row.balance)?;
    }
    Ok(())
}

fn show_mail(out: &mut impl Write, server: &MailServer) -> Result<(), Box<dyn Error>> {
    writeln!(
        out,
        "  mail server: {} sent, {} delivered",
        server.attempts(),
        server.delivered().len()
    )?;
    for email in server.delivered() {
        writeln!(
            out,
            "    to {} {:?} (key {})",
            email.to, email.subject, email.key
        )?;
    }
    Ok(())
}

/// Builds a log, follows it with a projection and a reactor, crashes them,
/// fails one, rebuilds the other, and reads a store with gaps both ways.
pub fn run(out: &mut impl Write) -> Result<(), Box<dyn Error>> {
    let log = EventLog::new();
    let (ada, grace, edsger) = (
        StreamId::new("account-1"),
        StreamId::new("account-2"),
        StreamId::new("account-3"),
    );
    log.append(&ada, vec![opened("Ada"), deposited(10_000)], Timestamp(100));
    log.append(&grace, vec![opened("Grace")], Timestamp(110));
    log.append(&ada, vec![deposited(2_500)], Timestamp(120));
    log.append(&grace, vec![deposited(4_000)], Timestamp(130));

    writeln!(out, "1. The notification log, read in pages of 2")?;
    let mut after = Position(0);
    loop {
        let page = log.read_page(after, 2);
        if page.events.is_empty() {
            writeln!(out, "  after {after}: empty, the reader is at the end")?;
            break;
        }
        let events: Vec<String> = page.events.iter().map(describe).collect();
        writeln!(
            out,
            "  after {after}: {}; next page after {}",
            events.join(", "),
            page.next
        )?;
        after = page.next;
    }

    writeln!(
        out,
        "\n2. A projection catches up, then follows on its own thread"
    )?;
    let balances = ViewStore::new();
    let projection = Subscriber::new(&log, balances.clone(), Balances, StartFrom::Beginning);
    let projection = Subscription::start(&log, projection)?;
    projection.wait_for(log.last_position(), PATIENCE)?;
    show_balances(out, "caught up", &balances)?;
    let written = log.append(
        &ada,
        vec![AccountEvent::MoneyWithdrawn {
            amount: Cents(1_500),
        }],
        Timestamp(140),
    );
    writeln!(
        out,
        "  appended a withdrawal at {written}; waiting for the projection to reach it"
    )?;
    let reached = projection.wait_for(written, PATIENCE)?;
    writeln!(
        out,
        "  reached {reached}; Ada's balance is {}",
        balances
            .get(&ada)
            .map(|row| row.balance)
            .unwrap_or_default()
    )?;
    let projection = projection.stop()?;
    writeln!(out, "  stopped at {}", projection.checkpoint())?;

    writeln!(out, "\n3. A crash between handling and checkpointing")?;
    let written = log.append(
        &grace,
        vec![deposited(1_000), deposited(2_000)],
        Timestamp(150),
    );
    let mut projection = projection;
    let page = log.read_page(projection.checkpoint(), PAGE_SIZE);
    let applied = projection.apply(&page)?;
    writeln!(
        out,
        "  handled {} events up to {written}, then crashed before the commit",
        applied.handled()
    )?;
    drop(applied);
    drop(projection);
    show_balances(out, "after the crash", &balances)?;
    let mut projection = Subscriber::new(&log, balances.clone(), Balances, StartFrom::Beginning);
    projection.catch_up(&log)?;
    show_balances(out, "restarted from the stored checkpoint", &balances)?;

    writeln!(out, "\n4. A reactor starts at the end of the log")?;
    let server = MailServer::new();
    let mailer_view = ViewStore::new();
    let mut mailer = Subscriber::new(
        &log,
        mailer_view.clone(),
        WelcomeMailer::new(server.clone()),
        StartFrom::End,
    );
    writeln!(
        out,
        "  it starts at {}: Ada and Grace opened before it existed",
        mailer.checkpoint()
    )?;
    let written = log.append(&edsger, vec![opened("Edsger")], Timestamp(160));
    let stored = mailer.checkpoint();
    let page = log.read_page(stored, PAGE_SIZE);
    drop(mailer.apply(&page)?);
    drop(mailer);
    writeln!(
        out,
        "  Edsger opened at {written}; the reactor sent his welcome, then crashed before the commit"
    )?;
    let mut mailer = Subscriber::new(
        &log,
        mailer_view.clone(),
        WelcomeMailer::new(server.clone()),
        StartFrom::End,
    );
    mailer.catch_up(&log)?;
    writeln!(
        out,
        "  restarted from {stored}: the welcome is sent again, with the same key"
    )?;
    show_mail(out, &server)?;
    writeln!(
        out,
        "  the reactor stores {} rows and its checkpoint {}",
        mailer_view.len(),
        mailer.checkpoint()
    )?;

    writeln!(out, "\n5. Rebuilding the projection from zero")?;
    projection.catch_up(&log)?;
    let rebuilt = ViewStore::new();
    Subscriber::new(&log, rebuilt.clone(), Balances, StartFrom::Beginning).catch_up(&log)?;
    let same = if rebuilt.read() == balances.read() {
        "equals"
    } else {
        "DIFFERS FROM"
    };
    writeln!(
        out,
        "  the rebuilt table {same} the one built event by event"
    )?;
    mailer.catch_up(&log)?;
    writeln!(
        out,
        "  the reactor, with its own checkpoint, sent nothing: {} emails in all",
        server.attempts()
    )?;

    writeln!(out, "\n6. A handler that fails")?;
    let mailer = Subscription::start(&log, mailer)?;
    server.set_down(true);
    let written = log.append(
        &StreamId::new("account-4"),
        vec![opened("Barbara")],
        Timestamp(170),
    );
    let waited = mailer.wait_for(written, PATIENCE);
    match waited {
        Ok(position) => writeln!(out, "  reached {position}")?,
        Err(error) => writeln!(out, "  waiting for {written} ends at once: {error}")?,
    }
    writeln!(out, "  status: {}", mailer.status())?;
    server.set_down(false);
    let mailer = Subscription::start(&log, mailer.stop()?)?;
    mailer.wait_for(written, PATIENCE)?;
    writeln!(out, "  the server is back; restarted: {}", mailer.status())?;
    show_mail(out, &server)?;
    drop(mailer.stop()?);

    writeln!(
        out,
        "\n7. A store that numbers at insert and shows at commit"
    )?;
    let mut gaps = GapLog::new();
    let first = gaps.begin(&ada, Version(1), opened("Ada"), Timestamp(200));
    let second = gaps.begin(&grace, Version(1), opened("Grace"), Timestamp(200));
    let third = gaps.begin(&edsger, Version(1), opened("Edsger"), Timestamp(200));
    writeln!(out, "  three inserts in flight at #1, #2, #3")?;
    let (mut naive, mut careful) = (NaiveReader::new(), HighWaterReader::new());
    let aborted = gaps.abort(third);
    let committed = gaps.commit(second);
    writeln!(
        out,
        "  {aborted} rolls back (a gap for good); {committed} commits; #1 is still in flight"
    )?;
    let positions = |events: Vec<RecordedEvent>| {
        events
            .iter()
            .map(|e| e.position.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    writeln!(
        out,
        "  naive reader reads [{}], checkpoint {}",
        positions(naive.poll(&gaps)),
        naive.checkpoint()
    )?;
    writeln!(
        out,
        "  high-water reader (mark {}) reads [{}], checkpoint {}",
        gaps.high_water_mark(),
        positions(careful.poll(&gaps, PAGE_SIZE)),
        careful.checkpoint()
    )?;
    let committed = gaps.commit(first);
    writeln!(out, "  {committed} commits")?;
    writeln!(
        out,
        "  naive reader reads [{}]: it skipped #1 for good",
        positions(naive.poll(&gaps))
    )?;
    writeln!(
        out,
        "  high-water reader (mark {}) reads [{}], checkpoint {}",
        gaps.high_water_mark(),
        positions(careful.poll(&gaps, PAGE_SIZE)),
        careful.checkpoint()
    )?;
    Ok(())
}
