//! Tests for lesson 11 — subscriptions, then its exercises.
//!
//! No test here sleeps or depends on how threads happen to be scheduled. A
//! crash is a transaction dropped before its commit; a slow handler is one
//! the test holds on a channel; every other wait is for a position the test
//! knows will be reached, with a timeout only broken code runs into.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use pretty_assertions::assert_eq;

use es_workbook::l11_subscriptions::{
    AccountEvent, BalanceRow, Balances, Cents, DedupeKey, Email, EventLog, Failure, FailureReason,
    GapLog, Handler, HandlerError, HighWaterReader, MailServer, NaiveReader, PAGE_SIZE, Page,
    Position, RecordedEvent, StartError, StartFrom, Status, StreamId, Subscriber, Subscription,
    Timestamp, Tx, Version, ViewStore, WaitError, WelcomeMailer,
};

/// Long enough that only broken code fails to arrive in time.
const PATIENCE: Duration = Duration::from_secs(10);
/// For waits the test made sure cannot succeed.
const SHORT: Duration = Duration::from_millis(20);

/// SplitMix64: a tiny, seeded, std-only generator, so every generated case
/// can be replayed from the seed printed when a test fails.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn account(n: u64) -> StreamId {
    StreamId::new(format!("account-{n}"))
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

fn withdrawn(cents: u64) -> AccountEvent {
    AccountEvent::MoneyWithdrawn {
        amount: Cents(cents),
    }
}

fn row(owner: &str, balance: u64, closed: bool, version: u64) -> BalanceRow {
    BalanceRow {
        owner: owner.to_string(),
        balance: Cents(balance),
        closed,
        version: Version(version),
    }
}

/// A handler that is *not* idempotent on its own: it adds one per deposit,
/// with no guard. Only the subscription's checkpoint keeps it right.
struct DepositCounter;

impl Handler for DepositCounter {
    type Row = u64;

    fn handle(
        &mut self,
        tx: &mut Tx<'_, u64>,
        recorded: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        if let AccountEvent::MoneyDeposited { .. } = recorded.event {
            let count = tx.get(&recorded.stream).copied().unwrap_or(0);
            tx.put(recorded.stream.clone(), count + 1);
        }
        Ok(())
    }
}

/// A subscriber that sends welcomes through `server`, keeping its rows and
/// checkpoint in `view`.
fn welcome_mailer(
    log: &EventLog,
    view: &ViewStore<()>,
    server: &MailServer,
    start: StartFrom,
) -> Subscriber<WelcomeMailer> {
    Subscriber::new(log, view.clone(), WelcomeMailer::new(server.clone()), start)
}

/// To whom the server delivered, in order.
fn delivered_to(server: &MailServer) -> Vec<String> {
    server
        .delivered()
        .into_iter()
        .map(|email| email.to)
        .collect()
}

/// `account-1`: opened by Ada, then three deposits. Positions #1 to #4.
fn ada_with_three_deposits() -> EventLog {
    let log = EventLog::new();
    log.append(&account(1), vec![opened("Ada")], Timestamp(100));
    for cents in [1_000, 2_000, 3_000] {
        log.append(&account(1), vec![deposited(cents)], Timestamp(200));
    }
    log
}

#[test]
fn a_page_holds_the_events_after_a_position_and_says_where_the_next_one_starts() {
    // given
    let log = ada_with_three_deposits();

    // when
    let first = log.read_page(Position(0), 3);
    let second = log.read_page(first.next, 3);
    let past_the_end = log.read_page(second.next, 3);

    // then
    let positions = |page: &Page| page.events.iter().map(|e| e.position.0).collect::<Vec<_>>();
    assert_eq!(
        (positions(&first), first.next),
        (vec![1, 2, 3], Position(3))
    );
    assert_eq!(
        (positions(&second), second.after, second.next),
        (vec![4], Position(3), Position(4))
    );
    assert_eq!(
        (positions(&past_the_end), past_the_end.next),
        (vec![], Position(4))
    );
}

#[test]
fn a_subscription_catches_up_from_its_checkpoint_and_then_follows_new_events() {
    // given: a history, and a projection that has never run
    let log = ada_with_three_deposits();
    let view = ViewStore::new();
    let subscriber = Subscriber::new(&log, view.clone(), Balances, StartFrom::Beginning);

    // when: it starts, and more is appended while it runs
    let subscription = Subscription::start(&log, subscriber).expect("a thread starts");
    let caught_up = subscription.wait_for(Position(4), PATIENCE);
    let written = log.append(&account(1), vec![withdrawn(500)], Timestamp(300));
    let live = subscription.wait_for(written, PATIENCE);

    // then
    assert_eq!((caught_up, live), (Ok(Position(4)), Ok(Position(5))));
    assert_eq!(view.get(&account(1)), Some(row("Ada", 5_500, false, 5)));
    let stopped = subscription.stop().expect("the thread ends cleanly");
    assert_eq!(stopped.checkpoint(), Position(5));
}

// ANCHOR: crash_test
#[test]
fn a_crash_between_handling_and_checkpointing_counts_nothing_twice() {
    // given: three deposits, and a counter with no guard of its own
    let log = ada_with_three_deposits();
    let view = ViewStore::new();
    let mut subscriber = Subscriber::new(&log, view.clone(), DepositCounter, StartFrom::Beginning);

    // when: it handles the page, then crashes before the commit
    let page = log.read_page(subscriber.checkpoint(), PAGE_SIZE);
    let applied = subscriber.apply(&page).expect("the counter never fails");
    assert_eq!(applied.handled(), 4);
    drop(applied);
    drop(subscriber);

    // then: nothing of the page is stored, rows or checkpoint
    assert_eq!(view.read(), (Some(Position(0)), BTreeMap::new()));

    // when: it restarts from the stored checkpoint
    let mut restarted = Subscriber::new(&log, view.clone(), DepositCounter, StartFrom::Beginning);
    let reached = restarted.catch_up(&log).expect("the counter never fails");

    // then: each deposit counted once
    assert_eq!(reached, Position(4));
    assert_eq!(view.get(&account(1)), Some(3));
}
// ANCHOR_END: crash_test

