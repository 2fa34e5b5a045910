//! The transfer as a process manager: a state machine persisted in its own
//! stream, which reacts to what happened (its own events, and the outcome of
//! each command it issued) by issuing the next command.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use super::account::{AccountCommand, AccountError, Cents, CommandError, Envelope, execute_in};
use super::store::{
    AccountId, AppendError, Appended, CommandId, CommandKey, Event, EventStore, ExpectedVersion,
    Fingerprint, MessageId, Metadata, Position, SharedStore, Step, StreamId, Timestamp, Version,
};

/// How long a transfer may take, in seconds, before it gives up on a step
/// that has not happened yet.
pub const TRANSFER_TIMEOUT: u64 = 3_600;
/// How long a transfer waits before it tries a refused credit again.
pub const RETRY_AFTER: u64 = 300;

// ANCHOR: clock
/// Where the process manager learns the time. Injected, so that tests and
/// examples decide what time it is; nothing in this lesson reads the real
/// clock.
pub trait Clock: Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// A clock that moves only when told to.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: Timestamp) -> Self {
        ManualClock(AtomicU64::new(at.0))
    }

    /// Moves the clock `seconds` forward; it stops at the end of time
    /// rather than wrapping back to its start.
    pub fn advance(&self, seconds: u64) {
        let forward = |now: u64| Some(now.saturating_add(seconds));
        let _always_some = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, forward);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}
// ANCHOR_END: clock

/// What a client asks for: move `amount` from one account to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The account the money leaves.
    pub from: AccountId,
    /// The account it goes to.
    pub to: AccountId,
    /// How much.
    pub amount: Cents,
}

// ANCHOR: events
/// Why an account did not take a step's command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The account's rules refused it.
    Rejected(AccountError),
    /// It kept losing races with other writers; nothing was appended.
    Busy,
}

/// Something that happened to a transfer, in its own stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferEvent {
    /// A client submitted the transfer; it must finish by `deadline`.
    TransferRequested {
        /// What to move.
        transfer: Transfer,
        /// When the transfer stops waiting for a debit or a credit.
        deadline: Timestamp,
    },
    /// The process manager claimed `step` and issued its command.
    CommandIssued {
        /// The step.
        step: Step,
    },
    /// The step's command took effect on its account.
    StepSucceeded {
        /// The step.
        step: Step,
    },
    /// The step's command was refused at `at`; nothing was appended to the
    /// account.
    StepRefused {
        /// The step.
        step: Step,
        /// Why.
        refusal: Refusal,
        /// When.
        at: Timestamp,
    },
    /// The deadline passed before the debit or the credit happened.
    TransferTimedOut {
        /// When the process manager noticed.
        at: Timestamp,
    },
    /// The client cancelled the transfer before its debit was issued
    /// (exercise 12.3).
    TransferCancelled,
}
// ANCHOR_END: events

// ANCHOR: state
/// How a transfer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferOutcome {
    /// The money reached the destination.
    Completed,
    /// The credit failed or timed out, and the money went back to the source.
    Refunded,
    /// The source refused the debit: nothing moved.
    Rejected(AccountError),
    /// The deadline passed before the debit: nothing moved.
    Expired,
    /// The client cancelled it before the debit: nothing moved.
    Cancelled,
    /// The source refused the refund. The transfer holds the money, and a
    /// person must decide what to do with it.
    NeedsAttention(AccountError),
}

/// The state of a transfer, folded from its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferState {
    /// No `TransferRequested` yet.
    NotRequested,
    /// Under way: `step` is the next command, `issued` says whether it is
    /// out (claimed, its outcome not recorded yet).
    Active {
        /// What to move.
        transfer: Transfer,
        /// When waiting stops.
        deadline: Timestamp,
        /// The step the transfer is at.
        step: Step,
        /// Whether that step's command was issued and not answered yet.
        issued: bool,
        /// The step is not issued again before this time.
        retry_at: Timestamp,
    },
    /// Over.
    Finished {
        /// What was moved, or not.
        transfer: Transfer,
        /// How it ended.
        outcome: TransferOutcome,
    },
}

