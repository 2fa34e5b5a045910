//! Tests for lesson 12 — workflows, then its exercises.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, PoisonError};
use std::thread;

use pretty_assertions::assert_eq;

use es_workbook::l12_workflows::{
    AccountCommand, AccountError, AccountEvent, AccountId, AccountState, Appended, Cents, Clock,
    CommandError, CommandId, CommandKey, DriveError, Event, EventStore, ManualClock, MessageId,
    Notifier, Position, ProcessManager, RETRY_AFTER, Refusal, SharedStore, Step, StreamId,
    SubmitError, Submitted, TRANSFER_TIMEOUT, Timestamp, Transfer, TransferEvent, TransferOutcome,
    TransferState, Version, execute, load, load_transfer, submit,
};

const START: Timestamp = Timestamp(1_000);

fn account(id: &str) -> AccountId {
    AccountId::new(id)
}

fn id(id: &str) -> CommandId {
    CommandId::new(id)
}

fn transfer(from: &str, to: &str, cents: u64) -> Transfer {
    Transfer {
        from: account(from),
        to: account(to),
        amount: Cents(cents),
    }
}

fn open(store: &SharedStore, name: &str, cents: u64) {
    let owner = AccountCommand::OpenAccount {
        owner: name.into(),
        email: format!("{name}@example.com"),
    };
    execute(store, &account(name), &owner, &id(&format!("open {name}"))).expect("opens");
    if cents > 0 {
        let deposit = AccountCommand::DepositMoney {
            amount: Cents(cents),
        };
        execute(
            store,
            &account(name),
            &deposit,
            &id(&format!("fund {name}")),
        )
        .expect("funds");
    }
}

fn close(store: &SharedStore, name: &str) {
    let command = AccountCommand::CloseAccount;
    execute(
        store,
        &account(name),
        &command,
        &id(&format!("close {name}")),
    )
    .expect("closes");
}

/// A fresh store and clock, with ada's account opened holding `cents` and
/// grace's opened empty.
fn ada_holding_and_grace_opened(cents: u64) -> (SharedStore, ManualClock) {
    let (store, clock) = (SharedStore::default(), ManualClock::new(START));
    open(&store, "ada", cents);
    open(&store, "grace", 0);
    (store, clock)
}

/// Submits transfer `tx`, which must be accepted or already submitted.
fn submit_transfer(store: &SharedStore, clock: &ManualClock, tx: &str, transfer: Transfer) {
    submit(store, clock, &id(tx), &transfer).expect("submits");
}

/// Runs a fresh process manager until it has nothing left to do.
fn run_until_idle(store: &SharedStore, clock: &ManualClock) {
    ProcessManager::new(store, clock)
        .run_until_idle()
        .expect("runs");
}

fn balance(store: &SharedStore, name: &str) -> Option<Cents> {
    match load(&store.read().expect("not poisoned"), &account(name)).0 {
        AccountState::Open { balance } => Some(balance),
        _ => None,
    }
}

fn state(store: &SharedStore, tx: &str) -> TransferState {
    load_transfer(&store.read().expect("not poisoned"), &id(tx)).state
}

fn outcome(store: &SharedStore, tx: &str) -> Option<TransferOutcome> {
    match state(store, tx) {
        TransferState::Finished { outcome, .. } => Some(outcome),
        _ => None,
    }
}

// ANCHOR: movements
/// The money one transfer moved, read from the accounts' streams: each
/// movement names, as its cause, the claim that issued it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Movements {
    /// Withdrawn from the source by the debit step.
    pub debited: Cents,
    /// Deposited into the destination by the credit step.
    pub credited: Cents,
    /// Paid back into the source by the refund step.
    pub refunded: Cents,
}

impl Movements {
    /// The money that left the source and has not arrived anywhere yet.
    fn held(&self) -> i128 {
        i128::from(self.debited.0) - i128::from(self.credited.0) - i128::from(self.refunded.0)
    }
}

/// What every transfer moved, from one pass over the log.
fn movements(store: &EventStore) -> BTreeMap<CommandId, Movements> {
    let mut moved: BTreeMap<CommandId, Movements> = BTreeMap::new();
    for recorded in store.read_all(Position(0)) {
        let (
            MessageId::Event(stream @ StreamId::Transfer(id), claim),
            Event::Account(
                AccountEvent::MoneyDeposited { amount } | AccountEvent::MoneyWithdrawn { amount },
            ),
        ) = (&recorded.metadata.causation, &recorded.event)
        else {
            continue;
        };
        let claimed = store
            .read_stream(stream)
            .into_iter()
            .find(|r| r.version == *claim);
        let Some(Event::Transfer(TransferEvent::CommandIssued { step })) =
            claimed.map(|r| &r.event)
        else {
            continue;
        };
        let entry = moved.entry(id.clone()).or_default();
        let slot = match step {
            Step::Debit => &mut entry.debited,
            Step::Credit => &mut entry.credited,
            Step::Refund => &mut entry.refunded,
        };
        slot.0 += amount.0;
    }
    moved
}

// ANCHOR_END: movements

/// Whether each transfer moved exactly what its state says: a transfer
/// that completed moved its amount once, from source to destination; one
/// refunded took it and gave it back; one that ended with nothing moved
/// moved nothing; one still under way or needing attention holds at most
/// its amount. Returns the transfers that break this.
fn money_not_conserved(store: &EventStore) -> Vec<CommandId> {
    let moved = movements(store);
    let mut broken = Vec::new();
    for recorded in store.read_all(Position(0)) {
        let (StreamId::Transfer(id), Event::Transfer(TransferEvent::TransferRequested { .. })) =
            (&recorded.stream, &recorded.event)
        else {
            continue;
        };
        let m = moved.get(id).copied().unwrap_or_default();
        let (state, zero) = (load_transfer(store, id).state, Cents(0));
        let holds = match &state {
            TransferState::Finished { transfer, outcome } => {
                let amount = transfer.amount;
                match outcome {
                    TransferOutcome::Completed => {
                        m == Movements {
                            debited: amount,
                            credited: amount,
                            refunded: zero,
                        }
                    }
                    TransferOutcome::Refunded => {
                        m == Movements {
                            debited: amount,
                            credited: zero,
                            refunded: amount,
                        }
                    }
                    TransferOutcome::NeedsAttention(_) => {
                        m == Movements {
                            debited: amount,
                            credited: zero,
                            refunded: zero,
                        }
                    }
                    _ => m == Movements::default(),
                }
            }
            TransferState::Active { transfer, .. } => {
                m.debited <= transfer.amount
                    && (0..=i128::from(transfer.amount.0)).contains(&m.held())
            }
            TransferState::NotRequested => false,
        };
        if !holds {
            broken.push(id.clone());
        }
    }
    broken
}

fn moved(store: &SharedStore, tx: &str) -> Movements {
    let store = store.read().expect("not poisoned");
    movements(&store).get(&id(tx)).copied().unwrap_or_default()
}

fn conserved(store: &SharedStore) -> Vec<CommandId> {
    money_not_conserved(&store.read().expect("not poisoned"))
}

/// Every transfer moved exactly what its state says (see `money_not_conserved`).
#[track_caller]
fn assert_money_conserved(store: &SharedStore) {
    assert_eq!(conserved(store), Vec::<CommandId>::new());
}

fn transfer_events(store: &SharedStore, tx: &str) -> Vec<TransferEvent> {
    let store = store.read().expect("not poisoned");
    (store.read_stream(&StreamId::Transfer(id(tx))).into_iter())
        .filter_map(|r| match &r.event {
            Event::Transfer(event) => Some(event.clone()),
            Event::Account(_) => None,
        })
        .collect()
}

fn account_events(store: &SharedStore, name: &str) -> Vec<AccountEvent> {
    let store = store.read().expect("not poisoned");
    (store
        .read_stream(&StreamId::Account(account(name)))
        .into_iter())
    .filter_map(|r| match &r.event {
        Event::Account(event) => Some(event.clone()),
        Event::Transfer(_) => None,
    })
    .collect()
}

fn moved_once(cents: u64) -> Movements {
    Movements {
        debited: Cents(cents),
        credited: Cents(cents),
        refunded: Cents(0),
    }
}

fn moved_back(cents: u64) -> Movements {
    Movements {
        debited: Cents(cents),
        credited: Cents(0),
        refunded: Cents(cents),
    }
}

// ANCHOR: twice_test
#[test]
fn a_transfer_submitted_twice_is_claimed_once_and_moves_the_money_once() {
    // given
    let (store, clock) = ada_holding_and_grace_opened(10_000);
    let tx = transfer("ada", "grace", 30_00);

    // when: the client sends it, the system runs, and the client sends it again
    let first = submit(&store, &clock, &id("tx-1"), &tx);
    run_until_idle(&store, &clock);
    let second = submit(&store, &clock, &id("tx-1"), &tx);
    run_until_idle(&store, &clock);

    // then
    assert_eq!(first, Ok(Submitted::Accepted));
    assert_eq!(second, Ok(Submitted::AlreadySubmitted));
    assert_eq!(outcome(&store, "tx-1"), Some(TransferOutcome::Completed));
    assert_eq!(moved(&store, "tx-1"), moved_once(30_00));
    assert_eq!(
        (balance(&store, "ada"), balance(&store, "grace")),
        (Some(Cents(70_00)), Some(Cents(30_00)))
    );
    let requested = transfer_events(&store, "tx-1")
        .into_iter()
        .filter(|e| matches!(e, TransferEvent::TransferRequested { .. }))
        .count();
    assert_eq!(requested, 1);
}
// ANCHOR_END: twice_test