#[test]
fn storing_the_checkpoint_apart_from_the_rows_counts_a_crashed_page_twice() {
    // given: the same counter, with its rows and its checkpoint in two stores
    let log = ada_with_three_deposits();
    let rows = ViewStore::<u64>::new();
    let checkpoints = ViewStore::<()>::new();
    let run = |crash_before_checkpoint: bool| {
        let from = checkpoints.checkpoint().unwrap_or_default();
        let page = log.read_page(from, PAGE_SIZE);
        let mut tx = rows.begin();
        for recorded in &page.events {
            DepositCounter
                .handle(&mut tx, recorded)
                .expect("the counter never fails");
        }
        tx.commit(page.next);
        if !crash_before_checkpoint {
            checkpoints.begin().commit(page.next);
        }
    };

    // when: a crash between the two updates, then a restart
    run(true);
    run(false);

    // then: the three deposits are counted six times
    assert_eq!(rows.get(&account(1)), Some(6));
}

/// The balances each generated history must produce, computed apart from the
/// code under test, and the events, appended one at a time.
struct History {
    log: EventLog,
    expected: BTreeMap<StreamId, BalanceRow>,
}

/// Three accounts; each opens first; deposits and withdrawals keep the
/// balance at or above zero; an account at zero may close.
fn random_history(
    rng: &mut SplitMix64,
    events: usize,
    mut after_append: impl FnMut(&EventLog),
) -> History {
    let log = EventLog::new();
    let owners = ["Ada", "Grace", "Edsger"];
    let mut expected: BTreeMap<StreamId, BalanceRow> = BTreeMap::new();
    for at in 0..events as u64 {
        let n = rng.below(3);
        let stream = account(n);
        let event = match expected.get(&stream) {
            None => opened(owners[n as usize]),
            Some(row) if row.closed => continue,
            Some(row) if row.balance.0 == 0 && rng.below(8) == 0 => AccountEvent::AccountClosed,
            Some(row) if row.balance.0 > 0 && rng.below(2) == 0 => {
                withdrawn(1 + rng.below(row.balance.0))
            }
            Some(_) => deposited(1 + rng.below(10_000)),
        };
        let entry = expected
            .entry(stream.clone())
            .or_insert_with(|| row(owners[n as usize], 0, false, 0));
        entry.version.0 += 1;
        match event {
            AccountEvent::MoneyDeposited { amount } => entry.balance.0 += amount.0,
            AccountEvent::MoneyWithdrawn { amount } => entry.balance.0 -= amount.0,
            AccountEvent::AccountClosed => entry.closed = true,
            AccountEvent::AccountOpened { .. } => {}
        }
        log.append(&stream, vec![event], Timestamp(at));
        after_append(&log);
    }
    History { log, expected }
}

// ANCHOR: law_3_test
#[test]
fn law_3_a_view_rebuilt_from_zero_equals_the_view_built_as_events_arrived() {
    for seed in 0..40 {
        // given: a projection that follows the log in pages of random sizes
        let mut rng = SplitMix64(seed);
        let mut sizes = SplitMix64(seed ^ 0xA5A5);
        let live = ViewStore::new();
        let mut incremental: Option<Subscriber<Balances>> = None;
        let history = random_history(&mut rng, 60, |log| {
            let subscriber = incremental.get_or_insert_with(|| {
                Subscriber::new(log, live.clone(), Balances, StartFrom::Beginning)
            });
            let page = log.read_page(subscriber.checkpoint(), 1 + sizes.below(4) as usize);
            subscriber
                .apply(&page)
                .expect("balances never fail")
                .commit();
        });
        if let Some(subscriber) = incremental.as_mut() {
            subscriber
                .catch_up(&history.log)
                .expect("balances never fail");
        }

        // when: a rebuild into a fresh store
        let rebuilt = ViewStore::new();
        Subscriber::new(
            &history.log,
            rebuilt.clone(),
            Balances,
            StartFrom::Beginning,
        )
        .catch_up(&history.log)
        .expect("balances never fail");

        // then
        let end = Some(history.log.last_position());
        assert_eq!(live.read(), (end, history.expected.clone()), "seed {seed}");
        assert_eq!(rebuilt.read(), live.read(), "seed {seed}");
    }
}
// ANCHOR_END: law_3_test

#[test]
fn law_4_handing_over_every_page_twice_equals_handing_it_over_once() {
    for seed in 0..40 {
        // given
        let mut rng = SplitMix64(seed);
        let history = random_history(&mut rng, 60, |_| {});
        let view = ViewStore::new();
        let mut subscriber = Subscriber::new(
            &history.log,
            view.clone(),
            DepositCounter,
            StartFrom::Beginning,
        );
        let mut sizes = SplitMix64(seed ^ 0x5A5A);

        // when: every page is handed over and committed twice
        let mut repeats_handled = 0;
        loop {
            let page = history
                .log
                .read_page(subscriber.checkpoint(), 1 + sizes.below(5) as usize);
            if page.events.is_empty() {
                break;
            }
            subscriber.apply(&page).expect("never fails").commit();
            let again = subscriber.apply(&page).expect("never fails");
            repeats_handled += again.handled();
            again.commit();
        }

        // then: the repeats were skipped, and each deposit counted once
        let deposits = |stream: &StreamId| {
            history
                .log
                .read_page(Position(0), usize::MAX)
                .events
                .iter()
                .filter(|e| {
                    &e.stream == stream && matches!(e.event, AccountEvent::MoneyDeposited { .. })
                })
                .count() as u64
        };
        let expected: BTreeMap<StreamId, u64> = history
            .expected
            .keys()
            .map(|stream| (stream.clone(), deposits(stream)))
            .filter(|(_, count)| *count > 0)
            .collect();
        assert_eq!(repeats_handled, 0, "seed {seed}");
        assert_eq!(view.read().1, expected, "seed {seed}");
    }
}

