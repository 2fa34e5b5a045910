//! Reference solutions for the lesson 8 exercises.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::l08_concurrency::{
    AccountCommand, AccountEvent, AccountState, AppendError, Appended, Cents, CommandError,
    CommandId, CommandKey, Event, EventStore, ExpectedVersion, Fingerprint, Leg, Outcome, Position,
    RecordedEvent, SharedStore, StreamId, Timestamp, TransferError, Version, decide, evolve,
    execute_under, execute_with, initial_state,
};

/// Exercise 8.1: withdraws as much as the account holds, up to the limit
/// `limit()` looks up.
///
/// # Errors
///
/// As [`execute_with`].
pub fn withdraw_up_to(
    store: &SharedStore,
    stream: &StreamId,
    command_id: &CommandId,
    mut limit: impl FnMut() -> Cents,
    recorded_at: Timestamp,
) -> Result<Cents, CommandError> {
    // The amount depends on the balance and on the limit, so both are read
    // inside the closure, on every attempt. Working the amount out once
    // before calling `execute_with` would re-append a stale decision after a
    // conflict: exactly the blind retry this lesson warns about.
    //
    // The fingerprint is what the client asked for: "as much as you can".
    // The amount is not part of it, because it is decided, not requested.
    let fingerprint = Fingerprint::of(&"withdraw up to the limit");
    let mut withdrawn = Cents(0);
    let outcome = execute_with(
        store,
        stream,
        command_id,
        &fingerprint,
        recorded_at,
        |state| {
            let limit = limit();
            let amount = match state {
                AccountState::Open { balance } if balance.0 > 0 => (*balance).min(limit),
                // Anything else: let `decide` name the rule (NotOpened, Closed,
                // ZeroAmount, or InsufficientFunds on an empty account).
                _ => limit,
            };
            withdrawn = amount;
            decide(&AccountCommand::WithdrawMoney { amount }, state)
        },
    )?;
    match outcome {
        Outcome::Appended { .. } => Ok(withdrawn),
        // A duplicate answers what the first execution did, read back from
        // the event it recorded. An alternative is to keep a reply per key
        // next to the index, as HTTP idempotency keys often do.
        Outcome::AlreadyApplied { version } => {
            let guard = store.read().map_err(|_| CommandError::StorePoisoned)?;
            let index = usize::try_from(version.0.saturating_sub(1)).unwrap_or(usize::MAX);
            match guard.read_stream(stream).get(index).map(|r| &r.event) {
                Some(AccountEvent::MoneyWithdrawn { amount }) => Ok(*amount),
                _ => Ok(Cents(0)),
            }
        }
    }
}

/// The event of an email reservation stream: `account` holds the address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailClaimed {
    /// The account that holds the address.
    pub account: StreamId,
}

impl Event for EmailClaimed {
    fn event_type(&self) -> &'static str {
        "EmailClaimed"
    }
}

/// Why an email address could not be claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimError {
    /// Another account holds the address.
    Taken {
        /// The account that holds it.
        by: StreamId,
    },
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClaimError::Taken { by } => write!(f, "the email address is taken by {by}"),
        }
    }
}

impl std::error::Error for ClaimError {}

/// What another client does between one claim's read and its append.
type Between = Box<dyn Fn(&Reservations) + Send + Sync>;

/// The reservation streams, shared by every thread that signs accounts up.
/// Like a store behind a network, each call takes the lock for that call
/// only, so another claim can come between a read and an append.
#[derive(Default)]
pub struct Reservations {
    store: Mutex<EventStore<EmailClaimed>>,
    after_each_read: Option<Between>,
}

impl Reservations {
    /// Empty reservations.
    pub fn new() -> Self {
        Self::default()
    }