// ANCHOR: race_test
#[test]
fn retries_racing_on_threads_claim_the_transfer_once_and_conserve_money() {
    for round in 0..200 {
        // given: three copies of one submission, each followed by its own
        // driver, released together
        let (store, clock) = ada_holding_and_grace_opened(10_000);
        let tx = transfer("ada", "grace", 30_00);
        let start = Barrier::new(3);

        // when
        let answers: Vec<Result<Submitted, SubmitError>> = thread::scope(|s| {
            let handles: Vec<_> = (0..3)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        let answer = submit(&store, &clock, &id("tx-1"), &tx);
                        let mut manager = ProcessManager::new(&store, &clock);
                        manager.run_until_idle().expect("no driver fails");
                        assert_eq!(manager.lost_claims(), Vec::<CommandId>::new());
                        answer
                    })
                })
                .collect();
            (handles.into_iter())
                .map(|h| h.join().expect("no thread panics"))
                .collect()
        });

        // then
        let accepted = answers.iter().filter(|a| **a == Ok(Submitted::Accepted));
        let repeated = answers
            .iter()
            .filter(|a| **a == Ok(Submitted::AlreadySubmitted));
        assert_eq!(
            (accepted.count(), repeated.count()),
            (1, 2),
            "round {round}"
        );
        assert_eq!(outcome(&store, "tx-1"), Some(TransferOutcome::Completed));
        assert_eq!(moved(&store, "tx-1"), moved_once(30_00), "round {round}");
        assert_eq!(
            (balance(&store, "ada"), balance(&store, "grace")),
            (Some(Cents(70_00)), Some(Cents(30_00))),
            "round {round}"
        );
        assert_money_conserved(&store);
    }
}
// ANCHOR_END: race_test

#[test]
fn an_id_reused_for_another_transfer_or_command_is_refused_and_moves_nothing() {
    // given: tx-1 is under way, and a client used "dep-9" for a deposit
    let (store, clock) = ada_holding_and_grace_opened(10_000);
    open(&store, "linus", 0);
    submit_transfer(&store, &clock, "tx-1", transfer("ada", "grace", 30_00));
    let deposit = AccountCommand::DepositMoney { amount: Cents(1) };
    execute(&store, &account("grace"), &deposit, &id("dep-9")).expect("deposits");

    // when
    let other_amount = submit(
        &store,
        &clock,
        &id("tx-1"),
        &transfer("ada", "grace", 99_00),
    );
    let other_destination = submit(
        &store,
        &clock,
        &id("tx-1"),
        &transfer("ada", "linus", 30_00),
    );
    let other_source = submit(
        &store,
        &clock,
        &id("tx-1"),
        &transfer("grace", "linus", 30_00),
    );
    let a_deposits_id = submit(
        &store,
        &clock,
        &id("dep-9"),
        &transfer("ada", "linus", 5_00),
    );
    let a_transfers_id = execute(&store, &account("ada"), &deposit, &id("tx-1"));
    run_until_idle(&store, &clock);

    // then
    let reused = |tx: &str| Err(SubmitError::IdReused { id: id(tx) });
    assert_eq!(other_amount, reused("tx-1"));
    assert_eq!(other_destination, reused("tx-1"));
    assert_eq!(other_source, reused("tx-1"));
    assert_eq!(a_deposits_id, reused("dep-9"));
    assert_eq!(
        a_transfers_id,
        Err(CommandError::IdempotencyKeyReused {
            key: CommandKey::Client(id("tx-1"))
        })
    );
    assert_eq!(state(&store, "dep-9"), TransferState::NotRequested);
    assert_eq!(moved(&store, "tx-1"), moved_once(30_00));
    assert_eq!(
        [
            balance(&store, "ada"),
            balance(&store, "grace"),
            balance(&store, "linus")
        ],
        [Some(Cents(70_00)), Some(Cents(30_01)), Some(Cents(0))]
    );
    assert_eq!(
        submit(&store, &clock, &id("tx-2"), &transfer("ada", "ada", 1)),
        Err(SubmitError::SameAccount)
    );
    assert_eq!(
        submit(&store, &clock, &id("tx-2"), &transfer("ada", "grace", 0)),
        Err(SubmitError::ZeroAmount)
    );
}

#[test]
fn a_client_id_spelled_like_a_step_cannot_take_the_place_of_the_transfers_own_commands() {
    // given: before tx-1 exists, a client withdraws under ids that look
    // like its steps
    let (store, clock) = ada_holding_and_grace_opened(10_000);
    let withdraw = AccountCommand::WithdrawMoney {
        amount: Cents(30_00),
    };
    for lookalike in ["tx-1 (debit step, claim v2)", "tx-1/debit", "tx-1:Debit"] {
        execute(&store, &account("ada"), &withdraw, &id(lookalike)).expect("a client withdrawal");
    }

    // when
    submit_transfer(&store, &clock, "tx-1", transfer("ada", "grace", 10_00));
    run_until_idle(&store, &clock);

    // then: the transfer made its own debit; nothing was skipped
    assert_eq!(outcome(&store, "tx-1"), Some(TransferOutcome::Completed));
    assert_eq!(moved(&store, "tx-1"), moved_once(10_00));
    assert_eq!(
        (balance(&store, "ada"), balance(&store, "grace")),
        (Some(Cents(0)), Some(Cents(10_00)))
    );
}

/// The stories the stop test runs: a transfer that completes, one refunded
/// because the destination is closed, one refunded after it timed out, and
/// one whose debit is refused.
fn story(path: &str) -> (SharedStore, Transfer) {
    let store = SharedStore::default();
    open(&store, "ada", 50_00);
    open(&store, "grace", 0);
    open(&store, "linus", 0);
    close(&store, "linus");
    let tx = match path {
        "completes" => transfer("ada", "grace", 30_00),
        "destination closed" => transfer("ada", "linus", 30_00),
        "times out" => transfer("ada", "nobody", 30_00),
        _ => transfer("ada", "grace", 80_00),
    };
    (store, tx)
}

/// Runs the process manager as the example does: until idle, then past the
/// deadline, until idle. `manager` may be told to stop; the returned flag
/// says whether the clock had moved when it stopped.
fn drive(
    manager: &mut ProcessManager<'_, ManualClock>,
    clock: &ManualClock,
    moved_clock: &mut bool,
) -> Result<(), DriveError> {
    if !*moved_clock {
        manager.run_until_idle()?;
        clock.advance(TRANSFER_TIMEOUT);
        *moved_clock = true;
    }
    manager.run_until_idle()
}

// ANCHOR: stop_test
#[test]
fn a_stop_between_any_two_writes_is_resumed_from_the_transfers_stream_and_finishes_the_same() {
    for path in [
        "completes",
        "destination closed",
        "times out",
        "debit refused",
    ] {
        // given: the run without a stop
        let (reference, tx) = story(path);
        let clock = ManualClock::new(START);
        submit(&reference, &clock, &id("tx-1"), &tx).expect("submits");
        drive(
            &mut ProcessManager::new(&reference, &clock),
            &clock,
            &mut false,
        )
        .expect("runs");
        let expected = (state(&reference, "tx-1"), account_events(&reference, "ada"));

        let mut stops = 0;
        for writes in 0.. {
            let (store, tx) = story(path);
            let clock = ManualClock::new(START);
            submit(&store, &clock, &id("tx-1"), &tx).expect("submits");
            let mut moved_clock = false;

            // when: the process stops before write number `writes + 1`,
            // and a new one starts, recovers and carries on
            let stopped = {
                let mut manager = ProcessManager::new(&store, &clock).stop_after(writes);
                drive(&mut manager, &clock, &mut moved_clock)
            };
            if stopped.is_ok() {
                break;
            }
            assert_eq!(stopped, Err(DriveError::Stopped));
            stops += 1;
            let mut restarted = ProcessManager::new(&store, &clock);
            restarted.recover().expect("recovers");
            drive(&mut restarted, &clock, &mut moved_clock).expect("finishes");
            assert_eq!(restarted.lost_claims(), Vec::<CommandId>::new(), "{path}");

            // then
            let reached = (state(&store, "tx-1"), account_events(&store, "ada"));
            assert_eq!(reached, expected, "{path}, stopped after {writes} writes");
            assert_eq!(conserved(&store), Vec::<CommandId>::new(), "{path}");
        }
        // every stop point was visited: three writes (claim, command,
        // outcome) per step tried, and one for a timeout
        let expected_stops = match path {
            "completes" => 6,
            "destination closed" => 9,
            "times out" => 10,
            _ => 3,
        };
        assert_eq!(stops, expected_stops, "{path}");
    }
}
// ANCHOR_END: stop_test