#[test]
fn the_balances_handler_is_idempotent_by_itself_when_an_event_is_handled_twice() {
    // given
    let log = ada_with_three_deposits();
    let events = log.read_page(Position(0), PAGE_SIZE).events;
    let (once, twice) = (ViewStore::new(), ViewStore::new());

    // when: one store gets each event once, the other each event twice
    let mut tx = once.begin();
    for recorded in &events {
        Balances.handle(&mut tx, recorded).expect("never fails");
    }
    tx.commit(Position(4));
    let mut tx = twice.begin();
    for recorded in &events {
        Balances.handle(&mut tx, recorded).expect("never fails");
        Balances.handle(&mut tx, recorded).expect("never fails");
    }
    tx.commit(Position(4));

    // then
    assert_eq!(once.get(&account(1)), Some(row("Ada", 6_000, false, 4)));
    assert_eq!(twice.read(), once.read());
}

#[test]
fn a_page_that_starts_past_the_checkpoint_is_refused_and_nothing_is_handled() {
    // given: a subscriber at #1
    let log = ada_with_three_deposits();
    let view = ViewStore::new();
    let mut subscriber = Subscriber::new(&log, view.clone(), Balances, StartFrom::Beginning);
    subscriber
        .apply(&log.read_page(Position(0), 1))
        .expect("opens")
        .commit();

    // when: it is handed the page after #2, which would skip #2
    let result = subscriber
        .apply(&log.read_page(Position(2), PAGE_SIZE))
        .map(|a| a.handled());

    // then
    let failure = Failure {
        at: Position(3),
        checkpoint: Position(1),
        reason: FailureReason::Gap {
            missing: Position(2),
        },
    };
    assert_eq!(result, Err(failure));
    assert_eq!(view.get(&account(1)), Some(row("Ada", 0, false, 1)));
}

#[test]
fn rebuilding_the_projection_never_sends_a_welcome_again() {
    // given: a projection and a reactor, each with its own checkpoint, caught up
    let log = ada_with_three_deposits();
    log.append(&account(2), vec![opened("Grace")], Timestamp(300));
    let server = MailServer::new();
    let balances = ViewStore::new();
    let mailer_checkpoint = ViewStore::new();
    let mut projection = Subscriber::new(&log, balances.clone(), Balances, StartFrom::Beginning);
    let mut reactor = Subscriber::new(
        &log,
        mailer_checkpoint.clone(),
        WelcomeMailer::new(server.clone()),
        StartFrom::Beginning,
    );
    projection.catch_up(&log).expect("balances never fail");
    reactor.catch_up(&log).expect("the server is up");
    assert_eq!(server.attempts(), 2);

    // when: the projection is rebuilt from zero into a fresh store
    let rebuilt = ViewStore::new();
    Subscriber::new(&log, rebuilt.clone(), Balances, StartFrom::Beginning)
        .catch_up(&log)
        .expect("balances never fail");
    reactor.catch_up(&log).expect("the server is up");

    // then: the same table, and no email sent again
    assert_eq!(rebuilt.read(), balances.read());
    assert_eq!(server.attempts(), 2);
    assert_eq!(mailer_checkpoint.checkpoint(), Some(Position(5)));
}

#[test]
fn a_reactor_started_at_the_end_welcomes_only_accounts_opened_after_it_started() {
    // given: Ada's account is already in the log
    let log = ada_with_three_deposits();
    let server = MailServer::new();
    let view = ViewStore::new();
    let mut reactor = welcome_mailer(&log, &view, &server, StartFrom::End);

    // when: Grace opens an account, and the reactor catches up
    log.append(&account(2), vec![opened("Grace")], Timestamp(300));
    reactor.catch_up(&log).expect("the server is up");

    // then: only Grace is welcomed
    let expected = vec![Email {
        key: DedupeKey::of("welcome", &log.read_page(Position(4), 1).events[0]),
        to: "grace@example.com".to_string(),
        subject: "Welcome, Grace".to_string(),
    }];
    assert_eq!(server.delivered(), expected);
    assert_eq!(view.checkpoint(), Some(Position(5)));
}

#[test]
fn a_reactor_restarted_before_its_first_event_misses_nothing_appended_in_between() {
    // given: a reactor started at the end of Ada's history, then stopped at once
    let log = ada_with_three_deposits();
    let server = MailServer::new();
    let view = ViewStore::new();
    drop(welcome_mailer(&log, &view, &server, StartFrom::End));

    // when: Grace opens an account while it is down, and it restarts
    log.append(&account(2), vec![opened("Grace")], Timestamp(300));
    let mut restarted = welcome_mailer(&log, &view, &server, StartFrom::End);
    restarted.catch_up(&log).expect("the server is up");

    // then: its start was stored, so Grace is welcomed, and Ada is not
    assert_eq!(delivered_to(&server), vec!["grace@example.com".to_string()]);
}

#[test]
fn a_reactor_that_crashes_after_sending_sends_again_with_the_same_key_and_the_customer_gets_one_email()
 {
    // given: a reactor from the beginning
    let log = ada_with_three_deposits();
    let server = MailServer::new();
    let view = ViewStore::new();
    let mut reactor = welcome_mailer(&log, &view, &server, StartFrom::Beginning);

    // when: it sends the welcome, then crashes before the commit, then restarts
    let page = log.read_page(Position(0), PAGE_SIZE);
    drop(reactor.apply(&page).expect("the server is up"));
    drop(reactor);
    let mut restarted = welcome_mailer(&log, &view, &server, StartFrom::Beginning);
    restarted.catch_up(&log).expect("the server is up");

    // then: sent twice (at least once), delivered once (the dedupe key)
    assert_eq!(server.attempts(), 2);
    assert_eq!(server.delivered().len(), 1);
    assert_eq!(view.checkpoint(), Some(Position(4)));
}

#[test]
fn the_reactor_stores_one_position_however_many_emails_it_sends() {
    // given: a thousand accounts opened
    let log = EventLog::new();
    for n in 0..1_000 {
        log.append(&account(n), vec![opened("Ada")], Timestamp(n));
    }
    let server = MailServer::new();
    let view = ViewStore::new();
    let mut reactor = welcome_mailer(&log, &view, &server, StartFrom::Beginning);

    // when
    reactor.catch_up(&log).expect("the server is up");

    // then: a thousand emails, and all the reactor keeps is its checkpoint
    assert_eq!(server.delivered().len(), 1_000);
    assert_eq!((view.len(), view.checkpoint()), (0, Some(Position(1_000))));
}