    /// Empty reservations that run `between` after each read, once the lock
    /// is released: a step another client takes just then. Tests use it to
    /// put a second claim between a claim's read and its append.
    pub fn with_step_after_each_read(
        between: impl Fn(&Reservations) + Send + Sync + 'static,
    ) -> Self {
        Reservations {
            store: Mutex::default(),
            after_each_read: Some(Box::new(between)),
        }
    }

    /// The events of one stream, oldest first.
    pub fn read_stream(&self, stream: &StreamId) -> Vec<RecordedEvent<EmailClaimed>> {
        let events = self
            .lock()
            .read_stream(stream)
            .into_iter()
            .cloned()
            .collect();
        self.after_read();
        events
    }

    /// Every event, in the order of the log.
    pub fn read_all(&self) -> Vec<RecordedEvent<EmailClaimed>> {
        let events = self.lock().read_all(Position(0)).to_vec();
        self.after_read();
        events
    }

    /// Appends as [`EventStore::append`] does, without a command key.
    ///
    /// # Errors
    ///
    /// As [`EventStore::append`].
    pub fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<EmailClaimed>,
        recorded_at: Timestamp,
    ) -> Result<Appended, AppendError> {
        self.lock()
            .append(stream, expected, events, recorded_at, None)
    }

    fn lock(&self) -> MutexGuard<'_, EventStore<EmailClaimed>> {
        // A claim that panicked left no half-made append behind: `append`
        // changes the store in one step. So the store is still sound.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn after_read(&self) {
        if let Some(between) = &self.after_each_read {
            between(self);
        }
    }
}

/// Exercise 8.2: claims `email` for `account` in a reservation stream.
///
/// # Errors
///
/// [`ClaimError::Taken`] when another account holds the address.
pub fn claim_email(
    reservations: &Reservations,
    email: &str,
    account: &StreamId,
    recorded_at: Timestamp,
) -> Result<(), ClaimError> {
    // One stream per address makes the address its own consistency
    // boundary: `NoStream` lets exactly one first append through, however
    // many accounts race for it. Reading first and appending with `Any` if
    // the stream looked empty would let a claim that lands in between be
    // overwritten: both clients would be told they won. Reading first is
    // fine as long as the append still says `NoStream` (or `Exact` of what
    // was read). A real system would hash the address rather than put
    // personal data in a stream id (lesson 15), and would release the claim
    // when the account closes.
    let stream = StreamId::new(format!("email-{}", email.trim().to_lowercase()));
    let claimed = EmailClaimed {
        account: account.clone(),
    };
    match reservations.append(
        &stream,
        ExpectedVersion::NoStream,
        vec![claimed],
        recorded_at,
    ) {
        Ok(_) => Ok(()),
        // Without a command key, a version conflict is the only refusal.
        Err(AppendError::VersionConflict { .. } | AppendError::IdempotencyKeyReused { .. }) => {
            // The stream exists, and claims are never taken back, so its
            // first event names the holder.
            let holder = reservations
                .read_stream(&stream)
                .first()
                .map(|r| r.event.account.clone());
            match holder {
                Some(by) if &by == account => Ok(()),
                Some(by) => Err(ClaimError::Taken { by }),
                // Unreachable with this store: a conflict on NoStream means
                // the stream has an event. Refusing is the safe answer.
                None => Err(ClaimError::Taken { by: stream }),
            }
        }
    }
}

/// Something an audit of the whole store found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A withdrawal took more than the balance before it.
    Overdraft {
        /// The account.
        stream: StreamId,
        /// The version of the withdrawal.
        version: Version,
    },
    /// An event that does not fit the account's state.
    DoesNotFit {
        /// The account.
        stream: StreamId,
        /// The version of the event.
        version: Version,
    },
}