/// Applies one event to a transfer's state. Total and pure.
pub fn evolve(state: TransferState, event: &TransferEvent) -> TransferState {
    use TransferEvent as E;
    use TransferState as S;
    let active = |transfer, deadline, step, retry_at| S::Active {
        transfer,
        deadline,
        step,
        issued: false,
        retry_at,
    };
    let finished = |transfer, outcome| S::Finished { transfer, outcome };
    match (state, event) {
        (S::NotRequested, E::TransferRequested { transfer, deadline }) => {
            active(transfer.clone(), *deadline, Step::Debit, Timestamp(0))
        }
        (
            S::Active {
                transfer,
                deadline,
                step,
                issued: false,
                retry_at,
            },
            E::CommandIssued { step: s },
        ) if *s == step => S::Active {
            transfer,
            deadline,
            step,
            issued: true,
            retry_at,
        },
        (
            S::Active {
                transfer,
                deadline,
                step,
                issued: true,
                ..
            },
            E::StepSucceeded { step: s },
        ) if *s == step => match step {
            Step::Debit => active(transfer, deadline, Step::Credit, Timestamp(0)),
            Step::Credit => finished(transfer, TransferOutcome::Completed),
            Step::Refund => finished(transfer, TransferOutcome::Refunded),
        },
        (
            S::Active {
                transfer,
                deadline,
                step,
                issued: true,
                ..
            },
            E::StepRefused {
                step: s,
                refusal,
                at,
            },
        ) if *s == step => {
            // Only a closed destination is refused for good; any other
            // refusal of the credit may pass later, so it is tried again.
            match (step, refusal) {
                (_, Refusal::Busy) => active(transfer, deadline, step, *at),
                (Step::Debit, Refusal::Rejected(e)) => {
                    finished(transfer, TransferOutcome::Rejected(e.clone()))
                }
                (Step::Credit, Refusal::Rejected(AccountError::Closed)) => {
                    active(transfer, deadline, Step::Refund, Timestamp(0))
                }
                (Step::Credit, Refusal::Rejected(_)) => active(
                    transfer,
                    deadline,
                    step,
                    Timestamp(at.0.saturating_add(RETRY_AFTER)),
                ),
                (Step::Refund, Refusal::Rejected(e)) => {
                    finished(transfer, TransferOutcome::NeedsAttention(e.clone()))
                }
            }
        }
        (
            S::Active {
                transfer,
                step: Step::Debit,
                issued: false,
                ..
            },
            E::TransferTimedOut { .. },
        ) => finished(transfer, TransferOutcome::Expired),
        (
            S::Active {
                transfer,
                deadline,
                step: Step::Credit,
                issued: false,
                ..
            },
            E::TransferTimedOut { .. },
        ) => active(transfer, deadline, Step::Refund, Timestamp(0)),
        (
            S::Active {
                transfer,
                step: Step::Debit,
                issued: false,
                ..
            },
            E::TransferCancelled,
        ) => finished(transfer, TransferOutcome::Cancelled),
        (state, _) => state,
    }
}
// ANCHOR_END: state

// ANCHOR: next
/// What the process manager does next for a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Claim `step` and issue its command.
    Issue(Step),
    /// Record that the deadline passed.
    TimeOut,
    /// Nothing until `until`.
    Wait {
        /// When to look again.
        until: Timestamp,
    },
    /// A command is out; whoever issued it records its outcome.
    InFlight(Step),
    /// A command is out past the deadline: its driver is taken to be gone,
    /// and any driver sends it again under the claim's key.
    Resend(Step),
    /// Nothing, ever: the transfer is over (or was never requested).
    Nothing,
}

/// Decides what to do next for a transfer in `state` at `now`. Pure: the
/// time is an argument.
pub fn next(state: &TransferState, now: Timestamp) -> Next {
    match state {
        // A step that is out is never timed out: it may have landed. The
        // deadline is its claimant's lease.
        TransferState::Active {
            step,
            issued: true,
            deadline,
            ..
        } if now >= *deadline => Next::Resend(*step),
        TransferState::Active {
            step, issued: true, ..
        } => Next::InFlight(*step),
        TransferState::Active {
            step,
            deadline,
            retry_at,
            ..
        } => match step {
            // The refund has no deadline: money that left the source must
            // go somewhere.
            Step::Debit | Step::Credit if now >= *deadline => Next::TimeOut,
            _ if now < *retry_at => Next::Wait { until: *retry_at },
            step => Next::Issue(*step),
        },
        TransferState::NotRequested | TransferState::Finished { .. } => Next::Nothing,
    }
}
// ANCHOR_END: next