#[test]
fn a_handler_error_stops_the_subscription_at_its_event_and_a_restart_resumes_from_the_checkpoint() {
    // given: a running reactor that has welcomed Ada, and a mail server that goes down
    let log = ada_with_three_deposits();
    let server = MailServer::new();
    let view = ViewStore::new();
    let reactor = welcome_mailer(&log, &view, &server, StartFrom::Beginning);
    let subscription = Subscription::start(&log, reactor).expect("a thread starts");
    assert_eq!(
        subscription.wait_for(Position(4), PATIENCE),
        Ok(Position(4))
    );
    server.set_down(true);

    // when: Grace opens an account
    let written = log.append(&account(2), vec![opened("Grace")], Timestamp(300));
    let waited = subscription.wait_for(written, PATIENCE);

    // then: the wait ends at once with the failure, which the status shows too
    let failure = Failure {
        at: Position(5),
        checkpoint: Position(4),
        reason: FailureReason::Handler(HandlerError::Unavailable {
            service: "the mail server".to_string(),
        }),
    };
    assert_eq!(waited, Err(WaitError::Failed(failure.clone())));
    assert_eq!(subscription.status(), Status::Failed(failure));
    assert_eq!(
        subscription.status().to_string(),
        "failed at #5 (checkpoint #4): the mail server is unavailable"
    );
    assert_eq!(
        subscription.wait_for(Position(4), PATIENCE),
        Ok(Position(4))
    );

    // when: the server comes back, and the subscription restarts
    server.set_down(false);
    let subscriber = subscription.stop().expect("the thread ends cleanly");
    let restarted = Subscription::start(&log, subscriber).expect("a thread starts");

    // then: it resumes at #5 and welcomes Grace; Ada's welcome is not sent again
    assert_eq!(restarted.wait_for(written, PATIENCE), Ok(Position(5)));
    assert_eq!(server.attempts(), 2);
    assert_eq!(
        delivered_to(&server),
        vec![
            "ada@example.com".to_string(),
            "grace@example.com".to_string()
        ]
    );
}

/// Panics on the event at one position, and counts the events before it.
struct PanicsAt(Position);

impl Handler for PanicsAt {
    type Row = u64;

    fn handle(
        &mut self,
        tx: &mut Tx<'_, u64>,
        recorded: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        let count = tx.get(&recorded.stream).copied().unwrap_or(0);
        tx.put(recorded.stream.clone(), count + 1);
        assert!(
            recorded.position != self.0,
            "cannot handle {}",
            recorded.position
        );
        Ok(())
    }
}

#[test]
fn a_panicking_handler_is_reported_as_failed_at_its_event_and_its_view_stays_at_the_checkpoint() {
    // given: a subscription that has handled #1 to #4
    let log = ada_with_three_deposits();
    let view = ViewStore::new();
    let subscriber = Subscriber::new(
        &log,
        view.clone(),
        PanicsAt(Position(6)),
        StartFrom::Beginning,
    );
    let subscription = Subscription::start(&log, subscriber).expect("a thread starts");
    assert_eq!(
        subscription.wait_for(Position(4), PATIENCE),
        Ok(Position(4))
    );

    // when: two more events arrive in one append; the second makes it panic
    let written = log.append(
        &account(1),
        vec![deposited(1), deposited(2)],
        Timestamp(300),
    );
    let waited = subscription.wait_for(written, PATIENCE);

    // then: failed at #6, and the view holds #1 to #4 only (not #5)
    let failure = Failure {
        at: Position(6),
        checkpoint: Position(4),
        reason: FailureReason::Panicked("cannot handle #6".to_string()),
    };
    assert_eq!(waited, Err(WaitError::Failed(failure)));
    assert_eq!(
        view.read(),
        (Some(Position(4)), BTreeMap::from([(account(1), 4)]))
    );
}

/// Blocks on each event until the test lets it go, and tells the test when
/// it has started one.
struct Gate {
    entered: mpsc::Sender<Position>,
    release: mpsc::Receiver<()>,
}

impl Handler for Gate {
    type Row = ();

    fn handle(
        &mut self,
        _tx: &mut Tx<'_, ()>,
        recorded: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        let _ = self.entered.send(recorded.position);
        let _ = self.release.recv();
        Ok(())
    }
}

/// A gate, the receiver on which it says which position it entered, and
/// the sender that lets it go on.
fn a_gate() -> (Gate, mpsc::Receiver<Position>, mpsc::Sender<()>) {
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let gate = Gate {
        entered: entered_tx,
        release: release_rx,
    };
    (gate, entered, release)
}

#[test]
fn a_slow_subscription_is_reported_as_running_behind_never_as_failed() {
    // given: a handler held inside its first event
    let log = EventLog::new();
    let (gate, entered, release) = a_gate();
    let subscriber = Subscriber::new(&log, ViewStore::new(), gate, StartFrom::Beginning);
    let subscription = Subscription::start(&log, subscriber).expect("a thread starts");
    let written = log.append(&account(1), vec![opened("Ada")], Timestamp(100));
    assert_eq!(entered.recv().ok(), Some(Position(1)));

    // when
    let waited = subscription.wait_for(written, SHORT);

    // then: a timeout while running, at the old checkpoint
    assert_eq!(
        waited,
        Err(WaitError::Timeout {
            waited_for: Position(1),
            reached: Position(0)
        })
    );
    assert_eq!(
        subscription.status(),
        Status::Running {
            checkpoint: Position(0)
        }
    );

    // when: it is let go
    release.send(()).expect("the handler is waiting");

    // then
    assert_eq!(subscription.wait_for(written, PATIENCE), Ok(Position(1)));
}