/// Exercise 8.3: reports every event that breaks an account rule.
pub fn audit(store: &EventStore<AccountEvent>) -> Vec<Finding> {
    // One pass over the log with a state per stream: a projection, like the
    // read models of lesson 3. Replaying each stream with `find_overdraft`
    // would work too, but needs the list of streams first and reports in
    // stream order rather than log order.
    let mut states: BTreeMap<&StreamId, AccountState> = BTreeMap::new();
    let mut findings = Vec::new();
    for recorded in store.read_all(Position(0)) {
        let state = states.entry(&recorded.stream).or_insert_with(initial_state);
        let finding = match (*state, &recorded.event) {
            (AccountState::NotOpened, AccountEvent::AccountOpened { .. }) => None,
            (AccountState::Open { balance }, AccountEvent::MoneyWithdrawn { amount })
                if *amount > balance =>
            {
                Some(Finding::Overdraft {
                    stream: recorded.stream.clone(),
                    version: recorded.version,
                })
            }
            (AccountState::Open { .. }, AccountEvent::AccountOpened { .. })
            | (AccountState::NotOpened | AccountState::Closed, _) => Some(Finding::DoesNotFit {
                stream: recorded.stream.clone(),
                version: recorded.version,
            }),
            (AccountState::Open { .. }, _) => None,
        };
        findings.extend(finding);
        *state = evolve(*state, &recorded.event);
    }
    findings
}

/// How a settled transfer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// The money reached the destination.
    Completed,
    /// The destination refused the deposit, so the money went back to the
    /// source.
    Refunded,
}

/// Exercise 8.4: a transfer that refunds the source when the destination
/// refuses the deposit.
///
/// # Errors
///
/// [`TransferError::NotWithdrawn`] when nothing moved, and
/// [`TransferError::NotDeposited`] when neither the deposit nor the refund
/// could be made.
pub fn settle_transfer(
    store: &SharedStore,
    from: &StreamId,
    to: &StreamId,
    amount: Cents,
    transfer_id: &CommandId,
    recorded_at: Timestamp,
) -> Result<Settlement, TransferError> {
    let fingerprint = Fingerprint::of(&("settle transfer", from, to, amount));
    let leg = |leg| CommandKey::Transfer(transfer_id.clone(), leg);
    let withdraw = AccountCommand::WithdrawMoney { amount };
    let deposit = AccountCommand::DepositMoney { amount };
    let pay_into = |account: &StreamId| {
        execute_under(
            store,
            account,
            &leg(Leg::Deposit),
            &fingerprint,
            recorded_at,
            |state| decide(&deposit, state),
        )
    };

    execute_under(
        store,
        from,
        &leg(Leg::Withdraw),
        &fingerprint,
        recorded_at,
        |state| decide(&withdraw, state),
    )
    .map_err(TransferError::NotWithdrawn)?;

    // The deposit and the refund are two ways to finish the same leg, so
    // they are recorded under the same key. The store takes a key once, in
    // the same step as the append, so whichever lands first settles the
    // transfer and the other is refused as a reused key. Checking "was it
    // refunded?" and then depositing would leave a gap in which an
    // overlapping retry refunds, and the money would then exist twice.
    // Lesson 12 gives the transfer a stream of its own instead, which also
    // works with stores whose idempotency is per stream.
    match pay_into(to) {
        Ok(_) => Ok(Settlement::Completed),
        // The key is on the source: an earlier attempt paid the money back.
        Err(CommandError::IdempotencyKeyReused { .. }) => Ok(Settlement::Refunded),
        Err(CommandError::Rejected(_)) => match pay_into(from) {
            // The compensation is a new fact, not an undo: the source's
            // history shows the withdrawal and the refund.
            Ok(_) => Ok(Settlement::Refunded),
            // An overlapping retry's deposit landed in between.
            Err(CommandError::IdempotencyKeyReused { .. }) => Ok(Settlement::Completed),
            Err(error) => Err(TransferError::NotDeposited(error)),
        },
        // A conflict storm or a poisoned lock: the money is in flight, and a
        // retry with the same id resumes from here.
        Err(error) => Err(TransferError::NotDeposited(error)),
    }
}