/// A transfer as loaded from its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedTransfer {
    /// Its state.
    pub state: TransferState,
    /// Its stream's version: the version to expect when appending.
    pub version: Version,
}

/// Folds a transfer's stream into its state.
pub fn load_transfer(store: &EventStore, id: &CommandId) -> LoadedTransfer {
    let mut loaded = LoadedTransfer {
        state: TransferState::NotRequested,
        version: Version(0),
    };
    for recorded in store.read_stream(&StreamId::Transfer(id.clone())) {
        if let Event::Transfer(event) = &recorded.event {
            loaded.state = evolve(loaded.state, event);
        }
        loaded.version = recorded.version;
    }
    loaded
}

// ANCHOR: submit
/// What a submission did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// The transfer was claimed under its id; the process manager takes it
    /// from here.
    Accepted,
    /// The same transfer was submitted under this id before; nothing new.
    AlreadySubmitted,
}

/// Why a submission was refused. Nothing was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitError {
    /// A transfer of nothing.
    ZeroAmount,
    /// A transfer from an account to itself.
    SameAccount,
    /// The id was already used for a different transfer, or for another
    /// command.
    IdReused {
        /// The id.
        id: CommandId,
    },
    /// The clock is so near its end that the deadline would not fit.
    DeadlineOutOfRange,
    /// A thread panicked while holding the store's lock.
    StorePoisoned,
}

/// Submits `transfer` under the client's `id`: claims the transfer's own
/// stream with `NoStream`, bound to the id and to what the transfer asks
/// for. Submitting the same transfer again changes nothing.
///
/// # Errors
///
/// [`SubmitError::IdReused`] when `id` was used for anything else, and the
/// other [`SubmitError`]s for a transfer that makes no sense.
pub fn submit(
    store: &SharedStore,
    clock: &impl Clock,
    id: &CommandId,
    transfer: &Transfer,
) -> Result<Submitted, SubmitError> {
    if transfer.amount == Cents(0) {
        return Err(SubmitError::ZeroAmount);
    }
    if transfer.from == transfer.to {
        return Err(SubmitError::SameAccount);
    }
    let key = CommandKey::Client(id.clone());
    let deadline =
        (clock.now().0.checked_add(TRANSFER_TIMEOUT)).ok_or(SubmitError::DeadlineOutOfRange)?;
    let requested = TransferEvent::TransferRequested {
        transfer: transfer.clone(),
        deadline: Timestamp(deadline),
    };
    let metadata = Metadata {
        correlation: id.clone(),
        causation: MessageId::Command(key.clone()),
    };
    let appended = store
        .write()
        .map_err(|_| SubmitError::StorePoisoned)?
        .append(
            &StreamId::Transfer(id.clone()),
            ExpectedVersion::NoStream,
            vec![Event::Transfer(requested)],
            &metadata,
            // The deadline is left out: a retry a minute later is the same
            // transfer.
            Some((key, Fingerprint::of(&("transfer", transfer)))),
        );
    match appended {
        Ok(Appended::Now(_)) => Ok(Submitted::Accepted),
        Ok(Appended::AlreadyApplied(_)) => Ok(Submitted::AlreadySubmitted),
        // The stream and the key are claimed in the same append, so a taken
        // stream means a taken key; both mean the id is not free.
        Err(
            AppendError::IdempotencyKeyReused { .. }
            | AppendError::VersionConflict { .. }
            | AppendError::Refused(_),
        ) => Err(SubmitError::IdReused { id: id.clone() }),
    }
}
// ANCHOR_END: submit

/// Why the process manager stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriveError {
    /// It was told to stop after a number of writes (a failure drill).
    Stopped,
    /// A thread panicked while holding the store's lock.
    StorePoisoned,
}

/// Why one transfer's advance stopped: the driver stops, or only this
/// transfer is set aside.
enum Halt {
    Drive(DriveError),
    /// Something other than the claimed step's answer was appended to the
    /// transfer after the claim: its stream is not what the driver read.
    ClaimLost,
}

impl From<DriveError> for Halt {
    fn from(error: DriveError) -> Self {
        Halt::Drive(error)
    }
}