#[test]
fn a_stopped_subscription_reports_stopped_and_restarts_from_its_checkpoint() {
    // given
    let log = ada_with_three_deposits();
    let view = ViewStore::new();
    let subscriber = Subscriber::new(&log, view.clone(), DepositCounter, StartFrom::Beginning);
    let subscription = Subscription::start(&log, subscriber).expect("a thread starts");
    assert_eq!(
        subscription.wait_for(Position(4), PATIENCE),
        Ok(Position(4))
    );

    // when: stopped, more deposits arrive, and it restarts
    let subscriber = subscription.stop().expect("the thread ends cleanly");
    let written = log.append(&account(1), vec![deposited(5)], Timestamp(300));
    assert_eq!(view.get(&account(1)), Some(3));
    let restarted = Subscription::start(&log, subscriber).expect("a thread starts");

    // then: it picks up #5 only
    assert_eq!(restarted.wait_for(written, PATIENCE), Ok(Position(5)));
    assert_eq!(view.get(&account(1)), Some(4));
}

#[test]
fn a_page_that_leaves_out_a_position_after_the_checkpoint_is_refused_and_nothing_is_handled() {
    // given: three accounts opened, and a welcome mailer at #0
    let log = EventLog::new();
    for (n, owner) in [(1, "Ada"), (2, "Grace"), (3, "Edsger")] {
        log.append(&account(n), vec![opened(owner)], Timestamp(100));
    }
    let server = MailServer::new();
    let view = ViewStore::new();
    let mut mailer = welcome_mailer(&log, &view, &server, StartFrom::Beginning);

    // when: a page that says "after #0" but holds #2 and #3, and a page
    // that holds #1 but says the next one starts after #3
    let mut without_first = log.read_page(Position(1), PAGE_SIZE);
    without_first.after = Position(0);
    let mut next_too_far = log.read_page(Position(0), 1);
    next_too_far.next = Position(3);
    let refused = [
        mailer.apply(&without_first).map(|a| a.handled()),
        mailer.apply(&next_too_far).map(|a| a.handled()),
    ];

    // then: both refused, naming the position they would skip; nothing sent
    let gap = |at, missing| Failure {
        at: Position(at),
        checkpoint: Position(0),
        reason: FailureReason::Gap {
            missing: Position(missing),
        },
    };
    assert_eq!(refused, [Err(gap(2, 1)), Err(gap(3, 2))]);
    assert_eq!(
        (server.attempts(), view.checkpoint()),
        (0, Some(Position(0)))
    );
}

