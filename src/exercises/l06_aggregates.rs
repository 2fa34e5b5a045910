//! Exercises for lesson 6 — aggregates.
//!
//! Each function below is a stub. Replace each `todo!()` with your code and
//! check your work with `cargo test --test l06_aggregates -- --ignored`.

use std::collections::BTreeSet;

use crate::l06_aggregates::{
    Account, AccountError, AccountEvent, AccountState, CommandError, EmailError, EmailReservation,
    Repository, StreamId, Timestamp, Version,
};

// Used by the solutions, not yet by the stubs.
#[allow(unused_imports)]
use crate::l06_aggregates::{
    AccountCommand, EmailCommand, EmailState, Position, email_stream, normalise_email,
};

/// Exercise 6.1: decides the command "pay out the balance and close", which
/// empties an open account and closes it in one decision.
///
/// An open account with money in it records `MoneyWithdrawn` of its whole
/// balance, then `AccountClosed`; an open account at zero records only
/// `AccountClosed`. An account that is not opened, or already closed, is
/// refused as `CloseAccount` would be.
///
/// # Errors
///
/// [`AccountError::NotOpened`] or [`AccountError::Closed`].
pub fn decide_pay_out_and_close(state: &AccountState) -> Result<Vec<AccountEvent>, AccountError> {
    // Your code here.
    let _ = state;
    todo!("exercise 6.1: pay out the balance and close")
}

/// Exercise 6.2: the reservation stream of an email, keyed by a hash of the
/// email instead of the email itself, so that no address appears in a
/// stream id: `email-` followed by the 64-bit FNV-1a hash of the normalised
/// email (trimmed, lowercased) as 16 lowercase hex digits.
///
/// FNV-1a: start from `0xcbf29ce484222325`; for each byte, XOR it into the
/// hash, then multiply (wrapping) by `0x100000001b3`.
pub fn hashed_email_stream(email: &str) -> StreamId {
    // Your code here.
    let _ = email;
    todo!("exercise 6.2: a hashed reservation key")
}

/// Exercise 6.3: closes `account` and frees its email for a new customer;
/// returns the account's new version.
///
/// Release the reservation only if this account holds it. An account that
/// is already closed still releases its email, so that a retry after a
/// crash between the two steps finishes the job.
///
/// # Errors
///
/// The close's [`CommandError`], other than [`AccountError::Closed`];
/// nothing is released then.
pub fn close_and_release_email(
    accounts: &mut Repository<Account>,
    emails: &mut Repository<EmailReservation>,
    account: &StreamId,
    recorded_at: Timestamp,
) -> Result<Version, CommandError<AccountError>> {
    // Your code here.
    let _ = (accounts, emails, account, recorded_at);
    todo!("exercise 6.3: close an account and release its email")
}

/// Exercise 6.4: releases every *orphan* claim recorded before
/// `claimed_before`, and returns the reservation streams it released.
///
/// A claim is an orphan when the account that holds it was never opened
/// with that email (compared normalised): the registration died between the
/// claim and the open, or the account was opened with another email. A
/// claim's age is the time of the claim that stands now, not of an earlier
/// one the email had before a release. Claims recorded at or after
/// `claimed_before` are left alone, since their registration may still be
/// on its way to saving the open. Releases are recorded at `now`.
///
/// # Errors
///
/// The [`CommandError`] of a release that could not be saved.
pub fn sweep_orphan_claims(
    accounts: &Repository<Account>,
    emails: &mut Repository<EmailReservation>,
    claimed_before: Timestamp,
    now: Timestamp,
) -> Result<BTreeSet<StreamId>, CommandError<EmailError>> {
    // Your code here.
    let _ = (accounts, emails, claimed_before, now);
    todo!("exercise 6.4: sweep orphan claims")
}