// ANCHOR: manager
/// One driver of transfers. It follows the log to learn of new transfers,
/// and moves each one forward by the rules of [`next`]. Several drivers may
/// run at once, on any transfers: a step is claimed by appending
/// `CommandIssued` with the expected version, so one driver issues each
/// command. It is sent again only past the transfer's deadline, or by
/// [`ProcessManager::recover`].
#[derive(Debug)]
pub struct ProcessManager<'a, C: Clock> {
    store: &'a SharedStore,
    clock: &'a C,
    checkpoint: Position,
    /// The unfinished transfers, folded up to the checkpoint.
    active: BTreeMap<CommandId, LoadedTransfer>,
    /// The transfers set aside because their claim was lost.
    lost: BTreeSet<CommandId>,
    writes_left: Option<u32>,
}

impl<'a, C: Clock> ProcessManager<'a, C> {
    /// A driver over `store` that reads the time from `clock`.
    pub fn new(store: &'a SharedStore, clock: &'a C) -> Self {
        ProcessManager {
            store,
            clock,
            checkpoint: Position(0),
            active: BTreeMap::new(),
            lost: BTreeSet::new(),
            writes_left: None,
        }
    }

    /// The same driver, stopping with [`DriveError::Stopped`] before its
    /// write number `writes + 1`: the process dies there, by construction.
    pub fn stop_after(mut self, writes: u32) -> Self {
        self.writes_left = Some(writes);
        self
    }

    /// Learns of new transfers, then moves every unfinished one forward as
    /// far as it can go now. Returns how many writes it attempted (claims,
    /// commands and outcomes; 0: nothing to do until the clock moves or a
    /// client acts). A transfer whose claim is lost is set aside, listed by
    /// [`ProcessManager::lost_claims`], and the others go on.
    ///
    /// # Errors
    ///
    /// Any [`DriveError`]; the transfers stay as their streams say.
    pub fn tick(&mut self) -> Result<u32, DriveError> {
        self.discover()?;
        let mut writes = 0;
        let ids: Vec<CommandId> = self.active.keys().cloned().collect();
        for id in ids {
            let advanced = self.advance(&id);
            writes += self.set_aside_if_lost(&id, advanced)?;
        }
        Ok(writes)
    }

    /// The transfers this driver set aside, because something other than
    /// a claimed step's answer was appended after the claim. It drives
    /// them no further: a person must look at their streams.
    pub fn lost_claims(&self) -> Vec<CommandId> {
        self.lost.iter().cloned().collect()
    }

    /// Ticks until a tick attempts no write.
    ///
    /// # Errors
    ///
    /// As [`ProcessManager::tick`].
    pub fn run_until_idle(&mut self) -> Result<(), DriveError> {
        while self.tick()? > 0 {}
        Ok(())
    }

    /// Sends again every step that is claimed and not answered, then
    /// carries on: the way to finish the steps of a driver that died. Safe
    /// at any time, even while the claimant lives: a resend uses the
    /// claim's key, so it gets the same answer as the first send.
    ///
    /// # Errors
    ///
    /// As [`ProcessManager::tick`].
    pub fn recover(&mut self) -> Result<(), DriveError> {
        self.discover()?;
        let claimed: Vec<_> = (self.active.iter())
            .filter_map(|(id, loaded)| match &loaded.state {
                TransferState::Active {
                    transfer,
                    step,
                    issued: true,
                    ..
                } => Some((id.clone(), transfer.clone(), *step, loaded.version)),
                _ => None,
            })
            .collect();
        for (id, transfer, step, claim) in claimed {
            let performed = self.perform(&id, &transfer, step, claim);
            self.set_aside_if_lost(&id, performed)?;
        }
        self.run_until_idle()
    }
    // ANCHOR_END: manager

    /// The writes of one transfer's move; if its claim was lost, the
    /// transfer is set aside and the driver goes on with the others.
    fn set_aside_if_lost(
        &mut self,
        id: &CommandId,
        moved: Result<u32, Halt>,
    ) -> Result<u32, DriveError> {
        match moved {
            Ok(writes) => Ok(writes),
            Err(Halt::ClaimLost) => {
                self.active.remove(id);
                self.lost.insert(id.clone());
                Ok(0)
            }
            Err(Halt::Drive(error)) => Err(error),
        }
    }

