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
    /// The account's stream moved on before the open was saved.
    Store(AppendError),
}

/// A registration that has been decided but not yet saved: both streams
/// loaded, both decisions made, nothing written.
///
/// A registration is three steps, [`prepare`](Registration::prepare),
/// [`claim`](Registration::claim) and [`Claimed::open`], so that a test can
/// put another writer between any two of them, as a concurrent request
/// would; [`register`] runs all three.
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

    /// Saves the claim on the email, with the version it was decided on.
    ///
    /// # Errors
    ///
    /// [`RegistrationError::EmailTaken`] when another claim reached the email
    /// first.
    pub fn claim(
        self,
        emails: &mut Repository<EmailReservation>,
        recorded_at: Timestamp,
    ) -> Result<Claimed, RegistrationError> {
        // A claim that changes nothing (the email is already this account's,
        // from an earlier attempt) is not this attempt's claim.
        let made_claim = !self.claimed.is_empty();
        // For an email never claimed, `email_version` is 0: the append
        // succeeds only if the reservation stream does not exist yet.
        let version = emails
            .save(
                &email_stream(&self.email),
                self.email_version,
                self.claimed,
                recorded_at,
            )
            .map_err(|_| RegistrationError::EmailTaken {
                email: self.email.clone(),
            })?;
        Ok(Claimed {
            account: self.account,
            account_version: self.account_version,
            opened: self.opened,
            email: self.email,
            made_claim_at: made_claim.then_some(version),
        })
    }
}

/// A registration whose email is claimed for its account, by this attempt
/// or an earlier one, and whose account is not opened yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    account: StreamId,
    account_version: Version,
    opened: Vec<AccountEvent>,
    email: String,
    /// The reservation's version after this attempt's own claim; `None`
    /// when the claim was an earlier attempt's.
    made_claim_at: Option<Version>,
}

impl Claimed {
    /// Saves the open. If that fails, releases the claim only if this
    /// attempt made it and the account was not opened with this email.
    ///
    /// # Errors
    ///
    /// [`RegistrationError::Store`] when the account's stream moved on.
    pub fn open(
        self,
        accounts: &mut Repository<Account>,
        emails: &mut Repository<EmailReservation>,
        recorded_at: Timestamp,
    ) -> Result<Version, RegistrationError> {
        let saved = accounts.save(
            &self.account,
            self.account_version,
            self.opened,
            recorded_at,
        );
        let conflict = match saved {
            Ok(version) => return Ok(version),
            Err(conflict) => conflict,
        };
        // Reading the account's stream is safe: its first event never changes.
        if let Some(claimed_at) = self.made_claim_at
            && !opened_with(accounts, &self.account, &self.email)
        {
            // Expecting this attempt's own claim's version: refused if
            // anything happened since. If it fails, the claim is an orphan.
            let released = vec![EmailEvent::EmailReleased {
                account: self.account,
            }];
            let _ = emails.save(
                &email_stream(&self.email),
                claimed_at,
                released,
                recorded_at,
            );
        }
        Err(RegistrationError::Store(conflict))
    }
}

/// Whether `account`'s stream opens with the (normalised) `email`.
fn opened_with(accounts: &Repository<Account>, account: &StreamId, email: &str) -> bool {
    accounts
        .store()
        .read_stream(account)
        .first()
        .is_some_and(|recorded| match &recorded.event {
            AccountEvent::AccountOpened { email: opened, .. } => normalise_email(opened) == email,
            _ => false,
        })
}

// ANCHOR: register
/// Opens `account` for `owner` with an `email` no other account holds:
/// [`Registration::prepare`], [`Registration::claim`], [`Claimed::open`].
///
/// # Errors
///
/// As for the three steps.
pub fn register(
    accounts: &mut Repository<Account>,
    emails: &mut Repository<EmailReservation>,
    account: &StreamId,
    owner: &str,
    email: &str,
    recorded_at: Timestamp,
) -> Result<Version, RegistrationError> {
    Registration::prepare(accounts, emails, account, owner, email)?
        .claim(emails, recorded_at)?
        .open(accounts, emails, recorded_at)
}
// ANCHOR_END: register

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