#[test]
fn a_closed_destination_is_compensated_by_a_refund_and_the_history_keeps_both_facts() {
    // given
    let (store, tx) = story("destination closed");
    let clock = ManualClock::new(START);

    // when
    submit(&store, &clock, &id("tx-1"), &tx).expect("submits");
    run_until_idle(&store, &clock);

    // then: no time had to pass: a closed account never takes a deposit
    assert_eq!(outcome(&store, "tx-1"), Some(TransferOutcome::Refunded));
    assert_eq!(moved(&store, "tx-1"), moved_back(30_00));
    assert_eq!(
        account_events(&store, "ada")[2..],
        [
            AccountEvent::MoneyWithdrawn {
                amount: Cents(30_00)
            },
            AccountEvent::MoneyDeposited {
                amount: Cents(30_00)
            },
        ]
    );
    let refused = TransferEvent::StepRefused {
        step: Step::Credit,
        refusal: Refusal::Rejected(AccountError::Closed),
        at: START,
    };
    assert!(transfer_events(&store, "tx-1").contains(&refused));
}

#[test]
fn a_credit_to_an_account_not_open_yet_is_retried_on_the_injected_clock_until_the_deadline() {
    // given: a transfer to an account nobody has opened yet
    let (store, clock) = (SharedStore::default(), ManualClock::new(START));
    open(&store, "ada", 50_00);
    submit_transfer(&store, &clock, "tx-1", transfer("ada", "late", 10_00));
    submit_transfer(&store, &clock, "tx-2", transfer("ada", "never", 10_00));
    let mut manager = ProcessManager::new(&store, &clock);
    manager.run_until_idle().expect("runs");
    let waiting = transfer_events(&store, "tx-1").len();

    // when: just before the retry time nothing happens
    clock.advance(RETRY_AFTER - 1);
    let early = manager.tick().expect("ticks");

    // then
    assert_eq!(early, 0);
    assert_eq!(transfer_events(&store, "tx-1").len(), waiting);

    // when: "late" opens, and the retry time comes
    open(&store, "late", 0);
    clock.advance(1);
    manager.run_until_idle().expect("runs");

    // then: tx-1 completes on its retry; tx-2 tried again and waits on
    assert_eq!(outcome(&store, "tx-1"), Some(TransferOutcome::Completed));
    assert_eq!(outcome(&store, "tx-2"), None);
    assert_eq!(moved(&store, "tx-2").debited, Cents(10_00));

    // when: the deadline comes
    clock.advance(TRANSFER_TIMEOUT - RETRY_AFTER);
    manager.run_until_idle().expect("runs");

    // then
    assert_eq!(outcome(&store, "tx-2"), Some(TransferOutcome::Refunded));
    assert_eq!(moved(&store, "tx-2"), moved_back(10_00));
    let timed_out = TransferEvent::TransferTimedOut {
        at: Timestamp(START.0 + TRANSFER_TIMEOUT),
    };
    assert!(transfer_events(&store, "tx-2").contains(&timed_out));
    assert_eq!(balance(&store, "ada"), Some(Cents(40_00)));
}

#[test]
fn a_transfer_not_debited_by_its_deadline_expires_and_moves_nothing() {
    // given: the system was down while the deadline passed
    let (store, clock) = ada_holding_and_grace_opened(50_00);
    submit_transfer(&store, &clock, "tx-1", transfer("ada", "grace", 10_00));
    clock.advance(TRANSFER_TIMEOUT);

    // when
    ProcessManager::new(&store, &clock)
        .recover()
        .expect("recovers");

    // then
    assert_eq!(outcome(&store, "tx-1"), Some(TransferOutcome::Expired));
    assert_eq!(moved(&store, "tx-1"), Movements::default());
    assert_eq!(balance(&store, "ada"), Some(Cents(50_00)));
}

#[test]
fn a_step_another_driver_claimed_is_left_to_it_until_the_deadline_then_resent_never_timed_out() {
    // given: driver A claimed the debit, then stopped before sending it
    let (store, clock) = ada_holding_and_grace_opened(50_00);
    submit_transfer(&store, &clock, "tx-1", transfer("ada", "grace", 10_00));
    let stopped = ProcessManager::new(&store, &clock)
        .stop_after(1)
        .run_until_idle();
    let claimed = transfer_events(&store, "tx-1");

    // when: driver B runs before the deadline, then at it
    let mut other = ProcessManager::new(&store, &clock);
    let before = other.tick().expect("ticks");
    let untouched = transfer_events(&store, "tx-1");
    clock.advance(TRANSFER_TIMEOUT);
    other.run_until_idle().expect("runs");

    // then: before the deadline B wrote nothing; at it, B sent the claimed
    // debit again (it was not timed out: it may have landed), and the
    // credit, past its deadline, was not sent: the money went back
    assert_eq!(stopped, Err(DriveError::Stopped));
    assert_eq!((before, &untouched), (0, &claimed));
    assert_eq!(
        claimed.last(),
        Some(&TransferEvent::CommandIssued { step: Step::Debit })
    );
    assert_eq!(
        transfer_events(&store, "tx-1").get(2),
        Some(&TransferEvent::StepSucceeded { step: Step::Debit })
    );
    assert_eq!(outcome(&store, "tx-1"), Some(TransferOutcome::Refunded));
    assert_eq!(moved(&store, "tx-1"), moved_back(10_00));
}

#[test]
fn a_refund_the_source_refuses_leaves_the_money_held_by_the_transfer_for_a_person() {
    // given: the debit empties ada's account, and ada closes it before the
    // credit to a closed account is refused
    let (store, clock) = (SharedStore::default(), ManualClock::new(START));
    open(&store, "ada", 20_00);
    open(&store, "linus", 0);
    close(&store, "linus");
    submit_transfer(&store, &clock, "tx-1", transfer("ada", "linus", 20_00));
    let debited = ProcessManager::new(&store, &clock)
        .stop_after(3)
        .run_until_idle();
    close(&store, "ada");

    // when
    ProcessManager::new(&store, &clock)
        .recover()
        .expect("recovers");

    // then
    assert_eq!(debited, Err(DriveError::Stopped));
    assert_eq!(
        outcome(&store, "tx-1"),
        Some(TransferOutcome::NeedsAttention(AccountError::Closed))
    );
    let held = moved(&store, "tx-1");
    assert_eq!(
        (held, held.held()),
        (
            Movements {
                debited: Cents(20_00),
                credited: Cents(0),
                refunded: Cents(0)
            },
            20_00
        )
    );
    assert_money_conserved(&store);
}

