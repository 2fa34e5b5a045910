//! Exercises for lesson 11 — subscriptions.
//!
//! Each item below is a stub. Replace the `todo!()` at each `// TODO:` and
//! check your work with `cargo test --test l11_subscriptions -- --ignored`.

use crate::l11_subscriptions::{
    Cents, GapLog, Handler, HandlerError, MailServer, Position, RecordedEvent, Tx, Version,
};

/// One row of exercise 11.1's table: an account's large withdrawals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LargeWithdrawalRow {
    /// How many withdrawals of at least the threshold.
    pub count: u64,
    /// Their total.
    pub total: Cents,
    /// The version of the account's last withdrawal counted in the row.
    pub version: Version,
}

/// Exercise 11.1: a projection of the withdrawals of at least `threshold`
/// (inclusive), one row per account, created at the account's first such
/// withdrawal (an account with none has no row). It must be idempotent on
/// its own, without the subscription's checkpoint: handling an event a
/// second time changes nothing.
#[derive(Debug, Clone, Copy)]
pub struct LargeWithdrawals {
    /// The smallest amount that counts as large.
    pub threshold: Cents,
}

impl Handler for LargeWithdrawals {
    type Row = LargeWithdrawalRow;

    fn handle(
        &mut self,
        tx: &mut Tx<'_, LargeWithdrawalRow>,
        recorded: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        // TODO: count `MoneyWithdrawn` of at least `self.threshold`, once per event.
        let _ = (tx, recorded);
        todo!("exercise 11.1: a projection of large withdrawals, idempotent by itself")
    }
}

/// What exercise 11.2's reactor remembers about an open account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// The owner's name.
    pub owner: String,
    /// The owner's email address.
    pub email: String,
}

/// Exercise 11.2: a reactor that says goodbye when an account closes. Its
/// subscription starts from the beginning, so that it learns the address of
/// every account, old ones included; it keeps them as rows, so that they
/// are committed with its checkpoint. It sends an email only for a closing
/// recorded after `announce_after` (the end of the log when it was
/// deployed): `to` the account's address, subject `"Goodbye, <owner>"`, key
/// `DedupeKey::of("goodbye", recorded)`. Once an account is closed its row
/// is deleted, so the rows only ever hold open accounts. When the server is
/// down it fails with `HandlerError::Unavailable { service: "the mail
/// server" }`.
#[derive(Debug, Clone)]
pub struct GoodbyeMailer {
    /// Where it sends.
    pub server: MailServer,
    /// Closings at or before this position are not announced.
    pub announce_after: Position,
}

impl Handler for GoodbyeMailer {
    type Row = Contact;

    fn handle(
        &mut self,
        tx: &mut Tx<'_, Contact>,
        recorded: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        // TODO: remember contacts, and on `AccountClosed` send (if new enough) and forget.
        let _ = (tx, recorded);
        todo!(
            "exercise 11.2: a goodbye reactor that knows old addresses but announces only new closings"
        )
    }
}

/// Exercise 11.3 (stretch): a reader for a store with gaps that, like a
/// reader over a real database, cannot see inserts in flight: it may only
/// call [`GapLog::read_after`]. It hands out events in position order, each
/// once, and stops before a *hole* (a missing position with a visible one
/// above it), which may be an insert still in flight. It waits for a hole
/// through `patience` polls; the poll that finds the same hole missing for
/// the `patience + 1`-th time gives it up, steps over it, and carries on in
/// the same poll up to the next hole, whose count starts there: a run of
/// missing positions is waited for one position at a time, each for its
/// full patience, since each may be a transaction of its own. A position
/// given up is never read, even if it commits later.
#[derive(Debug, Clone)]
pub struct PatientReader {
    /// How many polls a hole is waited for.
    pub patience: u32,
    // TODO: add the fields you need (a checkpoint, a count for the hole).
}

impl PatientReader {
    /// A reader at `Position(0)`.
    pub fn new(patience: u32) -> Self {
        PatientReader { patience }
    }

    /// The position of the last event handed out or hole given up.
    pub fn checkpoint(&self) -> Position {
        todo!("exercise 11.3: a reader that infers the high-water mark from what it sees")
    }

    /// The events that can be handed out now, in position order.
    pub fn poll(&mut self, log: &GapLog) -> Vec<RecordedEvent> {
        let _ = log;
        todo!("exercise 11.3: a reader that infers the high-water mark from what it sees")
    }
}