    /// Folds the log's new events into the unfinished transfers: only the
    /// tail since the checkpoint is read. A transfer that finishes is
    /// dropped.
    fn discover(&mut self) -> Result<(), DriveError> {
        let store = self.store.read().map_err(|_| DriveError::StorePoisoned)?;
        for recorded in store.read_all(self.checkpoint) {
            self.checkpoint = recorded.position;
            let (StreamId::Transfer(id), Event::Transfer(event)) =
                (&recorded.stream, &recorded.event)
            else {
                continue;
            };
            let before = match (self.active.remove(id), event) {
                (Some(loaded), _) => loaded.state,
                (None, TransferEvent::TransferRequested { .. }) => TransferState::NotRequested,
                (None, _) => continue,
            };
            let state = evolve(before, event);
            if !matches!(state, TransferState::Finished { .. }) {
                let version = recorded.version;
                self.active
                    .insert(id.clone(), LoadedTransfer { state, version });
            }
        }
        Ok(())
    }

    /// The transfer as of the log's end, or `None` once it is finished.
    fn load(&mut self, id: &CommandId) -> Result<Option<LoadedTransfer>, DriveError> {
        self.discover()?;
        Ok(self.active.get(id).cloned())
    }

    fn spend(&mut self) -> Result<(), DriveError> {
        match &mut self.writes_left {
            Some(0) => Err(DriveError::Stopped),
            Some(left) => {
                *left -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    // ANCHOR: advance
    /// Moves one transfer forward until it must wait, has a command out
    /// with another driver, or is finished. Returns the writes attempted.
    fn advance(&mut self, id: &CommandId) -> Result<u32, Halt> {
        let mut writes = 0;
        loop {
            let Some(loaded) = self.load(id)? else {
                return Ok(writes);
            };
            let now = self.clock.now();
            let event = match next(&loaded.state, now) {
                Next::Nothing | Next::Wait { .. } | Next::InFlight(_) => return Ok(writes),
                Next::Resend(step) => {
                    if let TransferState::Active { transfer, .. } = &loaded.state {
                        writes += self.perform(id, transfer, step, loaded.version)?;
                    }
                    continue;
                }
                Next::TimeOut => TransferEvent::TransferTimedOut { at: now },
                Next::Issue(step) => TransferEvent::CommandIssued { step },
            };
            self.spend()?;
            // The claim: whoever appends at this version first moves the
            // transfer on; a driver that loses reloads and looks again.
            let causation = last_event(id, loaded.version);
            if !self.record(id, loaded.version, event.clone(), causation)? {
                continue;
            }
            writes += 1;
            if let (TransferEvent::CommandIssued { step }, TransferState::Active { transfer, .. }) =
                (&event, &loaded.state)
            {
                let issued = Version(loaded.version.0 + 1);
                writes += self.perform(id, transfer, *step, issued)?;
            }
        }
    }

    // ANCHOR_END: advance

    /// Sends the command of `step`, issued at version `issued` of the
    /// transfer's stream, and records its outcome right after the claim.
    fn perform(
        &mut self,
        id: &CommandId,
        transfer: &Transfer,
        step: Step,
        issued: Version,
    ) -> Result<u32, Halt> {
        let (account, command) = match step {
            Step::Debit => (
                &transfer.from,
                AccountCommand::WithdrawMoney {
                    amount: transfer.amount,
                },
            ),
            Step::Credit => (
                &transfer.to,
                AccountCommand::DepositMoney {
                    amount: transfer.amount,
                },
            ),
            Step::Refund => (
                &transfer.from,
                AccountCommand::DepositMoney {
                    amount: transfer.amount,
                },
            ),
        };
        // The key names the claim at `issued`; if the event there is not
        // that claim, the stream is not what this driver read, and a send
        // under that version would be a new key for an old command.
        let claimed = TransferEvent::CommandIssued { step };
        if self.event_at(id, issued)?.as_ref() != Some(&claimed) {
            return Err(Halt::ClaimLost);
        }
        let key = CommandKey::Transfer(id.clone(), step, issued);
        let claim = MessageId::Event(StreamId::Transfer(id.clone()), issued);
        let envelope = Envelope {
            key,
            metadata: Metadata {
                correlation: id.clone(),
                causation: claim.clone(),
            },
        };
        self.spend()?;
        let now = self.clock.now();
        let refused = |refusal| TransferEvent::StepRefused {
            step,
            refusal,
            at: now,
        };
        let (outcome, causation) = match execute_in(self.store, account, &command, &envelope) {
            Ok(Appended::Now(version) | Appended::AlreadyApplied(version)) => (
                TransferEvent::StepSucceeded { step },
                MessageId::Event(StreamId::Account(account.clone()), version),
            ),
            Err(CommandError::Rejected(error)) => (refused(Refusal::Rejected(error)), claim),
            Err(CommandError::TooManyConflicts { .. }) => (refused(Refusal::Busy), claim),
            // The key names this transfer's claim: another command under it
            // means the stream is not the one this driver read.
            Err(CommandError::IdempotencyKeyReused { .. }) => return Err(Halt::ClaimLost),
            Err(CommandError::StorePoisoned) => return Err(DriveError::StorePoisoned.into()),
        };
        self.spend()?;
        if self.record(id, issued, outcome.clone(), causation)? {
            return Ok(2);
        }
        // Another sender of this claim recorded first. The key gave it the
        // same answer, so its record must be this one (up to the time).
        match self.event_at(id, Version(issued.0 + 1))? {
            Some(recorded) if same_answer(&recorded, &outcome) => Ok(1),
            _ => Err(Halt::ClaimLost),
        }
    }

    /// The transfer's event at `version`, if there is one.
    fn event_at(
        &self,
        id: &CommandId,
        version: Version,
    ) -> Result<Option<TransferEvent>, DriveError> {
        let store = self.store.read().map_err(|_| DriveError::StorePoisoned)?;
        let stream = StreamId::Transfer(id.clone());
        Ok(store
            .read_event(&stream, version)
            .and_then(|r| match &r.event {
                Event::Transfer(event) => Some(event.clone()),
                Event::Account(_) => None,
            }))
    }

    /// Appends `event` to the transfer's stream at `expected`: `Ok(true)`
    /// if it went in, `Ok(false)` if the stream had moved on.
    fn record(
        &self,
        id: &CommandId,
        expected: Version,
        event: TransferEvent,
        causation: MessageId,
    ) -> Result<bool, DriveError> {
        let metadata = Metadata {
            correlation: id.clone(),
            causation,
        };
        let mut store = self.store.write().map_err(|_| DriveError::StorePoisoned)?;
        let stream = StreamId::Transfer(id.clone());
        let expected = ExpectedVersion::Exact(expected);
        let appended = store.append(
            &stream,
            expected,
            vec![Event::Transfer(event)],
            &metadata,
            None,
        );
        Ok(appended.is_ok())
    }
}

/// Whether a recorded event is the same answer to a step as `outcome`,
/// whatever the time of a refusal.
fn same_answer(recorded: &TransferEvent, outcome: &TransferEvent) -> bool {
    use TransferEvent::{StepRefused, StepSucceeded};
    match (recorded, outcome) {
        (StepSucceeded { step: a }, StepSucceeded { step: b }) => a == b,
        (
            StepRefused {
                step: a,
                refusal: x,
                ..
            },
            StepRefused {
                step: b,
                refusal: y,
                ..
            },
        ) => a == b && x == y,
        _ => false,
    }
}

/// The id of the event at `version` of a transfer's stream.
fn last_event(id: &CommandId, version: Version) -> MessageId {
    MessageId::Event(StreamId::Transfer(id.clone()), version)
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Rejected(error) => write!(f, "{error}"),
            Refusal::Busy => f.write_str("too many conflicting writers"),
        }
    }
}

impl fmt::Display for TransferOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransferOutcome::Completed => f.write_str("completed"),
            TransferOutcome::Refunded => f.write_str("refunded"),
            TransferOutcome::Rejected(error) => write!(f, "rejected: {error}"),
            TransferOutcome::Expired => f.write_str("expired before the debit"),
            TransferOutcome::Cancelled => f.write_str("cancelled"),
            TransferOutcome::NeedsAttention(error) => {
                write!(f, "needs attention: the refund was refused: {error}")
            }
        }
    }
}

impl fmt::Display for SubmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::ZeroAmount => f.write_str("the amount must not be zero"),
            SubmitError::SameAccount => f.write_str("a transfer needs two different accounts"),
            SubmitError::IdReused { id } => {
                write!(f, "the id {id} was already used for another command")
            }
            SubmitError::DeadlineOutOfRange => {
                f.write_str("the deadline would fall after the end of the clock")
            }
            SubmitError::StorePoisoned => f.write_str("the store's lock is poisoned"),
        }
    }
}

impl std::error::Error for SubmitError {}

impl fmt::Display for DriveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriveError::Stopped => f.write_str("stopped by the failure drill"),
            DriveError::StorePoisoned => f.write_str("the store's lock is poisoned"),
        }
    }
}

impl std::error::Error for DriveError {}
