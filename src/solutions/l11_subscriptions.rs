//! Reference solutions for the lesson 11 exercises.

use crate::l11_subscriptions::{
    AccountEvent, Cents, DedupeKey, Email, GapLog, Handler, HandlerError, MailServer, Position,
    RecordedEvent, Tx, Version,
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

/// Exercise 11.1: a projection of large withdrawals.
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
        // Only large withdrawals touch the table, so the row's version is
        // that of the last *large withdrawal*, not of the account's last
        // event; the guard works all the same, since versions grow within
        // an account. The subscription's checkpoint already skips repeats;
        // the guard makes the handler safe under any delivery, such as a
        // broker's redelivery or a replay through a different subscriber.
        // Storing a set of counted positions instead would work too, but it
        // grows with every event.
        let AccountEvent::MoneyWithdrawn { amount } = recorded.event else {
            return Ok(());
        };
        if amount < self.threshold {
            return Ok(());
        }
        let row = tx.get(&recorded.stream).cloned();
        if row
            .as_ref()
            .is_some_and(|row| row.version >= recorded.version)
        {
            return Ok(());
        }
        let (count, total) = row.map_or((0, 0), |row| (row.count, row.total.0));
        let row = LargeWithdrawalRow {
            count: count + 1,
            total: Cents(total.saturating_add(amount.0)),
            version: recorded.version,
        };
        tx.put(recorded.stream.clone(), row);
        Ok(())
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

/// Exercise 11.2: a goodbye reactor.
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
        // Starting from the beginning with a position to announce after is
        // lesson 3's "start at the end, but read the history silently",
        // with the history's knowledge kept in rows committed with the
        // checkpoint, so a restart needs no second silent pass. Starting at
        // the end instead would leave every account opened before the
        // deployment without an address. Deleting the row on closing keeps
        // the rows bounded by the open accounts; the row goes only in the
        // same commit as the checkpoint past the closing, so a crash before
        // that commit still finds the address and sends again, under the
        // same key.
        match &recorded.event {
            AccountEvent::AccountOpened { owner, email } => {
                let contact = Contact {
                    owner: owner.clone(),
                    email: email.clone(),
                };
                tx.put(recorded.stream.clone(), contact);
                Ok(())
            }
            AccountEvent::AccountClosed => {
                let Some(contact) = tx.get(&recorded.stream).cloned() else {
                    return Ok(());
                };
                if recorded.position > self.announce_after {
                    let email = Email {
                        key: DedupeKey::of("goodbye", recorded),
                        to: contact.email,
                        subject: format!("Goodbye, {}", contact.owner),
                    };
                    self.server
                        .send(email)
                        .map_err(|_| HandlerError::Unavailable {
                            service: "the mail server".to_string(),
                        })?;
                }
                tx.delete(&recorded.stream);
                Ok(())
            }
            AccountEvent::MoneyDeposited { .. } | AccountEvent::MoneyWithdrawn { .. } => Ok(()),
        }
    }
}

/// Exercise 11.3: a reader that infers the high-water mark.
#[derive(Debug, Clone)]
pub struct PatientReader {
    /// How many polls a hole is waited for.
    pub patience: u32,
    checkpoint: Position,
    /// How many polls have found the hole right after the checkpoint.
    waited: u32,
}

impl PatientReader {
    /// A reader at `Position(0)`.
    pub fn new(patience: u32) -> Self {
        PatientReader {
            patience,
            checkpoint: Position(0),
            waited: 0,
        }
    }

    /// The position of the last event handed out or hole given up.
    pub fn checkpoint(&self) -> Position {
        self.checkpoint
    }

    /// The events that can be handed out now, in position order.
    pub fn poll(&mut self, log: &GapLog) -> Vec<RecordedEvent> {
        // This is what a reader of a PostgreSQL table must do when it cannot
        // ask which transactions are still open: a hole might be an insert
        // in flight or one rolled back, and only waiting tells them apart,
        // never for sure. Patience counted in polls keeps the exercise
        // deterministic; a real reader waits for a time, from an injected
        // clock. Too little patience skips slow commits for good; too much
        // holds every subscriber back behind each rollback.
        let mut out = Vec::new();
        for recorded in log.read_after(self.checkpoint) {
            while recorded.position.0 > self.checkpoint.0 + 1 {
                // A hole right after the checkpoint, with this event above it.
                if self.waited < self.patience {
                    self.waited += 1;
                    return out;
                }
                self.checkpoint = Position(self.checkpoint.0 + 1);
                self.waited = 0;
            }
            self.checkpoint = recorded.position;
            self.waited = 0;
            out.push(recorded);
        }
        out
    }
}
