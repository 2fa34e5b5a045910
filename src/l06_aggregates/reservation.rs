//! Set validation: a unique email across all accounts, enforced by claiming
//! the email in a reservation stream of its own, one stream per email.

use std::fmt;

use super::account::{AccountCommand, AccountError, AccountEvent};
use super::repository::{Account, Decider, Repository};
use super::store::{AppendError, Event, StreamId, Timestamp, Version};

// ANCHOR: email_stream
/// The reservation stream of an email: `email-` and the email trimmed and
/// lowercased, so that `Ada@Example.com ` and `ada@example.com` collide.
///
/// The email itself ends up in a stream id, which is personal data in a
/// place that is hard to erase; lesson 15 explains why a keyed hash of the
/// email would be the better key.
pub fn email_stream(email: &str) -> StreamId {
    StreamId::new(format!("email-{}", normalise_email(email)))
}

/// An email in the one form used for comparing: trimmed and lowercased.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}
// ANCHOR_END: email_stream

/// Something that happened to an email's reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailEvent {
    /// The email now belongs to `account`.
    EmailClaimed {
        /// The account that claimed it.
        account: StreamId,
    },
    /// `account` gave the email up; anyone may claim it again.
    EmailReleased {
        /// The account that held it.
        account: StreamId,
    },
}

/// Something asked of an email's reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailCommand {
    /// Claim the email for `account`.
    ClaimEmail {
        /// The account that wants it.
        account: StreamId,
    },
    /// Give the email up on behalf of `account`, which must hold it.
    ReleaseEmail {
        /// The account that holds it.
        account: StreamId,
    },
}

/// Who holds an email, if anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailState {
    /// Nobody: the email may be claimed.
    Free,
    /// `account` holds the email.
    Claimed {
        /// The holder.
        account: StreamId,
    },
}

/// Why a reservation refused a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailError {
    /// Another account holds the email.
    ClaimedByAnother {
        /// The account that holds it.
        account: StreamId,
    },
}

// ANCHOR: reservation
/// The email reservation decider: one stream per email, one rule (one holder
/// at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmailReservation;

impl Decider for EmailReservation {
    type Command = EmailCommand;
    type Event = EmailEvent;
    type State = EmailState;
    type Error = EmailError;

    fn initial_state() -> EmailState {
        EmailState::Free
    }

    fn evolve(_state: EmailState, event: &EmailEvent) -> EmailState {
        match event {
            EmailEvent::EmailClaimed { account } => EmailState::Claimed {
                account: account.clone(),
            },
            EmailEvent::EmailReleased { .. } => EmailState::Free,
        }
    }

    fn decide(command: &EmailCommand, state: &EmailState) -> Result<Vec<EmailEvent>, EmailError> {
        use EmailCommand::*;
        use EmailState::*;
        match (command, state) {
            (ClaimEmail { account }, Free) => Ok(vec![EmailEvent::EmailClaimed {
                account: account.clone(),
            }]),
            // Claiming again for the same account, or releasing an email that
            // is already free, changes nothing: retries are harmless.
            (ClaimEmail { account }, Claimed { account: holder }) if account == holder => {
                Ok(Vec::new())
            }
            (ReleaseEmail { .. }, Free) => Ok(Vec::new()),
            (ReleaseEmail { account }, Claimed { account: holder }) if account == holder => {
                Ok(vec![EmailEvent::EmailReleased {
                    account: account.clone(),
                }])
            }
            (_, Claimed { account: holder }) => Err(EmailError::ClaimedByAnother {
                account: holder.clone(),
            }),
        }
    }
}
// ANCHOR_END: reservation

impl Event for EmailEvent {
    fn event_type(&self) -> &'static str {
        match self {
            EmailEvent::EmailClaimed { .. } => "EmailClaimed",
            EmailEvent::EmailReleased { .. } => "EmailReleased",
        }
    }
}

/// Why a registration did not open its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationError {
    /// The account refused to open (blank owner, bad email, already opened).
    Rejected(AccountError),
    /// Another account holds the email, or claimed it first.
    EmailTaken {
        /// The email, normalised.
        email: String,
    },
    /// The account's stream moved on before the open was saved; the claim
    /// on the email was released again.
    Store(AppendError),
}