#[test]
fn a_subscription_whose_checkpoint_is_past_the_end_of_the_log_refuses_to_start() {
    // given: a view at #50, kept from another log, and a log of ten events
    let log = EventLog::new();
    for n in 0..10 {
        log.append(&account(n), vec![opened("Ada")], Timestamp(n));
    }
    let view = ViewStore::<BalanceRow>::new();
    view.begin().commit(Position(50));
    let subscriber = Subscriber::new(&log, view.clone(), Balances, StartFrom::Beginning);

    // when
    let started = Subscription::start(&log, subscriber).map(|s| s.status());

    // then: a typed refusal that names both positions
    match started {
        Err(StartError::PastTheEnd { checkpoint, last }) => {
            assert_eq!((checkpoint, last), (Position(50), Position(10)));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(view.checkpoint(), Some(Position(50)));
}

#[test]
fn a_handler_that_does_not_return_shows_the_position_it_is_stuck_at() {
    // given: a handler held inside the event at #2
    let log = EventLog::new();
    log.append(&account(1), vec![opened("Ada")], Timestamp(100));
    let (gate, entered, release) = a_gate();
    let subscriber = Subscriber::new(&log, ViewStore::new(), gate, StartFrom::Beginning);
    let subscription = Subscription::start(&log, subscriber).expect("a thread starts");
    assert_eq!(entered.recv().ok(), Some(Position(1)));
    release.send(()).expect("the handler is waiting");
    assert_eq!(
        subscription.wait_for(Position(1), PATIENCE),
        Ok(Position(1))
    );
    assert_eq!(subscription.handling(), None);
    let written = log.append(&account(1), vec![deposited(5)], Timestamp(200));
    assert_eq!(entered.recv().ok(), Some(written));

    // when: the handler is stuck, and then let go
    let stuck = subscription.handling();
    release.send(()).expect("the handler is waiting");

    // then: the subscription said where, without waiting for the handler
    assert_eq!(stuck, Some(Position(2)));
    assert_eq!(subscription.wait_for(written, PATIENCE), Ok(written));
    assert_eq!(subscription.handling(), None);
}

#[test]
fn a_reader_asked_for_a_page_of_no_events_reads_none_and_loses_none() {
    // given: a store with gaps holding #1 and #2, committed, and the dense log with one event
    let mut log = GapLog::new();
    let first = log.begin(&account(1), Version(1), opened("Ada"), Timestamp(100));
    let second = log.begin(&account(2), Version(1), opened("Grace"), Timestamp(100));
    log.commit(first);
    log.commit(second);
    let dense = EventLog::new();
    dense.append(&account(1), vec![opened("Ada")], Timestamp(100));
    let mut reader = HighWaterReader::new();

    // when: each is asked for a page of size 0, then the reader for a full page
    let empty = log.read_page(Position(0), 0);
    let dense_empty = dense.read_page(Position(0), 0);
    let none = reader.poll(&log, 0);
    let checkpoint_after_none = reader.checkpoint();
    let all = reader.poll(&log, PAGE_SIZE);

    // then: an empty page stays where it was, and nothing is skipped
    assert_eq!((empty.events.len(), empty.next), (0, Position(0)));
    assert_eq!(
        (dense_empty.events.len(), dense_empty.next),
        (0, Position(0))
    );
    assert_eq!((none.len(), checkpoint_after_none), (0, Position(0)));
    let positions: Vec<u64> = all.iter().map(|e| e.position.0).collect();
    assert_eq!(positions, vec![1, 2]);
}

// ANCHOR: naive_gap_test
#[test]
fn a_naive_reader_of_a_store_with_gaps_skips_an_event_committed_late_for_good() {
    // given: two inserts in flight; the later one (#2) commits first
    let mut log = GapLog::new();
    let ada = log.begin(&account(1), Version(1), opened("Ada"), Timestamp(100));
    let grace = log.begin(&account(2), Version(1), opened("Grace"), Timestamp(100));
    log.commit(grace);
    let mut naive = NaiveReader::new();
    let mut careful = HighWaterReader::new();

    // when: both readers poll, then #1 commits, then both poll again
    let naive_first = naive.poll(&log);
    let careful_first = careful.poll(&log, PAGE_SIZE);
    log.commit(ada);
    let naive_then = naive.poll(&log);
    let careful_then = careful.poll(&log, PAGE_SIZE);

    // then: the naive reader saw #2, moved past #1, and never sees it
    let positions =
        |events: &[RecordedEvent]| events.iter().map(|e| e.position.0).collect::<Vec<_>>();
    assert_eq!(
        (positions(&naive_first), positions(&naive_then)),
        (vec![2], vec![])
    );
    // the high-water mark reader waited for #1, then read both, in order
    assert_eq!(
        (positions(&careful_first), positions(&careful_then)),
        (vec![], vec![1, 2])
    );
}
// ANCHOR_END: naive_gap_test

#[test]
fn the_high_water_mark_stops_below_an_insert_in_flight_and_steps_over_an_aborted_one() {
    // given: #1 committed, #2 in flight, #3 aborted, #4 committed
    let mut log = GapLog::new();
    let first = log.begin(&account(1), Version(1), opened("Ada"), Timestamp(100));
    let second = log.begin(&account(2), Version(1), opened("Grace"), Timestamp(100));
    let third = log.begin(&account(3), Version(1), opened("Edsger"), Timestamp(100));
    let fourth = log.begin(&account(1), Version(2), deposited(100), Timestamp(100));
    log.commit(first);
    log.abort(third);
    log.commit(fourth);
    let mut reader = HighWaterReader::new();

    // when
    let mark_in_flight = log.high_water_mark();
    let before = reader.poll(&log, PAGE_SIZE);
    log.commit(second);
    let mark_after = log.high_water_mark();
    let after = reader.poll(&log, PAGE_SIZE);

    // then
    let positions =
        |events: &[RecordedEvent]| events.iter().map(|e| e.position.0).collect::<Vec<_>>();
    assert_eq!((mark_in_flight, positions(&before)), (Position(1), vec![1]));
    assert_eq!((mark_after, positions(&after)), (Position(4), vec![2, 4]));
    assert_eq!(reader.checkpoint(), Position(4));
}

// ANCHOR: interleaving_test
#[test]
fn under_random_interleavings_a_high_water_mark_reader_reads_every_committed_event_once_in_order() {
    let mut naive_missed_somewhere = false;
    for seed in 0..300 {
        // given: up to four inserts in flight, committed or aborted in random order
        let mut rng = SplitMix64(seed);
        let mut log = GapLog::new();
        let mut in_flight = Vec::new();
        let mut committed = BTreeSet::new();
        let (mut careful, mut naive) = (HighWaterReader::new(), NaiveReader::new());
        let (mut careful_saw, mut naive_saw) = (Vec::new(), Vec::new());

        // when: 80 random steps, then everything in flight is finished
        for step in 0..80u64 {
            match rng.below(6) {
                0 | 1 if in_flight.len() < 4 => {
                    let stream = account(step);
                    in_flight.push(log.begin(&stream, Version(1), opened("Ada"), Timestamp(step)));
                }
                2 | 3 if !in_flight.is_empty() => {
                    let ticket = in_flight.swap_remove(rng.below(in_flight.len() as u64) as usize);
                    if rng.below(5) == 0 {
                        log.abort(ticket);
                    } else {
                        committed.insert(log.commit(ticket).0);
                    }
                }
                4 => careful_saw.extend(careful.poll(&log, 1 + rng.below(3) as usize)),
                _ => naive_saw.extend(naive.poll(&log)),
            }
            assert!(careful.checkpoint() <= log.high_water_mark(), "seed {seed}");
        }
        while let Some(ticket) = in_flight.pop() {
            committed.insert(log.commit(ticket).0);
        }
        while careful.checkpoint() < log.high_water_mark() {
            careful_saw.extend(careful.poll(&log, PAGE_SIZE));
        }
        naive_saw.extend(naive.poll(&log));

        // then
        let careful_positions: Vec<u64> = careful_saw.iter().map(|e| e.position.0).collect();
        let all: Vec<u64> = committed.iter().copied().collect();
        assert_eq!(careful_positions, all, "seed {seed}");
        naive_missed_somewhere |= naive_saw.len() < all.len();
    }
    assert!(
        naive_missed_somewhere,
        "no interleaving made the naive reader skip an event"
    );
}
// ANCHOR_END: interleaving_test

#[test]
fn a_reader_of_the_single_writer_log_never_sees_a_position_before_every_earlier_one() {
    // given: four writers appending at once, and a reader following them
    let log = EventLog::new();
    let (writers, each) = (4u64, 250u64);
    let total = Position(writers * each);
    let reader = {
        let log = log.clone();
        thread::spawn(move || {
            let mut checkpoint = Position(0);
            let mut pages_with_a_hole = 0;
            while checkpoint < total {
                let page = log.wait_for_page(checkpoint, PAGE_SIZE, || false);
                for (offset, recorded) in (1..).zip(&page.events) {
                    if recorded.position != Position(checkpoint.0 + offset) {
                        pages_with_a_hole += 1;
                    }
                }
                checkpoint = page.next;
            }
            pages_with_a_hole
        })
    };

    // when
    let handles: Vec<_> = (0..writers)
        .map(|w| {
            let log = log.clone();
            thread::spawn(move || {
                for n in 0..each {
                    log.append(&account(w), vec![deposited(n + 1)], Timestamp(n));
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().expect("a writer finishes");
    }

    // then: every page the reader got continued exactly where the last ended
    assert_eq!(reader.join().expect("the reader finishes"), 0);
    assert_eq!(log.last_position(), total);
}

// ---------------------------------------------------------------------------
// Exercises: `cargo test --test l11_subscriptions -- --ignored`
// ---------------------------------------------------------------------------

mod exercises {
    use super::*;
    use es_workbook::exercises::l11_subscriptions::{
        Contact, GoodbyeMailer, LargeWithdrawalRow, LargeWithdrawals, PatientReader,
    };
    use pretty_assertions::assert_eq;

    fn large(count: u64, total: u64, version: u64) -> LargeWithdrawalRow {
        LargeWithdrawalRow {
            count,
            total: Cents(total),
            version: Version(version),
        }
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 11.1: a projection of large withdrawals, idempotent by itself"
    )]
    fn exercise_11_1_large_withdrawals_are_counted_from_the_threshold_up_once_each() {
        // given: withdrawals below, at and above 100.00 on account-1; only small ones on account-2
        let log = EventLog::new();
        log.append(
            &account(1),
            vec![opened("Ada"), deposited(100_000)],
            Timestamp(1),
        );
        log.append(
            &account(2),
            vec![opened("Grace"), deposited(100_000)],
            Timestamp(2),
        );
        log.append(
            &account(1),
            vec![withdrawn(9_999), withdrawn(10_000)],
            Timestamp(3),
        );
        log.append(&account(2), vec![withdrawn(500)], Timestamp(4));
        log.append(
            &account(1),
            vec![withdrawn(25_000), deposited(1)],
            Timestamp(5),
        );
        let threshold = Cents(10_000);
        // two large withdrawals on account-1 (the last at v5), no row for account-2
        let expected = BTreeMap::from([(account(1), large(2, 35_000, 5))]);

        // when: every event handled twice, in one transaction, with no checkpoint to help
        let twice = ViewStore::new();
        let mut tx = twice.begin();
        let mut handler = LargeWithdrawals { threshold };
        for recorded in &log.read_page(Position(0), PAGE_SIZE).events {
            handler.handle(&mut tx, recorded).expect("never fails");
            handler.handle(&mut tx, recorded).expect("never fails");
        }
        tx.commit(Position(9));

        // then
        assert_eq!(twice.read(), (Some(Position(9)), expected.clone()));

        // when: a subscription handles each event once
        let view = ViewStore::new();
        let mut subscriber = Subscriber::new(
            &log,
            view.clone(),
            LargeWithdrawals { threshold },
            StartFrom::Beginning,
        );
        subscriber
            .catch_up(&log)
            .expect("the projection never fails");

        // then: the same table
        assert_eq!(view.read(), (Some(Position(9)), expected));
    }

    fn closed() -> AccountEvent {
        AccountEvent::AccountClosed
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 11.2: a goodbye reactor that knows old addresses but announces only new closings"
    )]
    fn exercise_11_2_goodbyes_go_to_old_and_new_accounts_closed_after_deployment_once_each() {
        // given: Ada opened and closed, Grace opened, all before the deployment
        let log = EventLog::new();
        log.append(&account(1), vec![opened("Ada"), closed()], Timestamp(1));
        log.append(&account(2), vec![opened("Grace")], Timestamp(2));
        let server = MailServer::new();
        let view = ViewStore::new();
        let mailer = GoodbyeMailer {
            server: server.clone(),
            announce_after: log.last_position(),
        };
        let grace = Contact {
            owner: "Grace".to_string(),
            email: "grace@example.com".to_string(),
        };

        // when: Grace's opening is handled on its own
        let scratch = ViewStore::new();
        let mut tx = scratch.begin();
        let grace_opened = log.read_page(Position(2), 1).events[0].clone();
        let handled = mailer.clone().handle(&mut tx, &grace_opened);
        tx.commit(grace_opened.position);

        // then: her contact is written, and nothing is sent
        assert_eq!(handled, Ok(()));
        assert_eq!(scratch.get(&account(2)), Some(grace.clone()));
        assert_eq!(server.attempts(), 0);

        // when: the reactor catches up with the whole log
        let mut reactor = Subscriber::new(&log, view.clone(), mailer.clone(), StartFrom::Beginning);
        reactor.catch_up(&log).expect("the server is up");

        // then: nothing announced, and only Grace's open account remembered
        assert_eq!(server.attempts(), 0);
        assert_eq!(
            view.read(),
            (Some(Position(3)), BTreeMap::from([(account(2), grace)]))
        );

        // when: Edsger opens, then Grace closes, and the reactor crashes before its commit
        log.append(&account(3), vec![opened("Edsger")], Timestamp(3));
        let grace_closed = log.append(&account(2), vec![closed()], Timestamp(4));
        let page = log.read_page(reactor.checkpoint(), PAGE_SIZE);
        drop(reactor.apply(&page).expect("the server is up"));
        drop(reactor);
        let mut reactor = Subscriber::new(&log, view.clone(), mailer.clone(), StartFrom::Beginning);
        reactor.catch_up(&log).expect("the server is up");

        // then: sent twice under one key, delivered once, to Grace's address
        let grace_closing = log.read_page(Position(grace_closed.0 - 1), 1).events[0].clone();
        let goodbye_grace = Email {
            key: DedupeKey::of("goodbye", &grace_closing),
            to: "grace@example.com".to_string(),
            subject: "Goodbye, Grace".to_string(),
        };
        assert_eq!(
            (server.attempts(), server.delivered()),
            (2, vec![goodbye_grace.clone()])
        );
        assert_eq!(view.len(), 1);

        // when: the server is down as Edsger closes
        server.set_down(true);
        let edsger_closed = log.append(&account(3), vec![closed()], Timestamp(5));
        let failed = reactor.catch_up(&log);

        // then: a typed failure at that event, and the address is kept
        let failure = Failure {
            at: edsger_closed,
            checkpoint: grace_closed,
            reason: FailureReason::Handler(HandlerError::Unavailable {
                service: "the mail server".to_string(),
            }),
        };
        assert_eq!(failed, Err(failure));
        assert_eq!(view.len(), 1);

        // when: it is back
        server.set_down(false);
        reactor.catch_up(&log).expect("the server is up");

        // then: Edsger gets his goodbye, and no account is remembered
        assert_eq!(
            delivered_to(&server),
            vec![
                "grace@example.com".to_string(),
                "edsger@example.com".to_string()
            ]
        );
        assert_eq!(server.delivered()[1].subject, "Goodbye, Edsger");
        assert_eq!((view.len(), view.checkpoint()), (0, Some(edsger_closed)));
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 11.2: a goodbye reactor that knows old addresses but announces only new closings"
    )]
    fn exercise_11_2_a_closing_recorded_exactly_at_announce_after_is_not_announced() {
        // given: Ada opened at #1 and closed at #2, and a mailer deployed at #2
        let log = EventLog::new();
        let ada_closed = log.append(&account(1), vec![opened("Ada"), closed()], Timestamp(1));
        let server = MailServer::new();
        let mut mailer = GoodbyeMailer {
            server: server.clone(),
            announce_after: ada_closed,
        };

        // when: both events are handled
        let view = ViewStore::new();
        let mut tx = view.begin();
        let handled: Vec<Result<(), HandlerError>> = log
            .read_page(Position(0), PAGE_SIZE)
            .events
            .iter()
            .map(|recorded| mailer.handle(&mut tx, recorded))
            .collect();
        tx.commit(ada_closed);

        // then: #2 is at, not after, the deployment: no goodbye, and no row left
        assert_eq!(handled, vec![Ok(()), Ok(())]);
        assert_eq!((server.attempts(), view.len()), (0, 0));
    }

    fn positions(events: &[RecordedEvent]) -> Vec<u64> {
        events.iter().map(|e| e.position.0).collect()
    }

    /// `count` inserts begun on `log`, one account each.
    fn begin_many(log: &mut GapLog, count: u64) -> Vec<es_workbook::l11_subscriptions::Ticket> {
        (1..=count)
            .map(|n| log.begin(&account(n), Version(1), opened("Ada"), Timestamp(n)))
            .collect()
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 11.3: a reader that infers the high-water mark from what it sees"
    )]
    fn exercise_11_3_a_patient_reader_waits_for_a_slow_commit_within_its_patience() {
        // given: #1 in flight, #2 and #3 committed
        let mut log = GapLog::new();
        let mut tickets = begin_many(&mut log, 3).into_iter();
        let (first, second, third) = (
            tickets.next().expect("three"),
            tickets.next().expect("three"),
            tickets.next().expect("three"),
        );
        log.commit(second);
        log.commit(third);
        let mut reader = PatientReader::new(2);

        // when: two polls wait, then #1 commits
        let waiting = [reader.poll(&log), reader.poll(&log)];
        log.commit(first);
        let read = reader.poll(&log);

        // then
        assert_eq!(waiting.map(|events| events.len()), [0, 0]);
        assert_eq!(positions(&read), vec![1, 2, 3]);
        assert_eq!(reader.checkpoint(), Position(3));
        assert_eq!(reader.poll(&log), vec![]);
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 11.3: a reader that infers the high-water mark from what it sees"
    )]
    fn exercise_11_3_a_patient_reader_gives_each_hole_up_after_its_patience_and_never_reads_it() {
        // given: #1 and #3 in flight, #2 and #4 committed; patience 1
        let mut log = GapLog::new();
        let mut tickets = begin_many(&mut log, 5).into_iter();
        let mut next = || tickets.next().expect("five");
        let (first, second, third, fourth, fifth) = (next(), next(), next(), next(), next());
        log.commit(second);
        log.commit(fourth);
        let mut reader = PatientReader::new(1);

        // when / then: the first poll waits for #1
        assert_eq!(positions(&reader.poll(&log)), Vec::<u64>::new());
        assert_eq!(reader.checkpoint(), Position(0));
        // the second gives #1 up, reads #2, and starts waiting for #3
        assert_eq!(positions(&reader.poll(&log)), vec![2]);
        assert_eq!(reader.checkpoint(), Position(2));
        // #1 commits too late; the third poll gives #3 up and reads #4
        log.commit(first);
        assert_eq!(positions(&reader.poll(&log)), vec![4]);
        // #5 commits: read at once, no hole before it
        log.commit(fifth);
        assert_eq!(positions(&reader.poll(&log)), vec![5]);
        // #3 commits: below the checkpoint, never read; nothing repeats
        log.commit(third);
        assert_eq!(positions(&reader.poll(&log)), Vec::<u64>::new());
        assert_eq!(reader.checkpoint(), Position(5));
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 11.3: a reader that infers the high-water mark from what it sees"
    )]
    fn exercise_11_3_after_giving_a_hole_up_the_next_missing_position_is_waited_for_afresh() {
        // given: #1 and #2 rolled back, #3 committed; patience 1
        let mut log = GapLog::new();
        let mut tickets = begin_many(&mut log, 3).into_iter();
        let mut next = || tickets.next().expect("three");
        let (first, second, third) = (next(), next(), next());
        log.abort(first);
        log.abort(second);
        log.commit(third);
        let mut reader = PatientReader::new(1);

        // when / then: the first poll waits for #1
        assert_eq!(positions(&reader.poll(&log)), Vec::<u64>::new());
        assert_eq!(reader.checkpoint(), Position(0));
        // the second gives #1 up, and starts counting for #2, a hole of its own
        assert_eq!(positions(&reader.poll(&log)), Vec::<u64>::new());
        assert_eq!(reader.checkpoint(), Position(1));
        // the third gives #2 up and reads #3
        assert_eq!(positions(&reader.poll(&log)), vec![3]);
        assert_eq!(reader.checkpoint(), Position(3));
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 11.3: a reader that infers the high-water mark from what it sees"
    )]
    fn exercise_11_3_with_no_hole_a_patient_reader_reads_everything_visible_in_order() {
        // given: a run of committed inserts, and two more in flight at the end
        let mut log = GapLog::new();
        let tickets = begin_many(&mut log, 6);
        let mut tickets = tickets.into_iter();
        for _ in 0..4 {
            log.commit(tickets.next().expect("six"));
        }
        let mut reader = PatientReader::new(3);

        // when
        let read = reader.poll(&log);

        // then: nothing above #4 is visible, so nothing is waited for
        assert_eq!(positions(&read), vec![1, 2, 3, 4]);
        assert_eq!(reader.poll(&log), vec![]);
        for ticket in tickets {
            log.commit(ticket);
        }
        assert_eq!(positions(&reader.poll(&log)), vec![5, 6]);
    }
}
