//! The whole system: accounts, transfers and a notifications reactor, run
//! on one thread or on several, and the final state a run leaves behind.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, PoisonError};
use std::thread;

use super::account::{AccountCommand, AccountState, CommandError, execute, load};
use super::store::{
    AccountId, CommandId, Event, Metadata, Position, SharedStore, StreamId, Timestamp,
};
use super::transfer::{
    DriveError, ManualClock, ProcessManager, SubmitError, TRANSFER_TIMEOUT, Transfer,
    TransferState, evolve, load_transfer, submit,
};

// ANCHOR: notifier
/// A message to a customer about one of their transfers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The account whose owner is told: the transfer's source.
    pub to: AccountId,
    /// What they are told.
    pub text: String,
    /// The transfer's id, and the event that finished it.
    pub metadata: Metadata,
}

/// A reactor: it follows the log from its own checkpoint and tells the
/// source's owner how each transfer ended, once per transfer. It keeps the
/// unfinished transfers' states itself (a small projection), and
/// what it sent is keyed by transfer, so a delivery twice sends nothing new.
#[derive(Debug, Default)]
pub struct Notifier {
    checkpoint: Position,
    transfers: HashMap<CommandId, TransferState>,
    /// What was sent, by transfer.
    pub sent: BTreeMap<CommandId, Notification>,
}

impl Notifier {
    /// Reads every event after the checkpoint and notifies the transfers
    /// that finished. Returns how many notifications it sent.
    ///
    /// # Errors
    ///
    /// [`DriveError::StorePoisoned`] when the lock is poisoned.
    pub fn catch_up(&mut self, store: &SharedStore) -> Result<usize, DriveError> {
        let store = store.read().map_err(|_| DriveError::StorePoisoned)?;
        let mut sent = 0;
        for recorded in store.read_all(self.checkpoint) {
            self.checkpoint = recorded.position;
            let (StreamId::Transfer(id), Event::Transfer(event)) =
                (&recorded.stream, &recorded.event)
            else {
                continue;
            };
            let state = self
                .transfers
                .remove(id)
                .unwrap_or(TransferState::NotRequested);
            let state = evolve(state, event);
            if let TransferState::Finished { transfer, outcome } = &state
                && !self.sent.contains_key(id)
            {
                let notification = Notification {
                    to: transfer.from.clone(),
                    text: format!(
                        "your transfer {id} of {} to {}: {outcome}",
                        transfer.amount, transfer.to
                    ),
                    metadata: Metadata {
                        correlation: recorded.metadata.correlation.clone(),
                        causation: recorded.id(),
                    },
                };
                self.sent.insert(id.clone(), notification);
                sent += 1;
            }
            // A finished transfer needs no state any more.
            if let TransferState::Active { .. } = state {
                self.transfers.insert(id.clone(), state);
            }
        }
        Ok(sent)
    }
}
// ANCHOR_END: notifier

/// What the clients do: set up accounts, then submit transfers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// When the run starts.
    pub start: Timestamp,
    /// Commands per account, run in order for each account.
    pub accounts: Vec<(AccountId, Vec<(CommandId, AccountCommand)>)>,
    /// Transfers, each submitted twice (a client retry).
    pub transfers: Vec<(CommandId, Transfer)>,
}

/// What a run leaves behind, in a form two runs can be compared in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalState {
    /// Every account named in the scenario.
    pub accounts: BTreeMap<AccountId, AccountState>,
    /// Every transfer.
    pub transfers: BTreeMap<CommandId, TransferState>,
    /// What each transfer's source owner was told.
    pub notifications: BTreeMap<CommandId, String>,
}

/// Why a run stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunError {
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
pub fn run_on_one_thread(scenario: &Scenario) -> Result<(SharedStore, FinalState), RunError> {
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

// ANCHOR: run_threads
/// Runs `scenario` on threads: one per account for the setup; then two
/// client threads that each submit every transfer (in opposite orders),
/// racing `drivers` process-manager threads that all drive all transfers,
/// and a reactor thread; then the clock moves past every deadline and the
/// drivers and the reactor run again. Every group starts at a barrier.
///
/// # Errors
///
/// The first [`RunError`]; a panicked thread is reported as such.
pub fn run_on_threads(
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

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Setup(error) => write!(f, "a setup command failed: {error}"),
            RunError::Submit(error) => write!(f, "a submission failed: {error}"),
            RunError::Drive(error) => write!(f, "the process manager stopped: {error}"),
            RunError::ThreadPanicked => f.write_str("a thread of the run panicked"),
        }
    }
}

impl std::error::Error for RunError {}