#[test]
fn every_event_of_a_transfer_carries_its_correlation_and_its_direct_cause() {
    // given
    let (store, clock) = ada_holding_and_grace_opened(50_00);
    submit_transfer(&store, &clock, "tx-1", transfer("ada", "grace", 10_00));
    run_until_idle(&store, &clock);
    let mut notifier = Notifier::default();
    notifier.catch_up(&store).expect("catches up");

    // when
    let guard = store.read().expect("not poisoned");
    let causes: Vec<(String, String)> = (guard.read_all(es_workbook::l12_workflows::Position(0)))
        .iter()
        .filter(|r| r.metadata.correlation == id("tx-1"))
        .map(|r| (r.id().to_string(), r.metadata.causation.to_string()))
        .collect();

    // then
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        causes,
        [
            pair(r#"transfer "tx-1" v1"#, r#"command client "tx-1""#),
            pair(r#"transfer "tx-1" v2"#, r#"transfer "tx-1" v1"#),
            pair(r#"account "ada" v3"#, r#"transfer "tx-1" v2"#),
            pair(r#"transfer "tx-1" v3"#, r#"account "ada" v3"#),
            pair(r#"transfer "tx-1" v4"#, r#"transfer "tx-1" v3"#),
            pair(r#"account "grace" v2"#, r#"transfer "tx-1" v4"#),
            pair(r#"transfer "tx-1" v5"#, r#"account "grace" v2"#),
        ]
    );
    let notification = notifier.sent.get(&id("tx-1")).expect("notified");
    assert_eq!(
        notification.metadata.causation,
        MessageId::Event(StreamId::Transfer(id("tx-1")), Version(5))
    );
}

#[test]
fn the_reactor_notifies_each_finished_transfer_once_however_often_it_reads() {
    // given
    let (store, clock) = ada_holding_and_grace_opened(50_00);
    submit_transfer(&store, &clock, "tx-1", transfer("ada", "grace", 10_00));
    submit_transfer(&store, &clock, "tx-2", transfer("ada", "nobody", 10_00));
    let mut manager = ProcessManager::new(&store, &clock);
    let mut notifier = Notifier::default();

    // when
    manager.run_until_idle().expect("runs");
    let first = notifier.catch_up(&store).expect("catches up");
    let again = notifier.catch_up(&store).expect("catches up");
    clock.advance(TRANSFER_TIMEOUT);
    manager.run_until_idle().expect("runs");
    let later = notifier.catch_up(&store).expect("catches up");

    // then: tx-1 when it completed, tx-2 only once it was refunded
    assert_eq!((first, again, later), (1, 0, 1));
    let texts: Vec<&str> = notifier.sent.values().map(|n| n.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "your transfer tx-1 of 10.00 to grace: completed",
            "your transfer tx-2 of 10.00 to nobody: refunded",
        ]
    );
}

/// What the clients do: set up accounts, then submit transfers.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Scenario {
    /// When the run starts.
    start: Timestamp,
    /// Commands per account, run in order for each account.
    accounts: Vec<(AccountId, Vec<(CommandId, AccountCommand)>)>,
    /// Transfers, each submitted twice (a client retry).
    transfers: Vec<(CommandId, Transfer)>,
}

/// What a run leaves behind, in a form two runs can be compared in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FinalState {
    /// Every account named in the scenario.
    accounts: BTreeMap<AccountId, AccountState>,
    /// Every transfer.
    transfers: BTreeMap<CommandId, TransferState>,
    /// What each transfer's source owner was told.
    notifications: BTreeMap<CommandId, String>,
}

/// Why a run stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RunError {
    /// A setup command failed.
    Setup(CommandError),
    /// A transfer could not be submitted.
    Submit(SubmitError),
    /// The process manager or the reactor stopped.
    Drive(DriveError),
    /// A thread of the run panicked.
    ThreadPanicked,
}

// ANCHOR: run_sync
/// Runs `scenario` on the calling thread: the setup, every transfer
/// submitted twice, the process manager until it is idle, the clock moved
/// past every deadline, the process manager again, and the reactor.
///
/// # Errors
///
/// The first [`RunError`].
fn run_on_one_thread(scenario: &Scenario) -> Result<(SharedStore, FinalState), RunError> {
    let store = SharedStore::default();
    let clock = ManualClock::new(scenario.start);
    for (account, commands) in &scenario.accounts {
        for (id, command) in commands {
            execute(&store, account, command, id).map_err(RunError::Setup)?;
        }
    }
    let mut notifier = Notifier::default();
    let mut manager = ProcessManager::new(&store, &clock);
    for _retry in 0..2 {
        for (id, transfer) in &scenario.transfers {
            submit(&store, &clock, id, transfer).map_err(RunError::Submit)?;
        }
    }
    manager.run_until_idle().map_err(RunError::Drive)?;
    clock.advance(TRANSFER_TIMEOUT);
    manager.run_until_idle().map_err(RunError::Drive)?;
    notifier.catch_up(&store).map_err(RunError::Drive)?;
    let state = final_state(&store, scenario, &notifier)?;
    Ok((store, state))
}
// ANCHOR_END: run_sync

/// Runs `scenario` on threads: one per account for the setup; then two
/// client threads that each submit every transfer (in opposite orders),
/// racing `drivers` process-manager threads that all drive all transfers,
/// and a reactor thread; then the clock moves past every deadline and the
/// drivers and the reactor run again. Every group starts at a barrier.
///
/// # Errors
///
/// The first [`RunError`]; a panicked thread is reported as such.
fn run_on_threads(
    scenario: &Scenario,
    drivers: usize,
) -> Result<(SharedStore, FinalState), RunError> {
    let store = SharedStore::default();
    let clock = ManualClock::new(scenario.start);
    let setup = Barrier::new(scenario.accounts.len());
    thread::scope(|s| {
        let handles: Vec<_> = (scenario.accounts.iter())
            .map(|(account, commands)| {
                let (store, setup) = (&store, &setup);
                s.spawn(move || {
                    setup.wait();
                    for (id, command) in commands {
                        execute(store, account, command, id)?;
                    }
                    Ok(())
                })
            })
            .collect();
        join_all(handles, RunError::Setup)
    })?;
    let mut notifier = Notifier::default();
    for phase in 0..2 {
        if phase == 1 {
            clock.advance(TRANSFER_TIMEOUT);
        }
        let clients = if phase == 0 { 2 } else { 0 };
        let clients_done = AtomicBool::new(clients == 0);
        let drivers_done = AtomicBool::new(false);
        let start = Barrier::new(clients + drivers + 1);
        thread::scope(|s| {
            let submitted: Vec<_> = (0..clients)
                .map(|client| {
                    let (store, clock, start) = (&store, &clock, &start);
                    s.spawn(move || {
                        start.wait();
                        let mut order: Vec<_> = scenario.transfers.iter().collect();
                        if client == 1 {
                            order.reverse();
                        }
                        for (id, transfer) in order {
                            submit(store, clock, id, transfer)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            let driven: Vec<_> = (0..drivers)
                .map(|_| {
                    let (store, clock, start, done) = (&store, &clock, &start, &clients_done);
                    s.spawn(move || {
                        let mut manager = ProcessManager::new(store, clock);
                        start.wait();
                        drive_until_quiet(&mut manager, done)
                    })
                })
                .collect();
            let reactor = s.spawn(|| {
                start.wait();
                while !drivers_done.load(Ordering::SeqCst) {
                    if notifier.catch_up(&store)? == 0 {
                        thread::yield_now();
                    }
                }
                notifier.catch_up(&store).map(|_| ())
            });
            let submitted = join_all(submitted, RunError::Submit);
            clients_done.store(true, Ordering::SeqCst);
            let driven = join_all(driven, RunError::Drive);
            drivers_done.store(true, Ordering::SeqCst);
            let reacted = join_all(vec![reactor], RunError::Drive);
            submitted.and(driven).and(reacted)
        })?;
    }
    let state = final_state(&store, scenario, &notifier)?;
    Ok((store, state))
}

// ANCHOR: run_threads
/// Ticks until a tick that began after the clients finished writes nothing.
/// Another driver may still be finishing a step then; it keeps going until
/// its own tick is quiet.
fn drive_until_quiet(
    manager: &mut ProcessManager<'_, ManualClock>,
    clients_done: &AtomicBool,
) -> Result<(), DriveError> {
    loop {
        let no_more_transfers = clients_done.load(Ordering::SeqCst);
        let writes = manager.tick()?;
        if writes == 0 {
            if no_more_transfers {
                return Ok(());
            }
            thread::yield_now();
        }
    }
}
// ANCHOR_END: run_threads

/// Joins every thread, and returns the first error: a panic, or what a
/// thread returned.
fn join_all<E>(
    handles: Vec<thread::ScopedJoinHandle<'_, Result<(), E>>>,
    wrap: fn(E) -> RunError,
) -> Result<(), RunError> {
    let mut first = Ok(());
    for handle in handles {
        let result = match handle.join() {
            Ok(result) => result.map_err(wrap),
            Err(_) => Err(RunError::ThreadPanicked),
        };
        first = first.and(result);
    }
    first
}

fn final_state(
    store: &SharedStore,
    scenario: &Scenario,
    notifier: &Notifier,
) -> Result<FinalState, RunError> {
    let store = store
        .read()
        .map_err(|_: PoisonError<_>| RunError::Drive(DriveError::StorePoisoned))?;
    let mut accounts = BTreeMap::new();
    let named = scenario.transfers.iter().map(|(_, t)| &t.to);
    for account in scenario.accounts.iter().map(|(a, _)| a).chain(named) {
        accounts.insert(account.clone(), load(&store, account).0);
    }
    let transfers = (scenario.transfers.iter())
        .map(|(id, _)| (id.clone(), load_transfer(&store, id).state))
        .collect();
    let notifications = (notifier.sent.iter())
        .map(|(id, n)| (id.clone(), format!("to {}: {}", n.to, n.text)))
        .collect();
    Ok(FinalState {
        accounts,
        transfers,
        notifications,
    })
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Setup(error) => write!(f, "a setup command failed: {error}"),
            RunError::Submit(error) => write!(f, "a submission failed: {error}"),
            RunError::Drive(error) => write!(f, "the process manager stopped: {error}"),
            RunError::ThreadPanicked => f.write_str("a thread of the run panicked"),
        }
    }
}

impl std::error::Error for RunError {}

/// Thirteen accounts and transfers in both directions, to closed and missing
/// accounts, and beyond what a source holds: every source holds enough for
/// all it sends whatever arrives first, so the outcome does not depend on
/// the order in which threads run.
fn busy_scenario() -> Scenario {
    let open = |name: &str| AccountCommand::OpenAccount {
        owner: name.into(),
        email: format!("{name}@example.com"),
    };
    let mut accounts = Vec::new();
    for n in 0..12 {
        let name = format!("acc-{n}");
        let mut commands = vec![(id(&format!("open {name}")), open(&name))];
        if n == 11 {
            commands.push((id("close acc-11"), AccountCommand::CloseAccount));
        } else {
            let amount = Cents(100_000);
            let deposit = AccountCommand::DepositMoney { amount };
            commands.push((id(&format!("fund {name}")), deposit));
        }
        accounts.push((account(&name), commands));
    }
    let poor = vec![
        (id("open poor"), open("poor")),
        (
            id("fund poor"),
            AccountCommand::DepositMoney {
                amount: Cents(5_00),
            },
        ),
    ];
    accounts.push((account("poor"), poor));
    let mut transfers = Vec::new();
    for n in 0..40u64 {
        let from = format!("acc-{}", n % 10);
        let to = match n % 8 {
            0 => "acc-11".to_string(),
            1 => "missing".to_string(),
            _ => format!("acc-{}", (n * 7 + 3) % 11),
        };
        let to = if to == from { "acc-10".to_string() } else { to };
        // "poor" is never a destination, so its refusal names the same
        // balance in every run
        let (from, cents) = if n % 13 == 5 {
            ("poor".to_string(), 500_000)
        } else {
            (from, 10_00 + n)
        };
        transfers.push((id(&format!("tx-{n}")), transfer(&from, &to, cents)));
    }
    Scenario {
        start: START,
        accounts,
        transfers,
    }
}

// ANCHOR: same_state_test
#[test]
fn the_system_on_one_thread_and_on_several_threads_reaches_the_same_final_state() {
    // given
    let scenario = busy_scenario();
    let (store, expected) = run_on_one_thread(&scenario).expect("runs on one thread");
    assert_money_conserved(&store);

    for round in 0..10 {
        // when
        let (store, reached) = run_on_threads(&scenario, 4).expect("runs on threads");

        // then
        assert_eq!(reached, expected, "round {round}");
        assert_eq!(conserved(&store), Vec::<CommandId>::new(), "round {round}");
    }
    let outcomes: Vec<String> = (expected.transfers.values())
        .map(|state| match state {
            TransferState::Finished { outcome, .. } => outcome.to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    for kind in ["completed", "refunded", "rejected: insufficient funds"] {
        assert!(
            outcomes.iter().any(|o| o.starts_with(kind)),
            "the scenario has a transfer that ends {kind}"
        );
    }
}
// ANCHOR_END: same_state_test

#[test]
fn the_store_refuses_a_stale_append_and_the_clock_moves_only_when_told() {
    // given
    let mut store = EventStore::new();
    let clock = ManualClock::new(START);
    let stream = StreamId::Transfer(id("tx-1"));
    let metadata = es_workbook::l12_workflows::Metadata {
        correlation: id("tx-1"),
        causation: MessageId::Command(CommandKey::Client(id("tx-1"))),
    };
    let event = || Event::Transfer(TransferEvent::TransferCancelled);
    use es_workbook::l12_workflows::{AppendError, Appended, ExpectedVersion};

    // when
    let first = store.append(
        &stream,
        ExpectedVersion::NoStream,
        vec![event()],
        &metadata,
        None,
    );
    let again = store.append(
        &stream,
        ExpectedVersion::NoStream,
        vec![event()],
        &metadata,
        None,
    );
    let stale = store.append(
        &stream,
        ExpectedVersion::Exact(Version(0)),
        vec![event()],
        &metadata,
        None,
    );

    // then
    assert_eq!(first, Ok(Appended::Now(Version(1))));
    let conflict = |expected| AppendError::VersionConflict {
        expected,
        actual: Version(1),
    };
    assert_eq!(again, Err(conflict(ExpectedVersion::NoStream)));
    assert_eq!(stale, Err(conflict(ExpectedVersion::Exact(Version(0)))));
    assert_eq!(clock.now(), START);
    clock.advance(5);
    assert_eq!(clock.now(), Timestamp(START.0 + 5));
}

/// A clock for one driver that holds it the first time it asks the time
/// (in a resend, just before the command goes to the account) until the
/// test lets it go.
struct Gate<'a> {
    clock: &'a ManualClock,
    asked: std::sync::atomic::AtomicBool,
    arrived: Barrier,
    released: Barrier,
}

impl<'a> Gate<'a> {
    fn new(clock: &'a ManualClock) -> Self {
        Gate {
            clock,
            asked: std::sync::atomic::AtomicBool::new(false),
            arrived: Barrier::new(2),
            released: Barrier::new(2),
        }
    }
}

impl Clock for Gate<'_> {
    fn now(&self) -> Timestamp {
        if !self.asked.swap(true, std::sync::atomic::Ordering::SeqCst) {
            self.arrived.wait();
            self.released.wait();
        }
        self.clock.now()
    }
}

/// Submits ada → grace (10.00) and runs a driver that claims the credit and
/// dies before sending it: the credit is in flight with nobody.
fn credit_claimed_by_a_dead_driver(grace_open: bool) -> (SharedStore, ManualClock) {
    let (store, clock) = (SharedStore::default(), ManualClock::new(START));
    open(&store, "ada", 50_00);
    if grace_open {
        open(&store, "grace", 0);
    }
    submit_transfer(&store, &clock, "tx-1", transfer("ada", "grace", 10_00));
    let died = ProcessManager::new(&store, &clock)
        .stop_after(4)
        .run_until_idle();
    assert_eq!(died, Err(DriveError::Stopped));
    (store, clock)
}

#[test]
fn two_drivers_resending_one_claimed_credit_get_one_answer_and_create_no_money() {
    // given: the credit to grace (not open yet) is claimed by a dead driver
    let (store, clock) = credit_claimed_by_a_dead_driver(false);
    let gate = Gate::new(&clock);

    // when: R2 reads the claim and is held just before it resends; R1
    // resends it (grace refuses) and records the refusal; grace opens; R2
    // goes on and resends the same claim
    let (r1, r2) = thread::scope(|s| {
        let r2 = s.spawn(|| ProcessManager::new(&store, &gate).recover());
        gate.arrived.wait();
        let r1 = ProcessManager::new(&store, &clock).recover();
        open(&store, "grace", 0);
        gate.released.wait();
        (r1, r2.join().expect("R2 did not panic"))
    });
    clock.advance(TRANSFER_TIMEOUT);
    ProcessManager::new(&store, &clock)
        .recover()
        .expect("recovers");

    // then: R2 got R1's answer; nothing reached grace; the refund returned
    // the money, once
    assert_eq!((r1, r2), (Ok(()), Ok(())));
    assert_eq!(
        (balance(&store, "ada"), balance(&store, "grace")),
        (Some(Cents(50_00)), Some(Cents(0)))
    );
    assert_eq!(outcome(&store, "tx-1"), Some(TransferOutcome::Refunded));
    assert_money_conserved(&store);
}

#[test]
fn an_event_appended_to_a_transfer_between_a_claim_and_its_outcome_is_a_lost_claim() {
    // given: the credit is claimed by a dead driver; R reads the claim and
    // is held just before it resends
    let (store, clock) = credit_claimed_by_a_dead_driver(true);
    let gate = Gate::new(&clock);

    // when: something else appends to the transfer's stream meanwhile
    let resent = thread::scope(|s| {
        let resend = s.spawn(|| {
            let mut resender = ProcessManager::new(&store, &gate);
            (resender.recover(), resender.lost_claims())
        });
        gate.arrived.wait();
        let metadata = es_workbook::l12_workflows::Metadata {
            correlation: id("tx-1"),
            causation: MessageId::Command(CommandKey::Client(id("intruder"))),
        };
        let intruder = Event::Transfer(TransferEvent::TransferTimedOut { at: START });
        (store.write().expect("not poisoned"))
            .append(
                &StreamId::Transfer(id("tx-1")),
                es_workbook::l12_workflows::ExpectedVersion::Exact(Version(4)),
                vec![intruder],
                &metadata,
                None,
            )
            .expect("appends after the claim");
        gate.released.wait();
        resend.join().expect("R did not panic")
    });

    // then: the resender set the transfer aside and reports it
    assert_eq!(resent, (Ok(()), vec![id("tx-1")]));
}

#[test]
fn a_busy_answer_is_recorded_and_the_step_is_claimed_again_at_once_under_a_new_key() {
    // given: the credit is claimed by a dead driver, and its key already
    // holds the answer "busy", as when every attempt lost a race
    let (store, clock) = credit_claimed_by_a_dead_driver(true);
    let deposit = AccountCommand::DepositMoney {
        amount: Cents(10_00),
    };
    let claim = CommandKey::Transfer(id("tx-1"), Step::Credit, Version(4));
    (store.write().expect("not poisoned"))
        .refuse(
            &StreamId::Account(account("grace")),
            &claim,
            &es_workbook::l12_workflows::Fingerprint::of(&(account("grace"), deposit)),
            Refusal::Busy,
        )
        .expect("the key is unused");

    // when
    ProcessManager::new(&store, &clock)
        .recover()
        .expect("recovers");

    // then: the resend got "busy", and the credit was claimed again at
    // once, at the same time, and went through under the new claim's key
    let events = transfer_events(&store, "tx-1");
    assert_eq!(
        events[4..],
        [
            TransferEvent::StepRefused {
                step: Step::Credit,
                refusal: Refusal::Busy,
                at: START
            },
            TransferEvent::CommandIssued { step: Step::Credit },
            TransferEvent::StepSucceeded { step: Step::Credit },
        ]
    );
    assert_eq!(outcome(&store, "tx-1"), Some(TransferOutcome::Completed));
    assert_eq!(moved(&store, "tx-1"), moved_once(10_00));
}

#[test]
fn a_resend_after_a_foreign_event_is_refused_instead_of_sent_under_a_new_key() {
    // given: a driver claimed the credit, sent it (grace has the money),
    // and died before recording; then something else was appended
    let (store, clock) = ada_holding_and_grace_opened(50_00);
    submit_transfer(&store, &clock, "tx-1", transfer("ada", "grace", 10_00));
    let died = ProcessManager::new(&store, &clock)
        .stop_after(5)
        .run_until_idle();
    append_a_foreign_event_after_the_credit_claim(&store);

    // when
    let mut recovering = ProcessManager::new(&store, &clock);
    let recovered = recovering.recover();

    // then: the credit is not sent again under a key the claim never had,
    // and the transfer is reported
    assert_eq!(died, Err(DriveError::Stopped));
    assert_eq!(
        (recovered, recovering.lost_claims()),
        (Ok(()), vec![id("tx-1")])
    );
    assert_eq!(balance(&store, "grace"), Some(Cents(10_00)));
}

#[test]
fn a_key_keeps_its_first_answer_whether_the_refusal_or_the_append_came_first() {
    // given: one step's key and command, on grace's stream
    use es_workbook::l12_workflows::{Answer, AppendError, ExpectedVersion, Fingerprint, Metadata};
    let key = CommandKey::Transfer(id("tx-1"), Step::Credit, Version(4));
    let stream = StreamId::Account(account("grace"));
    let deposit = AccountCommand::DepositMoney { amount: Cents(1) };
    let fingerprint = Fingerprint::of(&(account("grace"), deposit));
    let metadata = Metadata {
        correlation: id("tx-1"),
        causation: MessageId::Command(key.clone()),
    };
    let deposited = || {
        vec![Event::Account(AccountEvent::MoneyDeposited {
            amount: Cents(1),
        })]
    };
    let command = || Some((key.clone(), fingerprint.clone()));
    let (mut refused_first, mut applied_first) = (EventStore::new(), EventStore::new());

    // when: the key is refused, then appended under; and the other way round
    let refused = refused_first.refuse(&stream, &key, &fingerprint, Refusal::Busy);
    let appended_after = refused_first.append(
        &stream,
        ExpectedVersion::NoStream,
        deposited(),
        &metadata,
        command(),
    );
    let appended = applied_first.append(
        &stream,
        ExpectedVersion::NoStream,
        deposited(),
        &metadata,
        command(),
    );
    let refused_after = applied_first.refuse(&stream, &key, &fingerprint, Refusal::Busy);

    // then: each second attempt gets the first answer and changes nothing
    assert_eq!(refused, Ok(Answer::Refused(Refusal::Busy)));
    assert_eq!(appended_after, Err(AppendError::Refused(Refusal::Busy)));
    assert_eq!(refused_first.read_stream(&stream).len(), 0);
    assert_eq!(
        refused_first.answer(&stream, &key, &fingerprint),
        Ok(Some(Answer::Refused(Refusal::Busy)))
    );
    assert_eq!(appended, Ok(Appended::Now(Version(1))));
    assert_eq!(refused_after, Ok(Answer::Applied(Version(1))));
    assert_eq!(applied_first.read_stream(&stream).len(), 1);
    assert_eq!(
        applied_first.answer(&stream, &key, &fingerprint),
        Ok(Some(Answer::Applied(Version(1))))
    );
}

#[test]
fn a_client_chosen_id_never_prints_like_a_key_or_an_event_the_lesson_derives() {
    // given: client ids spelled like the printed form of derived ones
    let derived = CommandKey::Transfer(id("tx-1"), Step::Credit, Version(4));
    let spelled_like_it = CommandKey::Client(id(&derived.to_string()));
    let transfer_event = MessageId::Event(StreamId::Transfer(id("tx-1")), Version(3));
    let account_event = MessageId::Event(
        StreamId::Account(account(&StreamId::Transfer(id("tx-1")).to_string())),
        Version(3),
    );
    let quoted = CommandKey::Client(id(r#"x" (credit step"#));

    // when
    let printed = [&derived, &spelled_like_it, &quoted].map(ToString::to_string);
    let events = [&transfer_event, &account_event].map(ToString::to_string);

    // then: each prints apart, with the client's part quoted
    assert_eq!(
        printed,
        [
            r#"transfer "tx-1" (credit step, claim v4)"#.to_string(),
            r#"client "transfer \"tx-1\" (credit step, claim v4)""#.to_string(),
            r#"client "x\" (credit step""#.to_string(),
        ]
    );
    assert_eq!(
        events,
        [
            r#"transfer "tx-1" v3"#.to_string(),
            r#"account "transfer \"tx-1\"" v3"#.to_string(),
        ]
    );
}

#[test]
fn one_event_is_read_by_its_version_and_a_version_outside_the_stream_reads_as_none() {
    // given: tx-1's stream holds its request and the debit's claim
    let (store, clock) = (SharedStore::default(), ManualClock::new(START));
    open(&store, "ada", 50_00);
    submit_transfer(&store, &clock, "tx-1", transfer("ada", "grace", 1_00));
    let _ = ProcessManager::new(&store, &clock)
        .stop_after(1)
        .run_until_idle();
    let stream = StreamId::Transfer(id("tx-1"));

    // when
    let guard = store.read().expect("not poisoned");
    let read = [0, 1, 2, 3].map(|v| guard.read_event(&stream, Version(v)).map(|r| r.version));
    let claim = guard.read_event(&stream, Version(2)).map(|r| &r.event);

    // then
    assert_eq!(read, [None, Some(Version(1)), Some(Version(2)), None]);
    assert_eq!(
        claim,
        Some(&Event::Transfer(TransferEvent::CommandIssued {
            step: Step::Debit
        }))
    );
}

/// Appends a timeout to tx-1's stream right after its credit claim, at
/// version 4, as nothing in the lesson ever does.
fn append_a_foreign_event_after_the_credit_claim(store: &SharedStore) {
    let metadata = es_workbook::l12_workflows::Metadata {
        correlation: id("tx-1"),
        causation: MessageId::Command(CommandKey::Client(id("intruder"))),
    };
    (store.write().expect("not poisoned"))
        .append(
            &StreamId::Transfer(id("tx-1")),
            es_workbook::l12_workflows::ExpectedVersion::Exact(Version(4)),
            vec![Event::Transfer(TransferEvent::TransferTimedOut {
                at: START,
            })],
            &metadata,
            None,
        )
        .expect("appends after the claim");
}

#[test]
fn a_lost_claim_is_set_aside_and_reported_while_the_driver_finishes_every_other_transfer() {
    // given: tx-1's credit claim has a foreign event behind it, and the
    // clock is past its deadline; tx-2 waits
    let (store, clock) = credit_claimed_by_a_dead_driver(true);
    append_a_foreign_event_after_the_credit_claim(&store);
    clock.advance(TRANSFER_TIMEOUT);
    submit_transfer(&store, &clock, "tx-2", transfer("ada", "grace", 5_00));

    // when: one driver runs twice; then tx-3 arrives and a new driver
    // recovers
    let mut driver = ProcessManager::new(&store, &clock);
    let ran = (driver.run_until_idle(), driver.run_until_idle());
    submit_transfer(&store, &clock, "tx-3", transfer("ada", "grace", 1_00));
    let mut recovering = ProcessManager::new(&store, &clock);
    let recovered = recovering.recover();

    // then: tx-2 and tx-3 were driven to the end, and both drivers report
    // tx-1, which neither moved on
    assert_eq!((ran, recovered), ((Ok(()), Ok(())), Ok(())));
    assert_eq!(outcome(&store, "tx-2"), Some(TransferOutcome::Completed));
    assert_eq!(outcome(&store, "tx-3"), Some(TransferOutcome::Completed));
    assert_eq!(
        (driver.lost_claims(), recovering.lost_claims()),
        (vec![id("tx-1")], vec![id("tx-1")])
    );
    assert_eq!(transfer_events(&store, "tx-1").len(), 5);
}

#[test]
fn the_manual_clock_stops_at_the_end_of_time_instead_of_wrapping() {
    // given
    let clock = ManualClock::new(Timestamp(u64::MAX - 10));

    // when
    clock.advance(100);

    // then
    assert_eq!(clock.now(), Timestamp(u64::MAX));
}

#[test]
fn a_transfer_whose_deadline_would_pass_the_end_of_time_is_refused() {
    // given
    let (store, clock) = (
        SharedStore::default(),
        ManualClock::new(Timestamp(u64::MAX)),
    );
    open(&store, "ada", 50_00);
    open(&store, "grace", 0);

    // when
    let submitted = submit(&store, &clock, &id("tx-1"), &transfer("ada", "grace", 1));

    // then
    assert_eq!(submitted, Err(SubmitError::DeadlineOutOfRange));
    assert_eq!(state(&store, "tx-1"), TransferState::NotRequested);
}

// ---------------------------------------------------------------------------
// Exercises: `cargo test --test l12_workflows -- --ignored`
// ---------------------------------------------------------------------------

mod exercises {
    use super::*;
    use es_workbook::exercises::l12_workflows::{
        CancelError, Cancelled, ChainError, Direction, Payment, StandingOrder, StatementLine,
        cancel, cause_chain, pay_standing_order, statement,
    };
    use es_workbook::l12_workflows::Metadata;
    use pretty_assertions::assert_eq;

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 12.1: an account's transfer statement"
    )]
    fn exercise_12_1_a_statement_lists_the_transfers_in_and_out_of_an_account_in_request_order() {
        // given: grace receives, sends, is not involved, and waits
        let (store, clock) = (SharedStore::default(), ManualClock::new(START));
        open(&store, "ada", 50_00);
        open(&store, "grace", 20_00);
        open(&store, "linus", 0);
        let txs = [
            ("tx-1", transfer("ada", "grace", 10_00)),
            ("tx-2", transfer("grace", "linus", 5_00)),
            ("tx-3", transfer("ada", "linus", 1_00)),
            ("tx-4", transfer("grace", "nobody", 2_00)),
            ("tx-5", transfer("grace", "ada", 90_000)),
        ];
        for (tx, t) in &txs {
            submit(&store, &clock, &id(tx), t).expect("submits");
        }
        run_until_idle(&store, &clock);
        submit_transfer(&store, &clock, "tx-6", transfer("linus", "grace", 1_00));

        // when
        let lines = statement(&store.read().expect("not poisoned"), &account("grace"));

        // then
        let line = |tx: &str, direction, other: &str, cents, outcome| StatementLine {
            transfer: id(tx),
            direction,
            other: account(other),
            amount: Cents(cents),
            outcome,
        };
        let poor = AccountError::InsufficientFunds {
            balance: Cents(23_00),
            requested: Cents(90_000),
        };
        assert_eq!(
            lines,
            [
                line(
                    "tx-1",
                    Direction::In,
                    "ada",
                    10_00,
                    Some(TransferOutcome::Completed)
                ),
                line(
                    "tx-2",
                    Direction::Out,
                    "linus",
                    5_00,
                    Some(TransferOutcome::Completed)
                ),
                line("tx-4", Direction::Out, "nobody", 2_00, None),
                line(
                    "tx-5",
                    Direction::Out,
                    "ada",
                    90_000,
                    Some(TransferOutcome::Rejected(poor))
                ),
                line("tx-6", Direction::In, "linus", 1_00, None),
            ]
        );
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 12.2: follow the causation ids back to the start"
    )]
    fn exercise_12_2_the_chain_of_causes_of_a_refund_leads_back_to_the_submission() {
        // given: the credit is refused twice (a retry), then times out, and
        // the money goes back
        let (store, clock) = (SharedStore::default(), ManualClock::new(START));
        open(&store, "ada", 50_00);
        submit_transfer(&store, &clock, "tx-1", transfer("ada", "nobody", 10_00));
        let mut manager = ProcessManager::new(&store, &clock);
        manager.run_until_idle().expect("runs");
        clock.advance(RETRY_AFTER);
        manager.run_until_idle().expect("runs");
        clock.advance(TRANSFER_TIMEOUT);
        manager.run_until_idle().expect("runs");
        let guard = store.read().expect("not poisoned");
        let event = |stream: StreamId, v| MessageId::Event(stream, Version(v));
        let tx = |v| event(StreamId::Transfer(id("tx-1")), v);
        let ada = |v| event(StreamId::Account(account("ada")), v);
        let submission = MessageId::Command(CommandKey::Client(id("tx-1")));

        // when
        let refund = cause_chain(&guard, &ada(4));
        let second_refusal = cause_chain(&guard, &tx(7));
        let unknown = cause_chain(&guard, &tx(99));
        let a_command = cause_chain(&guard, &submission);

        // then
        let mut expected = vec![ada(4), tx(9), tx(8), tx(7), tx(6), tx(5), tx(4), tx(3)];
        expected.extend([ada(3), tx(2), tx(1), submission.clone()]);
        assert_eq!(refund, Ok(expected.clone()));
        assert_eq!(second_refusal, Ok(expected[3..].to_vec()));
        assert_eq!(unknown, Err(ChainError::UnknownEvent(tx(99))));
        assert_eq!(a_command, Err(ChainError::UnknownEvent(submission)));
        assert_eq!(
            transfer_events(&store, "tx-1")[5],
            TransferEvent::CommandIssued { step: Step::Credit }
        );
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 12.3: cancel a transfer before its debit"
    )]
    fn exercise_12_3_a_cancellation_wins_or_loses_against_the_debit_but_never_both() {
        // given
        let (store, clock) = ada_holding_and_grace_opened(50_00);
        submit_transfer(&store, &clock, "tx-1", transfer("ada", "grace", 10_00));
        submit_transfer(&store, &clock, "tx-2", transfer("ada", "grace", 10_00));
        ProcessManager::new(&store, &clock)
            .stop_after(1)
            .run_until_idle()
            .expect_err("stops after claiming the debit of tx-1");

        // when
        let declined = cancel(&store, &id("tx-2"), &id("cancel-2"), |_| false);
        let first = cancel(&store, &id("tx-2"), &id("cancel-2"), |t| {
            t.amount == Cents(10_00)
        });
        let again = cancel(&store, &id("tx-2"), &id("cancel-2b"), |_| true);
        let issued = cancel(&store, &id("tx-1"), &id("cancel-1"), |_| true);
        let unknown = cancel(&store, &id("tx-9"), &id("cancel-9"), |_| true);
        ProcessManager::new(&store, &clock)
            .recover()
            .expect("recovers");
        let finished = cancel(&store, &id("tx-1"), &id("cancel-1"), |_| true);

        // then
        assert_eq!(
            (declined, first, again, issued, unknown, finished),
            (
                Err(CancelError::NotConfirmed),
                Ok(Cancelled::Now),
                Ok(Cancelled::Already),
                Err(CancelError::TooLate),
                Err(CancelError::Unknown),
                Err(CancelError::TooLate)
            )
        );
        assert_eq!(outcome(&store, "tx-2"), Some(TransferOutcome::Cancelled));
        assert_eq!(moved(&store, "tx-2"), Movements::default());
        assert_eq!(outcome(&store, "tx-1"), Some(TransferOutcome::Completed));
        let guard = store.read().expect("not poisoned");
        let cancelled = guard.read_stream(&StreamId::Transfer(id("tx-2")));
        assert_eq!(
            cancelled
                .iter()
                .map(|r| r.metadata.clone())
                .collect::<Vec<_>>()[1..],
            [Metadata {
                correlation: id("tx-2"),
                causation: MessageId::Command(CommandKey::Client(id("cancel-2"))),
            }]
        );
        drop(guard);

        // when: a driver claims the debit while the client is confirming,
        // on a thread, so that a solution that holds a lock meanwhile fails
        // here instead of hanging
        submit_transfer(&store, &clock, "tx-3", transfer("ada", "grace", 10_00));
        let (store, clock) = (std::sync::Arc::new(store), std::sync::Arc::new(clock));
        let (answered, answer) = std::sync::mpsc::channel();
        let (shared, timer) = (std::sync::Arc::clone(&store), std::sync::Arc::clone(&clock));
        thread::spawn(move || {
            let mut asked = 0;
            let late = cancel(&shared, &id("tx-3"), &id("cancel-3"), |_| {
                asked += 1;
                let claimed = ProcessManager::new(&shared, &*timer)
                    .stop_after(1)
                    .run_until_idle();
                claimed.is_err()
            });
            let _ = answered.send((late, asked));
        });
        let (late, asked) = answer
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("cancel answers without holding a lock while the client confirms");
        ProcessManager::new(&store, &*clock)
            .recover()
            .expect("recovers");

        // then: the claim came first, so the cancellation is too late
        assert_eq!((late, asked), (Err(CancelError::TooLate), 1));
        assert_eq!(outcome(&store, "tx-3"), Some(TransferOutcome::Completed));
        assert_eq!(moved(&store, "tx-3"), moved_once(10_00));

        // and when a cancellation races a driver, released together
        for round in 0..300 {
            let (store, clock) = ada_holding_and_grace_opened(50_00);
            submit_transfer(&store, &clock, "tx-1", transfer("ada", "grace", 10_00));
            let start = Barrier::new(2);
            let answer = thread::scope(|s| {
                let driver = s.spawn(|| {
                    let mut manager = ProcessManager::new(&store, &clock);
                    start.wait();
                    manager.run_until_idle().expect("drives");
                });
                start.wait();
                let answer = cancel(&store, &id("tx-1"), &id("cancel-1"), |_| true);
                driver.join().expect("no panic");
                answer
            });

            // then: it was cancelled and nothing moved, or it was too late
            // and the transfer completed
            let expected = match answer {
                Ok(Cancelled::Now) => (Some(TransferOutcome::Cancelled), Movements::default()),
                Err(CancelError::TooLate) => (Some(TransferOutcome::Completed), moved_once(10_00)),
                other => panic!("round {round}: unexpected {other:?}"),
            };
            assert_eq!(
                (outcome(&store, "tx-1"), moved(&store, "tx-1")),
                expected,
                "round {round}"
            );
            assert_money_conserved(&store);
        }
    }

    const MONTH: u64 = 30 * 24 * 3_600;

    /// A standing order from ada to grace, monthly from `START`.
    fn monthly(order: &str, cents: u64) -> StandingOrder {
        StandingOrder {
            id: id(order),
            from: account("ada"),
            to: account("grace"),
            amount: Cents(cents),
            starts: START,
            every: std::num::NonZeroU64::new(MONTH).expect("not zero"),
            until: None,
        }
    }

    fn periods(payments: &[Payment]) -> Vec<u64> {
        payments.iter().map(|p| p.period).collect()
    }

    /// The ids of every transfer requested, in the order of the log.
    fn requests(store: &SharedStore) -> Vec<CommandId> {
        let guard = store.read().expect("not poisoned");
        (guard.read_all(Position(0)).iter())
            .filter_map(|r| match (&r.stream, &r.event) {
                (
                    StreamId::Transfer(tx),
                    Event::Transfer(TransferEvent::TransferRequested { .. }),
                ) => Some(tx.clone()),
                _ => None,
            })
            .collect()
    }

    /// Checks that `payments`, from any number of calls, pay periods
    /// `1..=due` once each, and that the log requested exactly their
    /// transfers, in period order.
    fn paid_once_each(store: &SharedStore, mut payments: Vec<Payment>, due: u64, why: &str) {
        payments.sort_by_key(|p| p.period);
        assert_eq!(periods(&payments), (1..=due).collect::<Vec<_>>(), "{why}");
        let ids: Vec<CommandId> = payments.into_iter().map(|p| p.transfer).collect();
        assert_eq!(requests(store), ids, "{why}");
    }

    /// A clock that moves one second at each reading, and holds each caller
    /// at every reading until every other caller has read it as often or
    /// has finished: callers that read it as often move in lockstep,
    /// reading by reading.
    struct Lockstep {
        at: Timestamp,
        readings: std::sync::atomic::AtomicU64,
        parties: usize,
        meeting: std::sync::Mutex<Meeting>,
        met: std::sync::Condvar,
    }

    #[derive(Default)]
    struct Meeting {
        waiting: usize,
        round: u64,
        done: usize,
    }

    impl Lockstep {
        fn new(at: Timestamp, parties: usize) -> Self {
            Lockstep {
                at,
                readings: std::sync::atomic::AtomicU64::new(0),
                parties,
                meeting: std::sync::Mutex::default(),
                met: std::sync::Condvar::new(),
            }
        }

        /// Lets the next round go if everyone else is there; otherwise
        /// waits for it.
        fn meet(&self, arriving: bool) {
            let mut m = self.meeting.lock().unwrap_or_else(PoisonError::into_inner);
            if !arriving {
                m.done += 1;
            }
            let present = m.waiting + m.done + usize::from(arriving);
            if present >= self.parties {
                if m.waiting > 0 || arriving {
                    m.waiting = 0;
                    m.round += 1;
                    self.met.notify_all();
                }
            } else if arriving {
                m.waiting += 1;
                let round = m.round;
                while m.round == round {
                    m = self.met.wait(m).unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
    }

    impl Clock for Lockstep {
        fn now(&self) -> Timestamp {
            self.meet(true);
            Timestamp(self.at.0 + self.readings.fetch_add(1, Ordering::SeqCst))
        }
    }

    /// Tells the other callers that this one finished, even by panicking.
    struct Finished<'a>(&'a Lockstep);

    impl Drop for Finished<'_> {
        fn drop(&mut self) {
            self.0.meet(false);
        }
    }

    /// A clock whose caller dies (panics) when it reads it for the `dies_at`th
    /// time: `submit` reads it before it writes, so every write can be the
    /// one that does not happen.
    struct Dying<'a> {
        clock: &'a ManualClock,
        readings: std::sync::atomic::AtomicU64,
        dies_at: u64,
    }

    impl Clock for Dying<'_> {
        fn now(&self) -> Timestamp {
            let reading = self.readings.fetch_add(1, Ordering::SeqCst) + 1;
            assert!(reading != self.dies_at, "stopped at reading {reading}");
            self.clock.now()
        }
    }

    #[test]
    #[cfg_attr(
        not(feature = "solutions"),
        ignore = "exercise 12.4: a standing order pays each period once"
    )]
    fn exercise_12_4_a_standing_order_pays_each_period_once_in_order_whoever_runs_it() {
        // given: two orders from ada to grace, one stopped after two
        // periods, one that starts a second from now
        let (store, clock) = ada_holding_and_grace_opened(90_00);
        let rent = monthly("rent", 10_00);
        let savings = monthly("savings", 1_00);
        let stopped = StandingOrder {
            until: Some(Timestamp(START.0 + 2 * MONTH)),
            ..monthly("gift", 2_00)
        };
        let later = StandingOrder {
            starts: Timestamp(START.0 + 1),
            ..monthly("later", 3_00)
        };
        let pay = |order: &StandingOrder| {
            periods(&pay_standing_order(&store, &clock, order).expect("pays"))
        };

        // when: period 1 is due now; then the clock jumps four months
        let first = (pay(&rent), pay(&savings), pay(&later));
        let mut manager = ProcessManager::new(&store, &clock);
        manager.run_until_idle().expect("runs");
        clock.advance(4 * MONTH);
        let rent_jump = pay_standing_order(&store, &clock, &rent).expect("pays");
        let rent_again = pay(&rent);
        let savings_jump = pay(&savings);
        let stopped_jump = pay(&stopped);
        manager.run_until_idle().expect("runs");

        // then: each missed period is paid once, in order, by the first
        // call that finds it due; a stopped order pays nothing due from its
        // stop on, and nothing is paid before it is due
        assert_eq!(
            (first, periods(&rent_jump), rent_again),
            ((vec![1], vec![1], vec![]), vec![2, 3, 4, 5], vec![])
        );
        assert_eq!((savings_jump, stopped_jump), (vec![2, 3, 4, 5], vec![1, 2]));
        let rent_ids: Vec<CommandId> = rent_jump.into_iter().map(|p| p.transfer).collect();
        let log = requests(&store);
        let rent_in_log: Vec<CommandId> = (log.iter())
            .filter(|tx| rent_ids.contains(tx))
            .cloned()
            .collect();
        assert_eq!(rent_in_log, rent_ids);
        assert_eq!(log.len(), 5 + 5 + 2);
        for tx in &log {
            assert_eq!(
                outcome(&store, &tx.to_string()),
                Some(TransferOutcome::Completed),
                "{tx}"
            );
        }
        assert_eq!(
            (balance(&store, "ada"), balance(&store, "grace")),
            (Some(Cents(31_00)), Some(Cents(59_00)))
        );
        assert_money_conserved(&store);

        // given: ada can pay one month of rent, not two
        let (store, clock) = ada_holding_and_grace_opened(15_00);
        let mut manager = ProcessManager::new(&store, &clock);
        let mut pay = || {
            let paid = pay_standing_order(&store, &clock, &rent).expect("pays");
            manager.run_until_idle().expect("runs");
            paid
        };

        // when: the second payment is refused, ada is paid, and the
        // order runs again before and after the third period is due
        let mut paid = pay();
        clock.advance(MONTH);
        paid.extend(pay());
        execute(
            &store,
            &account("ada"),
            &AccountCommand::DepositMoney {
                amount: Cents(20_00),
            },
            &id("salary"),
        )
        .expect("deposits");
        let after_refusal = pay();
        clock.advance(MONTH);
        paid.extend(pay());

        // then: the refused period is not tried again
        assert!(after_refusal.is_empty(), "{after_refusal:?}");
        let outcomes: Vec<_> = (paid.iter())
            .map(|p| outcome(&store, &p.transfer.to_string()))
            .collect();
        let poor = AccountError::InsufficientFunds {
            balance: Cents(5_00),
            requested: Cents(10_00),
        };
        assert_eq!(
            outcomes,
            [
                Some(TransferOutcome::Completed),
                Some(TransferOutcome::Rejected(poor)),
                Some(TransferOutcome::Completed)
            ]
        );
        paid_once_each(&store, paid, 3, "a refused period");
        assert_eq!(
            (balance(&store, "ada"), balance(&store, "grace")),
            (Some(Cents(15_00)), Some(Cents(20_00)))
        );
        assert_money_conserved(&store);

        // when: two callers run the order at once, three periods due, each
        // reading the clock only when the other has read it as often
        for round in 0..20 {
            let store = SharedStore::default();
            open(&store, "ada", 90_00);
            open(&store, "grace", 0);
            let clock = Lockstep::new(Timestamp(START.0 + 2 * MONTH), 2);
            let paid = thread::scope(|s| {
                let callers: Vec<_> = (0..2)
                    .map(|_| {
                        s.spawn(|| {
                            let _finished = Finished(&clock);
                            pay_standing_order(&store, &clock, &rent).expect("pays")
                        })
                    })
                    .collect();
                (callers.into_iter())
                    .flat_map(|caller| caller.join().expect("no panic"))
                    .collect::<Vec<_>>()
            });

            // then: each period was paid by one of them
            paid_once_each(&store, paid, 3, &format!("round {round}"));
        }

        // when: a caller dies before any one of its readings of the clock
        // (so before any one of its writes), and a new one runs the order
        for dies_at in 1.. {
            let (store, clock) = ada_holding_and_grace_opened(90_00);
            clock.advance(2 * MONTH);
            let dying = Dying {
                clock: &clock,
                readings: std::sync::atomic::AtomicU64::new(0),
                dies_at,
            };
            let before = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pay_standing_order(&store, &dying, &rent).expect("pays")
            }));
            let survived = before.is_ok();
            let written = requests(&store).len();
            let after = pay_standing_order(&store, &clock, &rent).expect("pays");
            run_until_idle(&store, &clock);

            // then: every period is paid once, in order; the new caller
            // pays those the first did not reach
            let why = format!("died at reading {dies_at}");
            let log = requests(&store);
            assert_eq!(log.len(), 3, "{why}");
            let unreached = u64::try_from(written).expect("small") + 1..=3;
            assert_eq!(periods(&after), unreached.collect::<Vec<_>>(), "{why}");
            let after_ids: Vec<CommandId> = after.into_iter().map(|p| p.transfer).collect();
            assert_eq!(log[written..], after_ids[..], "{why}");
            if let Ok(before) = before {
                paid_once_each(&store, before, 3, &why);
            }
            assert_eq!(balance(&store, "grace"), Some(Cents(30_00)));
            assert_money_conserved(&store);
            if survived {
                break;
            }
            assert!(dies_at < 100, "a call reads the clock a hundred times");
        }
    }
}
