//! Reference solutions for the lesson 6 exercises.

use std::collections::BTreeSet;

use crate::l06_aggregates::{
    Account, AccountCommand, AccountError, AccountEvent, AccountState, CommandError, EmailCommand,
    EmailError, EmailReservation, EmailState, Position, Repository, StreamId, Timestamp, Version,
    email_stream, normalise_email,
};

/// Exercise 6.1: pay out the balance and close, in one decision.
pub fn decide_pay_out_and_close(state: &AccountState) -> Result<Vec<AccountEvent>, AccountError> {
    // One command, two facts: the money left, then the account closed. Both
    // are appended together or not at all, so no reader ever sees an account
    // that was emptied by this command but not closed. Another way is to
    // call `decide` twice (withdraw, then close on the evolved state), which
    // reuses the existing rules at the price of a longer function.
    match state {
        AccountState::NotOpened => Err(AccountError::NotOpened),
        AccountState::Closed => Err(AccountError::Closed),
        AccountState::Open { balance } if balance.0 == 0 => Ok(vec![AccountEvent::AccountClosed]),
        AccountState::Open { balance } => Ok(vec![
            AccountEvent::MoneyWithdrawn { amount: *balance },
            AccountEvent::AccountClosed,
        ]),
    }
}

/// Exercise 6.2: a reservation stream keyed by a hash of the email.
pub fn hashed_email_stream(email: &str) -> StreamId {
    // FNV-1a is small and stable, which is all a key needs, but it is not a
    // secret: anyone can hash a list of likely emails and look for matches.
    // A production system uses a keyed hash (HMAC-SHA-256 with a secret
    // kept outside the event store), and lesson 15 adds the erasure story.
    let hash = normalise_email(email)
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    StreamId::new(format!("email-{hash:016x}"))
}

/// Exercise 6.3: close an account and free its email.
pub fn close_and_release_email(
    accounts: &mut Repository<Account>,
    emails: &mut Repository<EmailReservation>,
    account: &StreamId,
    recorded_at: Timestamp,
) -> Result<Version, CommandError<AccountError>> {
    // Close first: if the account refuses (money left), the email stays
    // claimed. The other order would free the email of an account that
    // stays open. An account that is already closed goes on to the release:
    // the close and the release are two streams, and if the process died
    // between them, only a retry of the whole step frees the email.
    let version = match accounts.execute(account, &AccountCommand::CloseAccount, recorded_at) {
        Ok(version) => version,
        Err(CommandError::Rejected(AccountError::Closed)) => accounts.load(account).version,
        Err(error) => return Err(error),
    };
    // The email is in the first event. Keeping it in `AccountState` would
    // also work, but state is for decisions, and no rule reads the email.
    let opened_with = accounts
        .store()
        .read_stream(account)
        .first()
        .and_then(|recorded| match &recorded.event {
            AccountEvent::AccountOpened { email, .. } => Some(email_stream(email)),
            _ => None,
        });
    if let Some(reservation) = opened_with {
        let release = EmailCommand::ReleaseEmail {
            account: account.clone(),
        };
        match emails.execute(&reservation, &release, recorded_at) {
            // Someone else's claim is theirs to keep.
            Ok(_) | Err(CommandError::Rejected(EmailError::ClaimedByAnother { .. })) => {}
            Err(CommandError::Store(error)) => return Err(CommandError::Store(error)),
        }
    }
    Ok(version)
}

/// Exercise 6.4: release the old orphan claims.
pub fn sweep_orphan_claims(
    accounts: &Repository<Account>,
    emails: &mut Repository<EmailReservation>,
    claimed_before: Timestamp,
    now: Timestamp,
) -> Result<BTreeSet<StreamId>, CommandError<EmailError>> {
    // Reading the whole reservation log on every sweep is fine for a nightly
    // job; a sweeper that runs often would keep a read model of pending
    // claims instead, fed from a subscription (lesson 11). The grace period
    // matters: without it, the sweep races registrations that have saved
    // their claim and are about to save their open.
    let streams: BTreeSet<StreamId> = emails
        .store()
        .read_all(Position(0))
        .iter()
        .map(|recorded| recorded.stream.clone())
        .collect();
    let mut released = BTreeSet::new();
    for stream in streams {
        let EmailState::Claimed { account } = emails.load(&stream).state else {
            continue;
        };
        let claimed_at = emails
            .store()
            .read_stream(&stream)
            .last()
            .map_or(now, |recorded| recorded.recorded_at);
        if claimed_at >= claimed_before || opened_with(accounts, &account, &stream) {
            continue;
        }
        let release = EmailCommand::ReleaseEmail { account };
        emails.execute(&stream, &release, now)?;
        released.insert(stream);
    }
    Ok(released)
}

/// Whether `account` was opened with the email whose reservation is `stream`.
fn opened_with(accounts: &Repository<Account>, account: &StreamId, stream: &StreamId) -> bool {
    // `decide` only ever records `AccountOpened` as a stream's first event.
    accounts
        .store()
        .read_stream(account)
        .first()
        .is_some_and(|recorded| match &recorded.event {
            AccountEvent::AccountOpened { email, .. } => email_stream(email) == *stream,
            _ => false,
        })
}
