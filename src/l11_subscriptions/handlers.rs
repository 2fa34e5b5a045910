//! The lesson's two handlers on the bank account events: a projection (the
//! balances table) and a reactor (a welcome email), with the mail server
//! the reactor talks to, standing in for the world outside the log.

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};

use super::log::{AccountEvent, Cents, RecordedEvent, Version, lock};
use super::view::{Handler, HandlerError, Tx};

// ANCHOR: balances
/// One row of the balances table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceRow {
    /// The owner's name.
    pub owner: String,
    /// The money in the account.
    pub balance: Cents,
    /// Whether the account is closed.
    pub closed: bool,
    /// The version of the last event of this account folded into the row.
    pub version: Version,
}

/// A projection: one row per account with its balance.
#[derive(Debug, Clone, Copy, Default)]
pub struct Balances;

impl Handler for Balances {
    type Row = BalanceRow;

    fn handle(
        &mut self,
        tx: &mut Tx<'_, BalanceRow>,
        recorded: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        let account = &recorded.stream;
        // Idempotent on its own, not only thanks to the checkpoint: an event
        // at or below the row's version is already in the row.
        let row = tx.get(account).cloned();
        if row
            .as_ref()
            .is_some_and(|row| row.version >= recorded.version)
        {
            return Ok(());
        }
        let row = match (&recorded.event, row) {
            (AccountEvent::AccountOpened { owner, .. }, _) => BalanceRow {
                owner: owner.clone(),
                balance: Cents(0),
                closed: false,
                version: recorded.version,
            },
            (AccountEvent::MoneyDeposited { amount }, Some(row)) => BalanceRow {
                balance: Cents(row.balance.0.saturating_add(amount.0)),
                version: recorded.version,
                ..row
            },
            (AccountEvent::MoneyWithdrawn { amount }, Some(row)) => BalanceRow {
                balance: Cents(row.balance.0.saturating_sub(amount.0)),
                version: recorded.version,
                ..row
            },
            (AccountEvent::AccountClosed, Some(row)) => BalanceRow {
                closed: true,
                version: recorded.version,
                ..row
            },
            // The write side never records these before `AccountOpened`;
            // with no row to change, there is nothing to do.
            (_, None) => return Ok(()),
        };
        tx.put(account.clone(), row);
        Ok(())
    }
}
// ANCHOR_END: balances

// ANCHOR: email
/// A key that is the same every time the same effect is attempted, and
/// different for every other effect: the name of the effect, the account,
/// and the version of the event that caused it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedupeKey(String);

impl DedupeKey {
    /// The key of the effect `effect` (such as `"welcome"`) of `recorded`.
    pub fn of(effect: &str, recorded: &RecordedEvent) -> Self {
        DedupeKey(format!("{effect}/{}/{}", recorded.stream, recorded.version))
    }
}

/// An email, as handed to the mail server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// Lets the mail server drop a repeat of an email it already took.
    pub key: DedupeKey,
    /// The address.
    pub to: String,
    /// The subject line.
    pub subject: String,
}

/// Why the mail server did not take an email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailError {
    /// The server is down.
    Unavailable,
}

/// The mail server: the outside world, which the log cannot roll back. It
/// delivers each dedupe key once, however often it is sent. A handle is
/// cheap to clone; clones share the same server.
#[derive(Debug, Clone, Default)]
pub struct MailServer {
    inner: Arc<Mutex<Mailbox>>,
}

#[derive(Debug, Default)]
struct Mailbox {
    down: bool,
    attempts: usize,
    seen: HashSet<DedupeKey>,
    delivered: Vec<Email>,
}

impl MailServer {
    /// A server that is up and has delivered nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes an email: delivers it unless its key was delivered before.
    ///
    /// # Errors
    ///
    /// [`MailError::Unavailable`] while the server is down.
    pub fn send(&self, email: Email) -> Result<(), MailError> {
        let mut mailbox = lock(&self.inner);
        if mailbox.down {
            return Err(MailError::Unavailable);
        }
        mailbox.attempts += 1;
        if mailbox.seen.insert(email.key.clone()) {
            mailbox.delivered.push(email);
        }
        Ok(())
    }

    /// Takes the server down (`true`) or brings it back up (`false`).
    pub fn set_down(&self, down: bool) {
        lock(&self.inner).down = down;
    }

    /// Every email delivered, in the order delivered, each key once.
    pub fn delivered(&self) -> Vec<Email> {
        lock(&self.inner).delivered.clone()
    }

    /// How many emails were taken, repeats included.
    pub fn attempts(&self) -> usize {
        lock(&self.inner).attempts
    }
}
// ANCHOR_END: email

// ANCHOR: welcome
/// A reactor: it welcomes each new customer by email. It keeps no rows;
/// its subscription stores only a checkpoint. The log is its outbox: what
/// is still to send is the log after the checkpoint, and what was sent is
/// that one position, so there is no queue to drain and nothing that grows.
#[derive(Debug, Clone)]
pub struct WelcomeMailer {
    server: MailServer,
}

impl WelcomeMailer {
    /// A mailer that sends through `server`.
    pub fn new(server: MailServer) -> Self {
        WelcomeMailer { server }
    }
}

impl Handler for WelcomeMailer {
    type Row = ();

    fn handle(
        &mut self,
        _tx: &mut Tx<'_, ()>,
        recorded: &RecordedEvent,
    ) -> Result<(), HandlerError> {
        let AccountEvent::AccountOpened { owner, email } = &recorded.event else {
            return Ok(());
        };
        let email = Email {
            key: DedupeKey::of("welcome", recorded),
            to: email.clone(),
            subject: format!("Welcome, {owner}"),
        };
        self.server
            .send(email)
            .map_err(|MailError::Unavailable| HandlerError::Unavailable {
                service: "the mail server".to_string(),
            })
    }
}
// ANCHOR_END: welcome

impl fmt::Display for DedupeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for MailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailError::Unavailable => f.write_str("the mail server is unavailable"),
        }
    }
}

impl std::error::Error for MailError {}