// ANCHOR: prepare
/// A registration that has been decided but not yet saved: both streams
/// loaded, both decisions made, nothing written.
///
/// Splitting the two halves lets a test put another writer between them,
/// which is exactly what a concurrent request would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    account: StreamId,
    account_version: Version,
    opened: Vec<AccountEvent>,
    email: String,
    email_version: Version,
    claimed: Vec<EmailEvent>,
}

impl Registration {
    /// Loads `account` and the reservation of `email`, and decides both the
    /// open and the claim. Reads only; writes nothing.
    ///
    /// # Errors
    ///
    /// [`RegistrationError::Rejected`] when the account refuses to open,
    /// [`RegistrationError::EmailTaken`] when another account holds the email.
    pub fn prepare(
        accounts: &Repository<Account>,
        emails: &Repository<EmailReservation>,
        account: &StreamId,
        owner: &str,
        email: &str,
    ) -> Result<Registration, RegistrationError> {
        let open = AccountCommand::OpenAccount {
            owner: owner.to_string(),
            email: email.to_string(),
        };
        let loaded_account = accounts.load(account);
        let opened =
            Account::decide(&open, &loaded_account.state).map_err(RegistrationError::Rejected)?;
        let email = normalise_email(email);
        let loaded_email = emails.load(&email_stream(&email));
        let claim = EmailCommand::ClaimEmail {
            account: account.clone(),
        };
        let claimed = EmailReservation::decide(&claim, &loaded_email.state).map_err(|_| {
            RegistrationError::EmailTaken {
                email: email.clone(),
            }
        })?;
        Ok(Registration {
            account: account.clone(),
            account_version: loaded_account.version,
            opened,
            email,
            email_version: loaded_email.version,
            claimed,
        })
    }

    // ANCHOR_END: prepare

    // ANCHOR: commit
    /// Saves the claim, then the open, each with the version it was decided
    /// on. If the open cannot be saved, the claim is released again.
    ///
    /// # Errors
    ///
    /// [`RegistrationError::EmailTaken`] when another claim reached the email
    /// first, [`RegistrationError::Store`] when the account's stream moved on.
    pub fn commit(
        self,
        accounts: &mut Repository<Account>,
        emails: &mut Repository<EmailReservation>,
        recorded_at: Timestamp,
    ) -> Result<Version, RegistrationError> {
        let reservation = email_stream(&self.email);
        // For an email never claimed, `email_version` is 0: the append
        // succeeds only if the reservation stream does not exist yet.
        emails
            .save(&reservation, self.email_version, self.claimed, recorded_at)
            .map_err(|_| RegistrationError::EmailTaken {
                email: self.email.clone(),
            })?;
        match accounts.save(
            &self.account,
            self.account_version,
            self.opened,
            recorded_at,
        ) {
            Ok(version) => Ok(version),
            Err(conflict) => {
                let release = EmailCommand::ReleaseEmail {
                    account: self.account,
                };
                // Best effort: if the release fails too, the claim is an
                // orphan that points at an account it never opened, and a
                // sweep of the reservations can free it later.
                let _ = emails.execute(&reservation, &release, recorded_at);
                Err(RegistrationError::Store(conflict))
            }
        }
    }
}

/// Opens `account` for `owner` with an `email` no other account holds:
/// [`Registration::prepare`], then [`Registration::commit`].
///
/// # Errors
///
/// As for [`Registration::prepare`] and [`Registration::commit`].
pub fn register(
    accounts: &mut Repository<Account>,
    emails: &mut Repository<EmailReservation>,
    account: &StreamId,
    owner: &str,
    email: &str,
    recorded_at: Timestamp,
) -> Result<Version, RegistrationError> {
    Registration::prepare(accounts, emails, account, owner, email)?.commit(
        accounts,
        emails,
        recorded_at,
    )
}
// ANCHOR_END: commit

impl fmt::Display for EmailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmailError::ClaimedByAnother { account } => {
                write!(f, "the email is held by {account}")
            }
        }
    }
}

impl std::error::Error for EmailError {}

impl fmt::Display for RegistrationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistrationError::Rejected(error) => error.fmt(f),
            RegistrationError::EmailTaken { email } => write!(f, "the email {email} is taken"),
            RegistrationError::Store(error) => write!(f, "not saved: {error}"),
        }
    }
}

impl std::error::Error for RegistrationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RegistrationError::Rejected(error) => Some(error),
            RegistrationError::EmailTaken { .. } => None,
            RegistrationError::Store(error) => Some(error),
        }
    }
}
